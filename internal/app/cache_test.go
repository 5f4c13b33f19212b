package app_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/app"
	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/stats"
	"github.com/tasklist/tasklist/internal/testenv"
)

// TestHealthzLeavesCacheStatsAlone: /healthz checks the cache without
// reading a key, so the hits, misses and other counts the dashboard shows
// stay as they were, on every backend, with the cache up or down.
func TestHealthzLeavesCacheStatsAlone(t *testing.T) {
	const user, password = "tasklist", "healthz-password"
	tests := []struct {
		name      string
		env       func(t *testing.T) (map[string]string, *testenv.Memcached)
		stop      bool // stop the memcached before asking /healthz
		wantCache string
	}{
		{"local", func(*testing.T) (map[string]string, *testenv.Memcached) { return nil, nil }, false, "up"},
		{"memcache", func(t *testing.T) (map[string]string, *testenv.Memcached) {
			mc := testenv.StartMemcached(t, testenv.MemcachedOptions{})
			return map[string]string{"MEMCACHE_SERVERS": mc.Addr()}, mc
		}, false, "up"},
		{"memcache stopped", func(t *testing.T) (map[string]string, *testenv.Memcached) {
			mc := testenv.StartMemcached(t, testenv.MemcachedOptions{})
			return map[string]string{"MEMCACHE_SERVERS": mc.Addr()}, mc
		}, true, "down"},
		{"memcache+sasl", func(t *testing.T) (map[string]string, *testenv.Memcached) {
			mc := testenv.StartMemcached(t, testenv.MemcachedOptions{Username: user, Password: password})
			return map[string]string{"MEMCACHIER_SERVERS": mc.Addr(), "MEMCACHIER_USERNAME": user, "MEMCACHIER_PASSWORD": password}, mc
		}, false, "up"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, mc := tt.env(t)
			if env == nil {
				env = map[string]string{}
			}
			// Generous, so that a loaded machine does not make a live
			// server look down.
			env["TASKLIST_CACHE_TIMEOUT"] = "10s"
			a := newApp(t, env, app.Options{})
			c := a.Cache()
			// Some traffic first, so that the counts are not all zero.
			c.Get(t.Context(), "absent")
			c.Set(t.Context(), cache.Item{Key: "present", Value: []byte("v")})
			c.Get(t.Context(), "present")
			before := counts(t, c)
			if tt.stop {
				mc.Stop()
			}

			want := `"cache":{"status":"` + tt.wantCache + `"}`
			for range 3 {
				w := httptest.NewRecorder()
				a.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
				if body := w.Body.String(); !strings.Contains(body, want) {
					t.Errorf("/healthz = %s, want %s", body, want)
				}
			}
			if diff := cmp.Diff(before, counts(t, c)); diff != "" {
				t.Errorf("counts changed by /healthz (-before +after):\n%s", diff)
			}
		})
	}
}

// counts are a Cache's counters, then its servers' client-side ones.
func counts(t *testing.T, c *cache.Cache) []stats.Counts {
	t.Helper()
	out := []stats.Counts{c.Counts()} // read before the servers are asked
	servers, _ := c.Stats(t.Context())
	for _, srv := range servers {
		out = append(out, srv.Client)
	}
	return out
}
