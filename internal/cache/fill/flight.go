package fill

import (
	"context"
	"errors"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/reqtrace"
)

// flight is one in-process fill of one key, shared by the requests for that
// key that arrive while it runs (single flight).
type flight struct {
	done chan struct{}
	res  Result
	err  error
	// fresh is the sequence number of the moment that fixed res: the cache
	// read that returned it, the start of the source load, or the
	// compare-and-swap that stored it. A request that arrived after that
	// moment may have missed a write and must not take res (unless the key
	// is Immutable).
	fresh uint64
	// fixing is the sequence number at which the flight began loading from
	// the source, 0 before. Requests arriving later start a new flight at
	// once rather than wait for a result they could not take.
	fixing atomic.Uint64
}

// fix records seq as the flight's fixing moment, unless one came earlier.
func (f *flight) fix(seq uint64) { f.fixing.CompareAndSwap(0, seq) }

// join returns the running flight for spec.Key that a request which arrived
// at sequence number arrived may share, starting one if there is none. A
// flight it starts records into ctx's request trace (package reqtrace).
func (g *Group) join(ctx context.Context, spec Spec, arrived uint64) *flight {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.flights[spec.Key]; ok {
		if r := f.fixing.Load(); spec.Immutable || r == 0 || arrived < r {
			return f
		}
	}
	f := &flight{done: make(chan struct{})}
	g.flights[spec.Key] = f
	go g.fly(reqtrace.Detach(ctx), spec, f)
	return f
}

// fly runs a flight under parent, a context detached from any one request
// (see reqtrace.Detach): a client that goes away must not fail the others
// waiting on the same flight, and nothing personal to one request may reach
// a value shared by all.
func (g *Group) fly(parent context.Context, spec Spec, f *flight) {
	ctx, cancel := context.WithTimeout(parent, 2*g.opts.LeaseTTL+time.Minute)
	defer cancel()
	f.res, f.fresh, f.err = g.load(ctx, f, spec)
	g.mu.Lock()
	if g.flights[spec.Key] == f {
		delete(g.flights, spec.Key)
	}
	g.mu.Unlock()
	close(f.done)
}

// load gets the value from the cache or, holding the key's lease, from the
// source, and returns it with the sequence number that fixed it.
func (g *Group) load(ctx context.Context, f *flight, spec Spec) (Result, uint64, error) {
	pace := g.newLeaseWait()
	for {
		at := g.seq.Add(1)
		it, err := g.c.Get(ctx, spec.Key)
		switch {
		case errors.Is(err, cache.ErrMiss):
			err = g.c.Add(ctx, cache.Item{Key: spec.Key, Value: leaseValue, TTL: g.opts.LeaseTTL})
			if err == nil {
				return g.fillLeased(ctx, f, spec)
			}
			if !errors.Is(err, cache.ErrNotStored) {
				if timedOut(err) {
					// The add may have reached the server before the
					// answer was late: delete what may be this
					// process's lease, so others do not wait it out.
					g.release(ctx, spec.Key)
				}
				return g.bypass(ctx, f, spec)
			}
			continue // someone else took the lease: look at what they stored
		case err != nil:
			return g.bypass(ctx, f, spec)
		}
		if r, ok := g.usable(spec, it.Value); ok {
			return r, at, nil
		}
		if fr, ok := decode(it.Value); ok && fr.lease {
			// Another request holds the lease and is loading the value.
			if !pace.wait(ctx) {
				return g.bypass(ctx, f, spec)
			}
			continue
		}
		// Too old under MaxStale, or unreadable (another build's framing):
		// take it over as a lease.
		err = g.c.CompareAndSwap(ctx, cache.Item{Key: spec.Key, Value: leaseValue, TTL: g.opts.LeaseTTL, CAS: it.CAS})
		switch {
		case err == nil:
			return g.fillLeased(ctx, f, spec)
		case errors.Is(err, cache.ErrNotStored), errors.Is(err, cache.ErrMiss):
			continue
		}
		return g.bypass(ctx, f, spec)
	}
}

// fillLeased runs after this process stored a lease at spec.Key: it loads
// the value and replaces the lease with it by compare-and-swap. If an
// invalidation deleted or replaced the lease meanwhile, the swap fails and
// the value, which may predate that invalidation, is not stored.
func (g *Group) fillLeased(ctx context.Context, f *flight, spec Spec) (Result, uint64, error) {
	at := g.seq.Add(1)
	it, err := g.c.Get(ctx, spec.Key) // the lease's CAS token
	var lease uint64
	if err == nil {
		if r, ok := g.usable(spec, it.Value); ok { // a writer stored a fresh value already
			return r, at, nil
		}
		if fr, ok := decode(it.Value); ok && fr.lease {
			lease = it.CAS
		}
	}
	fresh := g.seq.Add(1)
	f.fix(fresh)
	res, err := g.loadSource(ctx, spec, Miss)
	if err != nil {
		g.release(ctx, spec.Key)
		return Result{}, 0, err
	}
	ttl, keep := spec.TTL, true
	if spec.TTLOf != nil {
		ttl = spec.TTLOf(res.Data)
		keep = ttl > 0
	}
	if lease == 0 || !keep { // the lease's token is unknown, or nothing to keep
		g.release(ctx, spec.Key)
		return res, fresh, nil
	}
	swapped := g.seq.Add(1)
	err = g.c.CompareAndSwap(ctx, cache.Item{Key: spec.Key, Value: encode(res.Data, res.ReadAt), TTL: ttl, CAS: lease})
	switch {
	case err == nil:
		g.counts.Sets.Add(1)
		// The lease lived from before the load until now, so no
		// invalidation came in between: the value is fresh for anyone who
		// arrived before the swap.
		fresh = swapped
	case !errors.Is(err, cache.ErrNotStored) && !errors.Is(err, cache.ErrMiss):
		g.release(ctx, spec.Key) // too large, or the cache failed
	}
	return res, fresh, nil
}

// release deletes a lease this process took but cannot fill (the source
// failed, the value is too large for the cache, the cache failed), so that
// others load now rather than wait out LeaseTTL. Deleting never makes
// anything stale; at worst it drops a value someone just stored.
func (g *Group) release(ctx context.Context, key string) {
	g.c.Delete(ctx, key)
}

// timedOut reports whether err is a cache call that ran out of time, whose
// effect on the server is unknown.
func timedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.As(err, &ne) && ne.Timeout()
}

// bypass loads the value without the cache, when the cache failed or a
// lease holder took longer than LeaseTTL.
func (g *Group) bypass(ctx context.Context, f *flight, spec Spec) (Result, uint64, error) {
	g.counts.Errors.Add(1)
	fresh := g.seq.Add(1)
	f.fix(fresh)
	res, err := g.loadSource(ctx, spec, Bypass)
	return res, fresh, err
}

// leaseWait paces the looks at a lease another request holds: PollInterval
// at first, doubling up to 100ms, until LeaseTTL has passed.
type leaseWait struct {
	now      func() time.Time
	deadline time.Time
	next     time.Duration
}

func (g *Group) newLeaseWait() *leaseWait {
	return &leaseWait{now: g.opts.Now, deadline: g.opts.Now().Add(g.opts.LeaseTTL), next: g.opts.PollInterval}
}

// wait sleeps until the next look. It reports false, at once, when the
// holder has had its LeaseTTL or ctx has ended: time to load from the source.
func (w *leaseWait) wait(ctx context.Context) bool {
	if w.now().After(w.deadline) {
		return false
	}
	select {
	case <-time.After(w.next):
	case <-ctx.Done():
		return false
	}
	w.next = min(2*w.next, 100*time.Millisecond)
	return true
}
