package cachetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/cache"
)

// testConcurrent hammers overlapping keys from many goroutines. Under -race
// it finds unsynchronised state; the exact totals find lost updates: every
// successful CompareAndSwap must count, and of all the Adds of one key
// exactly one may succeed.
func testConcurrent(t *testing.T, b cache.Backend) {
	const goroutines, rounds = 32, 25
	p := prefix()
	shared := make([]string, 4)
	for i := range shared {
		shared[i] = p + "shared" + strconv.Itoa(i)
		set(t, b, shared[i], "init", 0)
	}
	addKeys := make([]string, 8)
	for i := range addKeys {
		addKeys[i] = p + "add" + strconv.Itoa(i)
	}
	cas := p + "cas"
	set(t, b, cas, "0", 0)

	var added [8]atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			ctx := t.Context()
			for r := range rounds {
				if err := concurrentRound(ctx, b, g, r, shared, addKeys, cas, &added[r%len(addKeys)]); err != nil {
					t.Errorf("goroutine %d round %d: %v", g, r, err)
					return
				}
			}
		})
	}
	wg.Wait()

	total := strconv.Itoa(goroutines * rounds)
	wantValue(t, b, cas, &total)
	got := make([]int64, len(added))
	for i := range added {
		got[i] = added[i].Load()
	}
	want := []int64{1, 1, 1, 1, 1, 1, 1, 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("successful Adds per key (-want +got):\n%s", diff)
	}
}

func concurrentRound(ctx context.Context, b cache.Backend, g, r int, shared, addKeys []string, cas string, added *atomic.Int64) error {
	value := fmt.Sprintf("g%d-r%d", g, r)
	if err := b.Set(ctx, cache.Item{Key: shared[(g+r)%len(shared)], Value: []byte(value)}); err != nil {
		return fmt.Errorf("Set: %w", err)
	}
	it, err := b.Get(ctx, shared[(g+r+1)%len(shared)])
	if err != nil {
		return fmt.Errorf("Get: %w", err)
	}
	if v := string(it.Value); v != "init" && !(strings.HasPrefix(v, "g") && strings.Contains(v, "-r")) {
		return fmt.Errorf("Get returned a value no one wrote: %q", v)
	}
	switch err := b.Add(ctx, cache.Item{Key: addKeys[r%len(addKeys)], Value: []byte(value)}); {
	case err == nil:
		added.Add(1)
	case !errors.Is(err, cache.ErrNotStored):
		return fmt.Errorf("Add: %w", err)
	}
	return casIncrement(ctx, b, cas)
}

// casIncrement adds one to the number at key with a read-modify-write loop.
func casIncrement(ctx context.Context, b cache.Backend, key string) error {
	for range 100_000 {
		it, err := b.Get(ctx, key)
		if err != nil {
			return fmt.Errorf("Get for CompareAndSwap: %w", err)
		}
		n, err := strconv.Atoi(string(it.Value))
		if err != nil {
			return fmt.Errorf("CompareAndSwap counter holds %q", it.Value)
		}
		it.Value = strconv.AppendInt(nil, int64(n+1), 10)
		err = b.CompareAndSwap(ctx, it)
		if !errors.Is(err, cache.ErrNotStored) {
			return err
		}
	}
	return errors.New("CompareAndSwap never succeeded")
}
