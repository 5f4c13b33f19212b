package cache_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/cachetest"
	"github.com/tasklist/tasklist/internal/cache/local"
)

// asBackend lets the contract suite drive a *cache.Cache: only Stats differs.
type asBackend struct{ *cache.Cache }

func (b asBackend) Stats(ctx context.Context) ([]cache.ServerStats, error) {
	s, err := b.Cache.Stats(ctx)
	return s.Servers, err
}

func newLocalCache(t testing.TB, clock func() time.Time, opts cache.Options) *cache.Cache {
	t.Helper()
	b, err := local.New(local.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	c := cache.New(b, opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// TestContract runs the suite through the wrapper. The prefix pushes the
// suite's 250-byte key past the limit, so hashed keys are covered too.
func TestContract(t *testing.T) {
	opts := cache.Options{Prefix: "tasklist:"}
	cachetest.RunOptions(t,
		func(t *testing.T) cache.Backend { return asBackend{newLocalCache(t, nil, opts)} },
		cachetest.Options{NewWithClock: func(t *testing.T, now func() time.Time) cache.Backend {
			return asBackend{newLocalCache(t, now, opts)}
		}})
}

func TestKey(t *testing.T) {
	long := strings.Repeat("x", 300)
	tests := []struct {
		name, prefix, key string
		want              string // "" when the key must be hashed
	}{
		{name: "plain", prefix: "tl:", key: "tasks", want: "tl:tasks"},
		{name: "no prefix", key: "tasks", want: "tasks"},
		{name: "250 bytes", prefix: "tl:", key: strings.Repeat("k", 247), want: "tl:" + strings.Repeat("k", 247)},
		{name: "251 bytes", prefix: "tl:", key: strings.Repeat("k", 248)},
		{name: "prefix makes it too long", prefix: "tl:", key: strings.Repeat("k", 250)},
		{name: "space", prefix: "tl:", key: "my tasks"},
		{name: "newline", prefix: "tl:", key: "tasks\n"},
		{name: "tab", prefix: "tl:", key: "a\tb"},
		{name: "DEL", prefix: "tl:", key: "a\x7fb"},
		{name: "unicode", prefix: "tl:", key: "tâches"},
		{name: "empty", prefix: "", key: ""},
		{name: "unsafe prefix", prefix: "t l:", key: "tasks"},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cache.Key(tt.prefix, tt.key)
			if tt.want != "" {
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("Key (-want +got):\n%s", diff)
				}
			} else {
				checkHashed(t, tt.prefix+tt.key, got)
			}
			if !cache.ValidKey(got) {
				t.Errorf("Key(%q, %q) = %q, not a valid backend key", tt.prefix, tt.key, got)
			}
			if again := cache.Key(tt.prefix, tt.key); again != got {
				t.Errorf("Key is not deterministic: %q then %q", got, again)
			}
			if other, ok := seen[got]; ok {
				t.Errorf("Key(%q) collides with the key of case %q", tt.key, other)
			}
			seen[got] = tt.name
		})
	}

	t.Run("long keys differing only at the end", func(t *testing.T) {
		a, b := cache.Key("tl:", long+"a"), cache.Key("tl:", long+"b")
		if a == b {
			t.Errorf("both map to %q", a)
		}
		if !strings.HasPrefix(a, "tl:xxx") {
			t.Errorf("hashed key %q lost its readable start", a)
		}
	})
	t.Run("a safe key differs from the hashed unsafe one", func(t *testing.T) {
		if a, b := cache.Key("", "a b"), cache.Key("", "a_b"); a == b {
			t.Errorf("both map to %q", a)
		}
	})
}

// checkHashed checks the shape of a hashed key: the start of full, at least
// 200 bytes of it, with each unsafe byte replaced by '_', then '#' and a
// 43-byte base64url hash.
func checkHashed(t *testing.T, full, got string) {
	t.Helper()
	i := strings.LastIndexByte(got, '#')
	if i < 0 || len(got)-i-1 != 43 || len(got) > cache.MaxKeyLen {
		t.Fatalf("Key(%q) = %q (%d bytes), want readable#43-byte-hash within %d bytes", full, got, len(got), cache.MaxKeyLen)
	}
	sanitized := []byte(full)
	for j, c := range sanitized {
		if c <= ' ' || c >= 0x7f {
			sanitized[j] = '_'
		}
	}
	if readable := got[:i]; !strings.HasPrefix(string(sanitized), readable) || len(readable) < min(len(full), 200) {
		t.Errorf("readable part %q of the key is not the start of %q", readable, sanitized)
	}
}

// TestCounters checks the Cache's own statistics over a real backend.
func TestCounters(t *testing.T) {
	c := newLocalCache(t, nil, cache.Options{Prefix: "tl:", MaxItemSize: 10})
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Set(ctx, cache.Item{Key: "a", Value: []byte("12345")}))
	must(c.Add(ctx, cache.Item{Key: "b", Value: []byte("1")}))
	if err := c.Add(ctx, cache.Item{Key: "b", Value: []byte("2")}); !errors.Is(err, cache.ErrNotStored) {
		t.Fatalf("second Add: %v", err)
	}
	it, err := c.Get(ctx, "a")
	must(err)
	it.Value = []byte("abc")
	must(c.CompareAndSwap(ctx, it))
	if _, err := c.Get(ctx, "absent"); !errors.Is(err, cache.ErrMiss) {
		t.Fatalf("Get of absent key: %v", err)
	}
	if _, err := c.GetMulti(ctx, []string{"a", "b", "absent"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Increment(ctx, "b", 1); err != nil {
		t.Fatal(err)
	}
	must(c.Delete(ctx, "a"))
	if err := c.Set(ctx, cache.Item{Key: "big", Value: make([]byte, 11)}); !errors.Is(err, cache.ErrTooLarge) {
		t.Fatalf("Set over MaxItemSize: %v", err)
	}

	got, err := c.Stats(ctx)
	must(err)
	want := cache.Stats{
		Backend: "local",
		Hits:    3, Misses: 2, // Get a, GetMulti a b | Get absent, GetMulti absent
		Sets: 1, Adds: 1, CASes: 1, Deletes: 1, Increments: 1, TooLarge: 1,
		BytesRead:    5 + 3 + 1, // "12345", "abc", "1"
		BytesWritten: 5 + 1 + 3,
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(cache.Stats{}, "Servers")); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
	if len(got.Servers) != 1 || got.Servers[0].Items != 1 {
		t.Errorf("Stats.Servers = %+v, want the local server holding 1 item", got.Servers)
	}
	if c.MaxItemSize() != 10 || c.Name() != "local" {
		t.Errorf("MaxItemSize, Name = %d, %q; want 10, local", c.MaxItemSize(), c.Name())
	}
}

// TestPrefixIsolates checks that two Caches with different prefixes over one
// backend do not see each other's keys, and that the backend holds the
// prefixed key.
func TestPrefixIsolates(t *testing.T) {
	b, err := local.New(local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	ctx := t.Context()
	one, two := cache.New(b, cache.Options{Prefix: "one:"}), cache.New(b, cache.Options{Prefix: "two:"})
	if err := one.Set(ctx, cache.Item{Key: "k", Value: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := two.Get(ctx, "k"); !errors.Is(err, cache.ErrMiss) {
		t.Errorf("other prefix Get: error = %v, want %v", err, cache.ErrMiss)
	}
	if _, err := b.Get(ctx, "one:k"); err != nil {
		t.Errorf("backend Get(one:k): %v", err)
	}
}
