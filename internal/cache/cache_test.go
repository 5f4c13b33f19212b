package cache_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/cachetest"
	"github.com/tasklist/tasklist/internal/cache/local"
	"github.com/tasklist/tasklist/internal/cache/memcache"
	"github.com/tasklist/tasklist/internal/stats"
	"github.com/tasklist/tasklist/internal/testenv"
)

// asBackend lets the contract suite drive a *cache.Cache.
type asBackend struct{ *cache.Cache }

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
	must(c.Delete(ctx, "a"))
	if err := c.Set(ctx, cache.Item{Key: "big", Value: make([]byte, 11)}); !errors.Is(err, cache.ErrTooLarge) {
		t.Fatalf("Set over MaxItemSize: %v", err)
	}

	want := stats.Counts{
		Hits: 3, Misses: 2, // Get a, GetMulti a b | Get absent, GetMulti absent
		Sets: 3, Deletes: 1, // Set, Add, CompareAndSwap | Delete
		Errors: 1, // the value too large
	}
	if diff := cmp.Diff(want, c.Counts()); diff != "" {
		t.Errorf("Counts (-want +got):\n%s", diff)
	}
	servers, err := c.Stats(ctx)
	must(err)
	if len(servers) != 1 || servers[0].Items != 1 {
		t.Errorf("Stats = %+v, want the local server holding 1 item", servers)
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

// TestGetMultiPartial: a page of fragments read from a two-server memcached
// cluster with one server stopped still gets the half that answered, with
// an error matching ErrUnavailable that lists the other half's keys; those
// count as neither hits nor misses, and the failure as one error.
func TestGetMultiPartial(t *testing.T) {
	servers := []*testenv.Memcached{
		testenv.StartMemcached(t, testenv.MemcachedOptions{}),
		testenv.StartMemcached(t, testenv.MemcachedOptions{}),
	}
	const prefix = "page:"
	c := cache.New(newMemcache(t, servers[0].Addr(), servers[1].Addr()), cache.Options{Prefix: prefix, GetTimeout: 10 * time.Second})
	ctx := t.Context()
	keys := make([]string, 20)
	for i := range keys {
		keys[i] = "fragment:" + strconv.Itoa(i)
		if err := c.Set(ctx, cache.Item{Key: keys[i], Value: []byte(keys[i])}); err != nil {
			t.Fatal(err)
		}
	}
	// Which keys live on the server about to stop: ask it alone.
	backendKeys := make([]string, len(keys))
	for i, k := range keys {
		backendKeys[i] = cache.Key(prefix, k)
	}
	onStopped, err := newMemcache(t, servers[0].Addr()).GetMulti(ctx, backendKeys)
	if err != nil || len(onStopped) == 0 || len(onStopped) == len(keys) {
		t.Fatalf("keys on the first server: %d of %d, %v; want some", len(onStopped), len(keys), err)
	}
	want := map[string]string{}
	var wantUnanswered []string
	var wantHits, wantMisses uint64
	for i, k := range keys {
		switch _, stopped := onStopped[backendKeys[i]]; {
		case stopped:
			wantUnanswered = append(wantUnanswered, k)
		case i%2 == 0:
			want[k] = k
			wantHits++
		default: // absent from the server that answers
			if err := c.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
			wantMisses++
		}
	}
	before := c.Counts()
	servers[0].Stop()

	items, err := c.GetMulti(ctx, keys)
	if diff := cmp.Diff(want, cachetest.Values(t, items)); diff != "" {
		t.Errorf("GetMulti with one server stopped (-want +got):\n%s", diff)
	}
	var partial *cache.PartialError
	if !errors.Is(err, cache.ErrUnavailable) || !errors.As(err, &partial) {
		t.Fatalf("GetMulti error = %v, want a *cache.PartialError matching ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), servers[0].Addr()) {
		t.Errorf("GetMulti error %q does not name the stopped server %s", err, servers[0].Addr())
	}
	if diff := cmp.Diff(wantUnanswered, partial.Unanswered); diff != "" {
		t.Errorf("Unanswered keys (-want +got):\n%s", diff)
	}
	after := c.Counts()
	added := stats.Counts{Hits: after.Hits - before.Hits, Misses: after.Misses - before.Misses, Errors: after.Errors - before.Errors}
	if diff := cmp.Diff(stats.Counts{Hits: wantHits, Misses: wantMisses, Errors: 1}, added); diff != "" {
		t.Errorf("counters added by GetMulti (-want +got):\n%s", diff)
	}
}

// newMemcache returns an unauthenticated memcached client for addrs.
func newMemcache(t *testing.T, addrs ...string) *memcache.Client {
	t.Helper()
	b, err := memcache.New(memcache.Options{Servers: addrs, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}
