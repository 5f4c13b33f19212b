package local

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/cachetest"
	"github.com/tasklist/tasklist/internal/stats"
)

func newBackend(t testing.TB, opts Options) *Backend {
	t.Helper()
	b, err := New(opts)
	if err != nil {
		t.Fatalf("New(%+v): %v", opts, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestContract(t *testing.T) {
	cachetest.RunOptions(t,
		func(t *testing.T) cache.Backend { return newBackend(t, Options{}) },
		cachetest.Options{NewWithClock: func(t *testing.T, now func() time.Time) cache.Backend {
			return newBackend(t, Options{Clock: now})
		}})
}

// TestContractRealTime runs the suite's sleeping TTL tests too, which
// memcached backends rely on.
func TestContractRealTime(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cache.Backend { return newBackend(t, Options{}) })
}

func TestNewOptions(t *testing.T) {
	tests := []struct {
		name         string
		opts         Options
		wantLimit    uint64
		wantItemSize int
		wantErr      bool
	}{
		{name: "zero value", wantLimit: 64 << 20, wantItemSize: 1 << 20},
		{name: "small cache lowers item size", opts: Options{MaxBytes: 1 << 20}, wantLimit: 1 << 20, wantItemSize: 256 << 10},
		{name: "item size", opts: Options{MaxItemSize: 100}, wantLimit: 64 << 20, wantItemSize: 100},
		{name: "negative MaxBytes", opts: Options{MaxBytes: -1}, wantErr: true},
		{name: "negative MaxItemSize", opts: Options{MaxItemSize: -1}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := New(tt.opts)
			if tt.wantErr {
				if err == nil || !strings.HasPrefix(err.Error(), "local: ") {
					t.Fatalf("New(%+v) error = %v, want a local: error", tt.opts, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%+v): %v", tt.opts, err)
			}
			defer b.Close()
			st, _ := b.Stats(t.Context())
			if st[0].LimitBytes != tt.wantLimit || b.MaxItemSize() != tt.wantItemSize {
				t.Errorf("LimitBytes, MaxItemSize = %d, %d; want %d, %d", st[0].LimitBytes, b.MaxItemSize(), tt.wantLimit, tt.wantItemSize)
			}
		})
	}
}

// TestByteBound fills the cache with many times its bound: the weight must
// stay within it, and evictions must be counted.
func TestByteBound(t *testing.T) {
	const maxBytes = 64 << 10
	b := newBackend(t, Options{MaxBytes: maxBytes})
	value := make([]byte, 1000)
	const n = 1000 // about 16 times maxBytes
	for i := range n {
		if err := b.Set(t.Context(), cache.Item{Key: "k" + strconv.Itoa(i), Value: value}); err != nil {
			t.Fatalf("Set: %v", err)
		}
		if i%100 == 99 {
			b.store.CleanUp() // finish pending evictions, which otter runs asynchronously
			if w := b.store.WeightedSize(); w > maxBytes {
				t.Fatalf("after %d sets the weight is %d, over the bound %d", i+1, w, maxBytes)
			}
		}
	}
	st, err := b.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s := st[0]
	perItem := uint64(len("k000") + len(value) + entryOverhead)
	if s.Bytes > maxBytes || s.Items == 0 || s.Items > maxBytes/perItem {
		t.Errorf("Stats Bytes = %d, Items = %d; want Bytes ≤ %d and 0 < Items ≤ %d", s.Bytes, s.Items, maxBytes, maxBytes/perItem)
	}
	if s.Evictions < n-maxBytes/perItem {
		t.Errorf("Stats Evictions = %d, want at least %d", s.Evictions, n-maxBytes/perItem)
	}
}

// TestReadableAfterSet checks otter's promise that a write is visible to the
// next read, which the query cache relies on.
func TestReadableAfterSet(t *testing.T) {
	b := newBackend(t, Options{})
	for i := range 10_000 {
		key, value := "k"+strconv.Itoa(i%100), strconv.Itoa(i)
		if err := b.Set(t.Context(), cache.Item{Key: key, Value: []byte(value)}); err != nil {
			t.Fatalf("Set: %v", err)
		}
		it, err := b.Get(t.Context(), key)
		if err != nil || string(it.Value) != value {
			t.Fatalf("Get right after Set #%d = %q, %v; want %q", i, it.Value, err, value)
		}
	}
}

func TestStatsFields(t *testing.T) {
	b := newBackend(t, Options{MaxBytes: 1 << 20})
	if err := b.Set(t.Context(), cache.Item{Key: "key", Value: []byte("value")}); err != nil {
		t.Fatal(err)
	}
	b.store.CleanUp()
	got, err := b.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []stats.Server{{
		Addr: "local", Up: true, Client: stats.Counts{Sets: 1}, CmdSet: 1,
		Items: 1, Bytes: uint64(len("key") + len("value") + entryOverhead), LimitBytes: 1 << 20,
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
	if b.Name() != "local" {
		t.Errorf("Name() = %q, want local", b.Name())
	}
}

// TestNoAliasing checks that stored values are copies: callers may reuse
// their buffers and change what they read.
func TestNoAliasing(t *testing.T) {
	b := newBackend(t, Options{})
	buf := []byte("original")
	if err := b.Set(t.Context(), cache.Item{Key: "k", Value: buf}); err != nil {
		t.Fatal(err)
	}
	copy(buf, "CHANGED!")
	it, err := b.Get(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	copy(it.Value, "CHANGED!")
	items, err := b.GetMulti(t.Context(), []string{"k"})
	if err != nil {
		t.Fatal(err)
	}
	copy(items["k"].Value, "CHANGED!")
	again, err := b.Get(t.Context(), "k")
	if diff := cmp.Diff("original", string(again.Value)); diff != "" || err != nil {
		t.Errorf("stored value after callers changed their copies (-want +got):\n%s (err %v)", diff, err)
	}
}

// TestUnsafeKeys checks that keys memcached would refuse are refused here
// too, so a bug that skips cache.Key shows with the local backend.
func TestUnsafeKeys(t *testing.T) {
	b := newBackend(t, Options{})
	keys := map[string]string{
		"empty":     "",
		"251 bytes": strings.Repeat("k", 251),
		"space":     "a b",
		"newline":   "a\nb",
		"DEL":       "a\x7fb",
		"non-ASCII": "tâche",
	}
	for name, key := range keys {
		t.Run(name, func(t *testing.T) {
			item := cache.Item{Key: key, Value: []byte("v")}
			errs := map[string]error{
				"Set":            b.Set(t.Context(), item),
				"Add":            b.Add(t.Context(), item),
				"CompareAndSwap": b.CompareAndSwap(t.Context(), item),
			}
			for op, err := range errs {
				if !errors.Is(err, cache.ErrInvalid) {
					t.Errorf("%s: error = %v, want %v", op, err, cache.ErrInvalid)
				}
			}
			if _, err := b.Get(t.Context(), key); !errors.Is(err, cache.ErrMiss) {
				t.Errorf("Get: error = %v, want %v", err, cache.ErrMiss)
			}
		})
	}
}

func BenchmarkGet(b *testing.B) { cachetest.BenchGet(b, newBackend(b, Options{})) }

func BenchmarkSet(b *testing.B) { cachetest.BenchSet(b, newBackend(b, Options{})) }

func BenchmarkGetMulti100(b *testing.B) { cachetest.BenchGetMulti(b, newBackend(b, Options{}), 100) }
