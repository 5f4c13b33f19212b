// Package cachetest is the contract every cache.Backend must meet, written
// once as tests, and the benchmark bodies every backend shares.
//
// The in-process cache, the memcached backends and the *cache.Cache wrapper
// all promise memcached's semantics (see package cache). Holding each of them
// to the same executable definition is what lets the app swap one for another
// without a behaviour change: a backend's own tests call Run.
package cachetest

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/testenv"
)

// Options adapts RunOptions to a backend.
type Options struct {
	// NewWithClock, when set, builds a fresh backend that reads the time from
	// now. The TTL tests then advance that clock instead of sleeping, and also
	// check that an item lives exactly its rounded TTL. When nil, the TTL tests
	// sleep about 2.5 s, all in parallel.
	NewWithClock func(t *testing.T, now func() time.Time) cache.Backend
}

// Run runs the contract suite against fresh backends from newBackend, which
// is called once per subtest and should register the backend's Close with
// t.Cleanup. Every subtest runs in parallel and uses keys under its own
// random prefix, so one shared memcached can serve them all.
func Run(t *testing.T, newBackend func(t *testing.T) cache.Backend) {
	RunOptions(t, newBackend, Options{})
}

// RunOptions is Run with Options.
func RunOptions(t *testing.T, newBackend func(t *testing.T) cache.Backend, opts Options) {
	tests := []struct {
		name string
		run  func(t *testing.T, b cache.Backend)
	}{
		{"MissAndEmpty", testMissAndEmpty},
		{"RoundTrip", testRoundTrip},
		{"Overwrite", testOverwrite},
		{"Add", testAdd},
		{"CompareAndSwap", testCompareAndSwap},
		{"Delete", testDelete},
		{"NegativeTTL", testNegativeTTL},
		{"GetMulti", testGetMulti},
		{"ItemSize", testItemSize},
		{"Stats", testStats},
		{"Concurrent", testConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, newBackend(t))
		})
	}
	t.Run("TTL", func(t *testing.T) {
		t.Parallel()
		testTTL(t, newBackend, opts.NewWithClock)
	})
}

// prefix returns a key prefix no other test uses.
func prefix() string { return testenv.RandomName("cachetest:") + ":" }

// checkErr reports err unless it matches want (nil means no error).
func checkErr(t *testing.T, op string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error = %v, want %v", op, err, want)
	}
}

func set(t *testing.T, b cache.Backend, key, value string, ttl time.Duration) {
	t.Helper()
	if err := b.Set(t.Context(), cache.Item{Key: key, Value: []byte(value), TTL: ttl}); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

// wantValue checks that key holds value; nil means it must be a miss.
func wantValue(t *testing.T, b cache.Backend, key string, value *string) {
	t.Helper()
	it, err := b.Get(t.Context(), key)
	switch {
	case value == nil:
		checkErr(t, "Get of a key that should be absent", err, cache.ErrMiss)
	case err != nil:
		t.Errorf("Get(%q): %v, want value %q", key, err, *value)
	default:
		if diff := cmp.Diff(*value, string(it.Value)); diff != "" {
			t.Errorf("Get(%q) value (-want +got):\n%s", key, diff)
		}
		if it.Key != key {
			t.Errorf("Get(%q) returned Item.Key %q", key, it.Key)
		}
	}
}

func ptr(s string) *string { return &s }

// Values returns the values of items, a GetMulti's result, by key, and
// reports an item whose Key is not the key it is under.
func Values(t testing.TB, items map[string]cache.Item) map[string]string {
	t.Helper()
	values := make(map[string]string, len(items))
	for k, it := range items {
		values[k] = string(it.Value)
		if it.Key != k {
			t.Errorf("GetMulti: item under %q has Key %q", k, it.Key)
		}
	}
	return values
}

func testMissAndEmpty(t *testing.T, b cache.Backend) {
	p := prefix()
	tests := []struct {
		name  string
		value []byte // stored first if store
		store bool
		want  *string
	}{
		{name: "absent key is a miss", want: nil},
		{name: "stored empty value is a hit", value: []byte{}, store: true, want: ptr("")},
		{name: "stored nil value is a hit", value: nil, store: true, want: ptr("")},
	}
	for i, tt := range tests {
		key := p + strconv.Itoa(i)
		if tt.store {
			if err := b.Set(t.Context(), cache.Item{Key: key, Value: tt.value}); err != nil {
				t.Fatalf("%s: Set: %v", tt.name, err)
			}
		}
		t.Run(tt.name, func(t *testing.T) { wantValue(t, b, key, tt.want) })
	}
}

func testRoundTrip(t *testing.T, b cache.Backend) {
	p := prefix()
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	tests := []struct {
		name  string
		key   string
		value []byte
	}{
		{"all 256 byte values", p + "bytes", allBytes},
		{"protocol lookalike", p + "proto", []byte("VALUE x 0 5\r\nEND\r\n\x00")},
		{"unicode", p + "utf8", []byte("tâches ✓ 任务")},
		{"250-byte key", p + strings.Repeat("k", 250-len(p)), []byte("long key")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set(t, b, tt.key, string(tt.value), 0)
			wantValue(t, b, tt.key, ptr(string(tt.value)))
		})
	}
}

func testOverwrite(t *testing.T, b cache.Backend) {
	key := prefix() + "k"
	for _, v := range []string{"first", "second", "", "third"} {
		set(t, b, key, v, 0)
		wantValue(t, b, key, ptr(v))
	}
}

func testAdd(t *testing.T, b cache.Backend) {
	p := prefix()
	tests := []struct {
		name    string
		preset  *string
		wantErr error
		want    string
	}{
		{"absent key is stored", nil, nil, "new"},
		{"present key is not stored", ptr("old"), cache.ErrNotStored, "old"},
		{"present empty value is not replaced", ptr(""), cache.ErrNotStored, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := p + strconv.Itoa(i)
			if tt.preset != nil {
				set(t, b, key, *tt.preset, 0)
			}
			err := b.Add(t.Context(), cache.Item{Key: key, Value: []byte("new")})
			checkErr(t, "Add", err, tt.wantErr)
			wantValue(t, b, key, ptr(tt.want))
		})
	}
}

func testCompareAndSwap(t *testing.T, b cache.Backend) {
	p := prefix()
	tests := []struct {
		name     string
		viaMulti bool // read the token with GetMulti instead of Get
		between  func(t *testing.T, key string, read cache.Item)
		wantErr  error
		want     *string
	}{
		{name: "unchanged item is swapped", want: ptr("new")},
		{name: "token from GetMulti", viaMulti: true, want: ptr("new")},
		{
			name:    "changed item is not stored",
			between: func(t *testing.T, key string, _ cache.Item) { set(t, b, key, "other", 0) },
			wantErr: cache.ErrNotStored, want: ptr("other"),
		},
		{
			name: "token is single-use",
			between: func(t *testing.T, key string, read cache.Item) {
				read.Value = []byte("first")
				checkErr(t, "first CompareAndSwap", b.CompareAndSwap(t.Context(), read), nil)
			},
			wantErr: cache.ErrNotStored, want: ptr("first"),
		},
		{
			name: "deleted item is a miss",
			between: func(t *testing.T, key string, _ cache.Item) {
				checkErr(t, "Delete", b.Delete(t.Context(), key), nil)
			},
			wantErr: cache.ErrMiss, want: nil,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := p + strconv.Itoa(i)
			set(t, b, key, "1", 0)
			read := getForCAS(t, b, key, tt.viaMulti)
			if tt.between != nil {
				tt.between(t, key, read)
			}
			read.Value = []byte("new")
			checkErr(t, "CompareAndSwap", b.CompareAndSwap(t.Context(), read), tt.wantErr)
			wantValue(t, b, key, tt.want)
		})
	}
}

func getForCAS(t *testing.T, b cache.Backend, key string, viaMulti bool) cache.Item {
	t.Helper()
	if !viaMulti {
		it, err := b.Get(t.Context(), key)
		if err != nil {
			t.Fatalf("Get(%q): %v", key, err)
		}
		return it
	}
	m, err := b.GetMulti(t.Context(), []string{key})
	if err != nil || len(m) != 1 {
		t.Fatalf("GetMulti(%q) = %d items, %v; want 1 item", key, len(m), err)
	}
	return m[key]
}

func testDelete(t *testing.T, b cache.Backend) {
	p := prefix()
	for i, present := range []bool{true, false} {
		key := p + strconv.Itoa(i)
		if present {
			set(t, b, key, "v", 0)
		}
		checkErr(t, "Delete", b.Delete(t.Context(), key), nil)
		wantValue(t, b, key, nil)
	}
}

func testNegativeTTL(t *testing.T, b cache.Backend) {
	p := prefix()
	tests := []struct {
		name   string
		preset *string
		op     func(t *testing.T, key string) error
	}{
		{"Set", nil, func(t *testing.T, key string) error {
			return b.Set(t.Context(), cache.Item{Key: key, Value: []byte("x"), TTL: -time.Second})
		}},
		{"Add", nil, func(t *testing.T, key string) error {
			return b.Add(t.Context(), cache.Item{Key: key, Value: []byte("x"), TTL: -time.Second})
		}},
		{"CompareAndSwap", ptr("old"), func(t *testing.T, key string) error {
			it := getForCAS(t, b, key, false)
			it.Value, it.TTL = []byte("x"), -time.Second
			return b.CompareAndSwap(t.Context(), it)
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := p + strconv.Itoa(i)
			if tt.preset != nil {
				set(t, b, key, *tt.preset, 0)
			}
			checkErr(t, tt.name, tt.op(t, key), cache.ErrInvalid)
			wantValue(t, b, key, tt.preset)
		})
	}
}

func testGetMulti(t *testing.T, b cache.Backend) {
	p := prefix()
	tests := []struct {
		name          string
		keys, present int
	}{
		{name: "no keys"},
		{name: "all absent", keys: 5},
		{name: "some absent", keys: 10, present: 5},
		{name: "all present", keys: 3, present: 3},
		{name: "150 keys", keys: 150, present: 100},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var keys []string
			want := map[string]string{}
			for j := range tt.keys {
				key := p + strconv.Itoa(i) + ":" + strings.Repeat("x", j%7) + strconv.Itoa(j)
				keys = append(keys, key)
				if j < tt.present {
					value := strings.Repeat("v", j%3) // j%3 == 0 stores an empty value
					set(t, b, key, value, 0)
					want[key] = value
				}
			}
			slices.Reverse(keys) // the order of keys must not matter
			items, err := b.GetMulti(t.Context(), keys)
			if err != nil {
				t.Fatalf("GetMulti: %v", err)
			}
			if diff := cmp.Diff(want, Values(t, items)); diff != "" {
				t.Errorf("GetMulti values (-want +got):\n%s", diff)
			}
		})
	}
}

func testItemSize(t *testing.T, b cache.Backend) {
	p := prefix()
	limit := b.MaxItemSize()
	if limit <= 0 {
		t.Fatalf("MaxItemSize() = %d, want > 0", limit)
	}
	tests := []struct {
		name    string
		size    int
		wantErr error
	}{
		{"at the limit", limit, nil},
		{"one byte over", limit + 1, cache.ErrTooLarge},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := p + strconv.Itoa(i)
			value := make([]byte, tt.size)
			for j := range value {
				value[j] = byte(j * 7)
			}
			err := b.Set(t.Context(), cache.Item{Key: key + "Set", Value: value})
			checkErr(t, "Set of "+strconv.Itoa(tt.size)+" bytes", err, tt.wantErr)
			err = b.Add(t.Context(), cache.Item{Key: key + "Add", Value: value})
			checkErr(t, "Add of "+strconv.Itoa(tt.size)+" bytes", err, tt.wantErr)
			if tt.wantErr == nil {
				it, err := b.Get(t.Context(), key+"Set")
				if err != nil || string(it.Value) != string(value) {
					t.Errorf("Get after Set of %d bytes: %d bytes, %v; want the same bytes", tt.size, len(it.Value), err)
				}
			}
			// The backend still works after the refusal.
			set(t, b, key+"after", "ok", 0)
			wantValue(t, b, key+"after", ptr("ok"))
		})
	}
}
