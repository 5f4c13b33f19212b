package main

import (
	"strings"
	"testing"

	"github.com/tasklist/tasklist/internal/cache/memcache"
	"github.com/tasklist/tasklist/internal/testenv"
)

// TestCacheLayers: TASKLIST_CACHE_LAYERS=none leaves memcached untouched
// (nothing stored, not even a connection from the app's cache), while any
// layer stores there; an unknown layer stops start-up naming it.
func TestCacheLayers(t *testing.T) {
	for _, tt := range []struct {
		layers    string
		wantItems bool
	}{
		{"none", false},
		{"page", true},
		{"query,fragment", true},
	} {
		t.Run(tt.layers, func(t *testing.T) {
			mc := testenv.StartMemcached(t, testenv.MemcachedOptions{})
			var logs testenv.LockedBuffer
			base, stop, done := start(t, map[string]string{
				"TASKLIST_ADDR":         "127.0.0.1:0",
				"DATABASE_URL":          testenv.SQLiteURL(t, "layers.db"),
				"MEMCACHE_SERVERS":      mc.Addr(),
				"TASKLIST_CACHE_LAYERS": tt.layers,
			}, &logs)
			addTask(t, base, "a task")
			if body := get(t, base+"/"); !strings.Contains(body, "a task") {
				t.Errorf("page lacks the task")
			}
			stop()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			client, err := memcache.New(memcache.Options{Servers: []string{mc.Addr()}})
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			st, err := client.Stats(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if got := st[0].Items > 0; got != tt.wantItems {
				t.Errorf("memcached holds %d items after a write and a read, want items: %v", st[0].Items, tt.wantItems)
			}
			if !strings.Contains(logs.String(), "layers="+tt.layers) {
				t.Errorf("start-up log does not name the layers:\n%s", logs.String())
			}
		})
	}
	err := runToEnd(t, nil, envOf(map[string]string{"TASKLIST_CACHE_LAYERS": "query,pages"}), nil, &testenv.LockedBuffer{})
	if err == nil || !strings.Contains(err.Error(), `"pages"`) {
		t.Errorf("unknown layer: run = %v, want an error naming it", err)
	}
}
