package main

import (
	"testing"

	"github.com/tasklist/tasklist/internal/config"
)

// TestMemoryBudget: the heap's soft limit is the base plus the in-process
// cache's bound, and only when that cache is used.
func TestMemoryBudget(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want int64
	}{
		{"in-process cache", nil, 40<<20 + 64<<20},
		{"smaller in-process cache", map[string]string{"TASKLIST_LOCAL_CACHE_MB": "16"}, 40<<20 + 16<<20},
		{"memcached", map[string]string{"MEMCACHE_SERVERS": "127.0.0.1:11211"}, 40 << 20},
		{"no cache", map[string]string{"TASKLIST_CACHE_LAYERS": "none"}, 40 << 20},
	}
	for _, tt := range tests {
		cfg, err := config.Load(lookup(envOf(tt.env)))
		if err != nil {
			t.Fatal(err)
		}
		if got := memoryBudget(cfg); got != tt.want {
			t.Errorf("%s: memoryBudget = %d MiB, want %d MiB", tt.name, got>>20, tt.want>>20)
		}
	}
}
