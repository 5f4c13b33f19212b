package cachetest

import (
	"context"
	"strconv"
	"testing"

	"github.com/tasklist/tasklist/internal/cache"
)

// Store is what the benchmarks use. Both cache.Backend and *cache.Cache
// satisfy it, so one benchmark body measures a raw backend or the wrapper.
type Store interface {
	Get(ctx context.Context, key string) (cache.Item, error)
	GetMulti(ctx context.Context, keys []string) (map[string]cache.Item, error)
	Set(ctx context.Context, item cache.Item) error
}

const (
	benchKeys      = 1000
	benchValueSize = 1024 // about a rendered task row
)

// benchPreload stores benchKeys values of benchValueSize bytes under a fresh
// prefix and returns their keys.
func benchPreload(b *testing.B, s Store) []string {
	b.Helper()
	p := prefix()
	value := make([]byte, benchValueSize)
	keys := make([]string, benchKeys)
	for i := range keys {
		keys[i] = p + strconv.Itoa(i)
		if err := s.Set(b.Context(), cache.Item{Key: keys[i], Value: value}); err != nil {
			b.Fatalf("preload Set: %v", err)
		}
	}
	return keys
}

// BenchGet measures Get hits of 1 KiB values, one goroutine at a time.
func BenchGet(b *testing.B, s Store) {
	keys := benchPreload(b, s)
	ctx := b.Context()
	b.SetBytes(benchValueSize)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.Get(ctx, keys[i%len(keys)]); err != nil {
			b.Fatalf("Get: %v", err)
		}
		i++
	}
}

// BenchSet measures Sets of 1 KiB values over a fixed set of keys.
func BenchSet(b *testing.B, s Store) {
	keys := benchPreload(b, s)
	ctx := b.Context()
	value := make([]byte, benchValueSize)
	b.SetBytes(benchValueSize)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := s.Set(ctx, cache.Item{Key: keys[i%len(keys)], Value: value}); err != nil {
			b.Fatalf("Set: %v", err)
		}
		i++
	}
}

// BenchGetMulti measures GetMulti of n present 1 KiB values (n ≤ 1000).
func BenchGetMulti(b *testing.B, s Store, n int) {
	keys := benchPreload(b, s)
	if n > len(keys) {
		b.Fatalf("BenchGetMulti: n = %d, at most %d", n, len(keys))
	}
	ctx := b.Context()
	b.SetBytes(int64(n) * benchValueSize)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		start := i % (len(keys) - n + 1)
		items, err := s.GetMulti(ctx, keys[start:start+n])
		if err != nil || len(items) != n {
			b.Fatalf("GetMulti: %d items, %v; want %d", len(items), err, n)
		}
		i++
	}
}
