package cache

import (
	"bytes"
	"context"
	"errors"
	"sync"
)

// GetShared is Get for a key that many requests read at once, such as the
// task list's version, which every page hit reads: callers that ask for
// the key together share one round trip to the backend, instead of a write
// and a read on a connection each.
//
// A caller only ever gets the answer of a round trip sent after it called,
// never of one already on its way: that one may have been answered before
// a write the caller has seen answer, so sharing it could show the state
// before that write (invariant 2). At most one round trip per key is on its
// way at a time; callers that come meanwhile wait for it to end and share
// the next one, which the first of them sends. So a caller waits for at
// most two round trips, and the backend sees one get per round trip time
// however many requests ask.
//
// Each caller counts as a hit or a miss, as with Get; a failure counts
// once, for the round trip. A caller whose context ends while it waits for
// a round trip another sends gets the error Get gives then; the caller
// that sends one waits for its answer whatever its own context (others
// wait for it too), within GetTimeout. With a backend that never waits
// (Immediate) there is nothing to share: it is Get.
func (c *Cache) GetShared(ctx context.Context, key string) (Item, error) {
	if c.immediate || ctx.Err() != nil {
		return c.Get(ctx, key)
	}
	c.shared.mu.Lock()
	g := c.shared.gets[key]
	switch {
	case g != nil && !g.sent:
		// Not sent yet: its answer is newer than this call.
		c.shared.mu.Unlock()
		return c.await(ctx, g)
	case g != nil:
		// On its way: the next one, sent by this caller once it ends.
		next := &sharedGet{done: make(chan struct{})}
		c.shared.gets[key] = next
		c.shared.mu.Unlock()
		<-g.done // bounded by GetTimeout
		return c.send(ctx, key, next)
	}
	g = &sharedGet{done: make(chan struct{})}
	if c.shared.gets == nil {
		c.shared.gets = map[string]*sharedGet{}
	}
	c.shared.gets[key] = g
	c.shared.mu.Unlock()
	return c.send(ctx, key, g)
}

// sharedGets are the round trips of GetShared, by key: the one on its way,
// or the next, not sent yet, that callers join.
type sharedGets struct {
	mu   sync.Mutex
	gets map[string]*sharedGet
}

// sharedGet is one round trip of GetShared. it and err are set before done
// is closed.
type sharedGet struct {
	sent bool // under sharedGets.mu: callers may no longer join
	done chan struct{}
	it   Item
	err  error
}

// send makes g's round trip for its callers, under ctx without its
// cancellation (the others wait for the answer too) but with Get's
// timeout.
func (c *Cache) send(ctx context.Context, key string, g *sharedGet) (Item, error) {
	c.shared.mu.Lock()
	g.sent = true
	c.shared.mu.Unlock()
	g.it, g.err = c.Get(context.WithoutCancel(ctx), key)
	c.shared.mu.Lock()
	if c.shared.gets[key] == g {
		delete(c.shared.gets, key)
	}
	c.shared.mu.Unlock()
	close(g.done)
	return g.answer()
}

// await returns the answer of g, which it joined, to a caller of its own,
// counted as Get counts it.
func (c *Cache) await(ctx context.Context, g *sharedGet) (Item, error) {
	select {
	case <-g.done:
	case <-ctx.Done():
		return Item{}, c.fail(ctx, "get", ctx.Err())
	}
	switch {
	case g.err == nil:
		c.counts.Hits.Add(1)
	case errors.Is(g.err, ErrMiss):
		c.counts.Misses.Add(1)
	}
	return g.answer()
}

// answer is g's answer for one of its callers: with a copy of the value,
// so that no caller can change what another holds.
func (g *sharedGet) answer() (Item, error) {
	if g.err != nil {
		return Item{}, g.err
	}
	it := g.it
	it.Value = bytes.Clone(it.Value)
	return it, nil
}
