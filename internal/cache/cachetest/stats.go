package cachetest

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/cache"
)

// testStats holds the client-side counters to their definitions (see
// cache.ServerStats), step by step: each step must add exactly its counts,
// summed over the servers, and no errors.
func testStats(t *testing.T, b cache.Backend) {
	ctx, p := t.Context(), prefix()
	a, absent, added := p+"a", p+"absent", p+"added"
	var token cache.Item // read by one step, swapped by a later one
	read := func(key string) func() error {
		return func() error {
			var err error
			token, err = b.Get(ctx, key)
			return err
		}
	}
	swap := func() error {
		token.Value = []byte("swapped")
		return b.CompareAndSwap(ctx, token)
	}
	store := func(op func(context.Context, cache.Item) error, key string) func() error {
		return func() error { return op(ctx, cache.Item{Key: key, Value: []byte("v")}) }
	}
	getMulti := func(keys ...string) func() error {
		return func() error { _, err := b.GetMulti(ctx, keys); return err }
	}
	steps := []struct {
		name    string
		do      func() error
		wantErr error
		want    cache.ServerStats // the counts the step adds
	}{
		{"Get of an absent key is a miss", read(a), cache.ErrMiss, cache.ServerStats{Misses: 1}},
		{"Set is a set", store(b.Set, a), nil, cache.ServerStats{Sets: 1}},
		{"Get of a present key is a hit", read(a), nil, cache.ServerStats{Hits: 1}},
		{"GetMulti counts each key", getMulti(a, absent, p+"absent2"), nil, cache.ServerStats{Hits: 1, Misses: 2}},
		{"GetMulti of no keys counts nothing", getMulti(), nil, cache.ServerStats{}},
		{"Add of an absent key is a set", store(b.Add, added), nil, cache.ServerStats{Sets: 1}},
		{"Add of a present key is not", store(b.Add, added), cache.ErrNotStored, cache.ServerStats{}},
		{"Set over the token's item", store(b.Set, a), nil, cache.ServerStats{Sets: 1}},
		{"CompareAndSwap of a changed item is not a set", swap, cache.ErrNotStored, cache.ServerStats{}},
		{"Get for a fresh token", read(a), nil, cache.ServerStats{Hits: 1}},
		{"CompareAndSwap of an unchanged item is a set", swap, nil, cache.ServerStats{Sets: 1}},
		{"Get for another token", read(a), nil, cache.ServerStats{Hits: 1}},
		{"Delete of a present key is a delete", func() error { return b.Delete(ctx, a) }, nil, cache.ServerStats{Deletes: 1}},
		{"Delete of an absent key is not", func() error { return b.Delete(ctx, a) }, nil, cache.ServerStats{}},
		{"CompareAndSwap of a deleted item is not a set", swap, cache.ErrMiss, cache.ServerStats{}},
		{"Ping counts nothing", func() error { return b.Ping(ctx) }, nil, cache.ServerStats{}},
		{"a value too large is not a set", func() error {
			return b.Set(ctx, cache.Item{Key: absent, Value: make([]byte, b.MaxItemSize()+1)})
		}, cache.ErrTooLarge, cache.ServerStats{}},
	}
	before := sumStats(t, b)
	for _, st := range steps {
		checkErr(t, st.name, st.do(), st.wantErr)
		after := sumStats(t, b)
		got := cache.ServerStats{
			Hits: after.Hits - before.Hits, Misses: after.Misses - before.Misses,
			Sets: after.Sets - before.Sets, Deletes: after.Deletes - before.Deletes,
			Errors: after.Errors - before.Errors,
		}
		if diff := cmp.Diff(st.want, got); diff != "" {
			t.Errorf("%s: counters added, summed over servers (-want +got):\n%s", st.name, diff)
		}
		before = after
	}
}

// sumStats returns b's client-side counters summed over its servers, which
// must all be up.
func sumStats(t *testing.T, b cache.Backend) cache.ServerStats {
	t.Helper()
	servers, err := b.Stats(t.Context())
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if len(servers) == 0 {
		t.Fatal("Stats returned no servers")
	}
	var sum cache.ServerStats
	for _, s := range servers {
		if !s.Up {
			t.Errorf("server %q is down", s.Addr)
		}
		sum.Hits += s.Hits
		sum.Misses += s.Misses
		sum.Sets += s.Sets
		sum.Deletes += s.Deletes
		sum.Errors += s.Errors
	}
	return sum
}
