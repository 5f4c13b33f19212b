package cache_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/tasklist/tasklist/internal/cache"
)

// slowAnswers is a backend holding one value that answers like a remote
// one: a Get reads the value, then holds the answer until the test lets
// one through (release), as a reply on its way over the network. Only Get
// is used; what is under test is the wrapper's sharing, so a double is
// enough here (the in-process backend runs a cleanup goroutine that never
// lets a synctest bubble settle).
type slowAnswers struct {
	failing
	value   atomic.Pointer[string]
	release chan struct{}
	gets    atomic.Int32
}

func (b *slowAnswers) Get(ctx context.Context, key string) (cache.Item, error) {
	b.gets.Add(1)
	it := cache.Item{Key: key, Value: []byte(*b.value.Load())}
	select {
	case <-b.release:
		return it, nil
	case <-ctx.Done():
		return cache.Item{}, ctx.Err()
	}
}

// set stores v, as a write that has answered.
func (b *slowAnswers) set(v string) { b.value.Store(&v) }

func newSlowAnswers(t *testing.T) (*cache.Cache, *slowAnswers) {
	b := &slowAnswers{release: make(chan struct{})}
	return cache.New(b, cache.Options{}), b
}

// TestGetSharedNeverAnswersFromBefore checks invariant 2 for shared gets:
// callers that come while a get is on its way, after a write that get's
// answer predates, get the write (from one round trip for both), never the
// answer on its way; and a caller who leaves while waiting gets an error
// that is not counted as the backend's, while the others get their answer.
func TestGetSharedNeverAnswersFromBefore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, b := newSlowAnswers(t)
		ctx := t.Context()
		b.set("1")
		type answer struct {
			value string
			err   error
		}
		get := func(ctx context.Context, out chan<- answer) {
			it, err := c.GetShared(ctx, "version")
			out <- answer{string(it.Value), err}
		}
		first := make(chan answer, 1)
		go get(ctx, first)
		synctest.Wait() // its answer, "1", is on its way

		b.set("2")
		later := make(chan answer, 2)
		go get(ctx, later)
		synctest.Wait() // the first to come after the write sends the next round trip
		go get(ctx, later)
		gone, leave := context.WithCancel(ctx)
		left := make(chan answer, 1)
		go get(gone, left)
		synctest.Wait()
		leave()
		if a := <-left; !errors.Is(a.err, cache.ErrUnavailable) || !errors.Is(a.err, context.Canceled) {
			t.Errorf("a caller who left got %q, %v; want an error matching %v and %v", a.value, a.err, cache.ErrUnavailable, context.Canceled)
		}

		b.release <- struct{}{}
		if a := <-first; a.value != "1" || a.err != nil {
			t.Errorf("the first caller got %q, %v; want 1", a.value, a.err)
		}
		synctest.Wait() // the next round trip, for both later callers, is on its way
		b.release <- struct{}{}
		for range 2 {
			if a := <-later; a.value != "2" || a.err != nil {
				t.Errorf("a caller after the write got %q, %v; want 2", a.value, a.err)
			}
		}
		if n := b.gets.Load(); n != 2 {
			t.Errorf("the backend got %d gets for four callers, want 2 (one for the three who came while the first was on its way)", n)
		}
		if got := c.Counts(); got.Hits != 3 || got.Errors != 0 {
			t.Errorf("hits %d, errors %d; want 3 (one per caller answered) and 0", got.Hits, got.Errors)
		}
	})
}
