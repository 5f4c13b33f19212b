package main

import (
	"math"
	"runtime/debug"
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

// TestTuneMemory: the soft limit and the collector's pace are set unless
// the environment sets them, and the environment's own are left alone.
func TestTuneMemory(t *testing.T) {
	gc, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() {
		debug.SetGCPercent(gc)
		debug.SetMemoryLimit(limit)
	})

	tuneMemory(lookup(envOf(nil)))
	if got := debug.SetGCPercent(100); got != gcPercent {
		t.Errorf("GOGC unset: the collector's percent is %d, want %d", got, gcPercent)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != 40<<20+64<<20 {
		t.Errorf("GOMEMLIMIT unset: the soft limit is %d MiB, want %d MiB", got>>20, 40+64)
	}

	// The runtime has read these itself; tuneMemory must not overrule them.
	tuneMemory(lookup(envOf(map[string]string{"GOGC": "100", "GOMEMLIMIT": "1GiB"})))
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC=100: the collector's percent is %d, want it left at 100", got)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != math.MaxInt64 {
		t.Errorf("GOMEMLIMIT set: the soft limit is %d, want it left alone", got)
	}
}
