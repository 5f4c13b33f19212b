package cachetest

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/stats"
)

// testStats holds the client-side counters to their definitions (see
// cache.Backend's Stats), step by step: each step must add exactly its counts,
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
		want    stats.Counts // the counts the step adds
	}{
		{"Get of an absent key is a miss", read(a), cache.ErrMiss, stats.Counts{Misses: 1}},
		{"Set is a set", store(b.Set, a), nil, stats.Counts{Sets: 1}},
		{"Get of a present key is a hit", read(a), nil, stats.Counts{Hits: 1}},
		{"GetMulti counts each key", getMulti(a, absent, p+"absent2"), nil, stats.Counts{Hits: 1, Misses: 2}},
		{"GetMulti of no keys counts nothing", getMulti(), nil, stats.Counts{}},
		{"Add of an absent key is a set", store(b.Add, added), nil, stats.Counts{Sets: 1}},
		{"Add of a present key is not", store(b.Add, added), cache.ErrNotStored, stats.Counts{}},
		{"Set over the token's item", store(b.Set, a), nil, stats.Counts{Sets: 1}},
		{"CompareAndSwap of a changed item is not a set", swap, cache.ErrNotStored, stats.Counts{}},
		{"Get for a fresh token", read(a), nil, stats.Counts{Hits: 1}},
		{"CompareAndSwap of an unchanged item is a set", swap, nil, stats.Counts{Sets: 1}},
		{"Get for another token", read(a), nil, stats.Counts{Hits: 1}},
		{"Delete of a present key is a delete", func() error { return b.Delete(ctx, a) }, nil, stats.Counts{Deletes: 1}},
		{"Delete of an absent key is not", func() error { return b.Delete(ctx, a) }, nil, stats.Counts{}},
		{"CompareAndSwap of a deleted item is not a set", swap, cache.ErrMiss, stats.Counts{}},
		{"Ping counts nothing", func() error { return b.Ping(ctx) }, nil, stats.Counts{}},
		{"a value too large is not a set", func() error {
			return b.Set(ctx, cache.Item{Key: absent, Value: make([]byte, b.MaxItemSize()+1)})
		}, cache.ErrTooLarge, stats.Counts{}},
	}
	before := sumStats(t, b)
	for _, st := range steps {
		checkErr(t, st.name, st.do(), st.wantErr)
		after := sumStats(t, b)
		got := stats.Counts{
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
func sumStats(t *testing.T, b cache.Backend) stats.Counts {
	t.Helper()
	servers, err := b.Stats(t.Context())
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if len(servers) == 0 {
		t.Fatal("Stats returned no servers")
	}
	var sum stats.Counts
	for _, s := range servers {
		if !s.Up {
			t.Errorf("server %q is down", s.Addr)
		}
		sum = sum.Add(s.Client)
	}
	return sum
}
