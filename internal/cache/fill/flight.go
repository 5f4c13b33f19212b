package fill

import (
	"context"
	"errors"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
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
	// store, when set by the flight's load, stores res for the other
	// instances after the requests waiting for it have it (see fly).
	store func()
}

// fix records seq as the flight's fixing moment, unless one came earlier.
func (f *flight) fix(seq uint64) { f.fixing.CompareAndSwap(0, seq) }

// join returns the running flight for spec.Key that a request which arrived
// at sequence number arrived may share, or, when there is none, a new one
// that the request is to fly (lead true).
func (g *Group) join(spec Spec, arrived uint64) (f *flight, lead bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.flights[spec.Key]; ok {
		if r := f.fixing.Load(); spec.Immutable || r == 0 || arrived < r {
			return f, false
		}
	}
	f = &flight{done: make(chan struct{})}
	g.flights[spec.Key] = f
	return f, true
}

// fly runs a flight under parent, a context detached from any one request
// (see reqtrace.Detach): a client that goes away must not fail the others
// waiting on the same flight, and nothing personal to one request may reach
// a value shared by all. It runs in the goroutine of the request that
// started it, which waits for it whatever its own context: a goroutine of
// its own would first wait for its turn to run behind the requests being
// served, and under load that wait was most of a flight's time.
func (g *Group) fly(parent context.Context, spec Spec, f *flight) {
	ctx, cancel := context.WithTimeout(parent, 2*g.opts.LeaseTTL+time.Minute)
	defer cancel()
	f.res, f.fresh, f.err = g.load(ctx, f, spec)
	store := f.store
	if store != nil {
		// An Immutable value, loaded: the requests waiting for it go on
		// with it now, and it is stored after (see fillImmutable). The flight can still be
		// joined meanwhile, so that a request for the key takes it from
		// here rather than find this process's lease in the cache and
		// wait for it.
		close(f.done)
		store()
	}
	g.mu.Lock()
	if g.flights[spec.Key] == f {
		delete(g.flights, spec.Key)
	}
	g.mu.Unlock()
	if store == nil {
		close(f.done)
	}
}

// load gets the value from the cache or, holding the key's lease, from the
// source, and returns it with the sequence number that fixed it.
func (g *Group) load(ctx context.Context, f *flight, spec Spec) (Result, uint64, error) {
	pace := g.newLeaseWait()
	// A flight follows a read of the key that found no usable value. Under
	// a key that names its version, a value, once there, is the one to
	// serve, so the flight first tries for the lease, and reads only if
	// that finds the key taken.
	lookFirst := !spec.Immutable
	for {
		at := g.seq.Add(1)
		it, err := cache.Item{}, cache.ErrMiss
		if lookFirst {
			it, err = g.c.Get(ctx, spec.Key)
		}
		lookFirst = true
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
	if spec.Immutable {
		return g.fillImmutable(ctx, f, spec)
	}
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
	res, fresh, ttl, keep, err := g.loadHeld(ctx, f, spec)
	if err != nil {
		return Result{}, 0, err
	}
	if lease == 0 || !keep { // the lease's token is unknown, or nothing to keep
		g.release(ctx, spec.Key)
		return res, fresh, nil
	}
	swapped := g.seq.Add(1)
	if g.swap(ctx, spec.Key, res, ttl, lease) {
		// The lease lived from before the load until now, so no
		// invalidation came in between: the value is fresh for anyone who
		// arrived before the swap.
		fresh = swapped
	}
	return res, fresh, nil
}

// swap replaces this process's lease at key, whose token is lease, by res,
// and reports whether it did. It fails when an invalidation deleted or
// replaced the lease meanwhile; a value it cannot store (too large, or the
// cache failed) releases the lease.
func (g *Group) swap(ctx context.Context, key string, res Result, ttl time.Duration, lease uint64) bool {
	err := g.c.CompareAndSwap(ctx, cache.Item{Key: key, Value: encode(res.Data, res.ReadAt), TTL: ttl, CAS: lease})
	switch {
	case err == nil:
		g.counts.Sets.Add(1)
		return true
	case !errors.Is(err, cache.ErrNotStored) && !errors.Is(err, cache.ErrMiss):
		g.release(ctx, key)
	}
	return false
}

// fillImmutable is fillLeased for a key that names the version of its
// value (Spec.Immutable): whoever stores the value and whenever, it is the
// same, and no invalidation can make it stale. So the lease is replaced by
// a plain set, without a read for its token first, and the requests
// waiting for the value have it before it is stored: the flight stores it
// after (see fly). When writes come often, every request waits for the
// pages of each new version; these round trips were most of that wait.
func (g *Group) fillImmutable(ctx context.Context, f *flight, spec Spec) (Result, uint64, error) {
	res, fresh, ttl, keep, err := g.loadHeld(ctx, f, spec)
	if err != nil {
		return Result{}, 0, err
	}
	if !keep {
		g.release(ctx, spec.Key)
		return res, fresh, nil
	}
	f.store = func() {
		if err := g.c.Set(ctx, cache.Item{Key: spec.Key, Value: encode(res.Data, res.ReadAt), TTL: ttl}); err != nil {
			g.release(ctx, spec.Key) // too large, or the cache failed
			return
		}
		g.counts.Sets.Add(1)
	}
	return res, fresh, nil
}

// loadHeld loads the value of spec.Key, whose lease this process holds,
// and returns it with the sequence number of the load's start, which fixes
// the flight, and how long it is to live in the cache (keep false: not to
// be stored). A failed load releases the lease.
func (g *Group) loadHeld(ctx context.Context, f *flight, spec Spec) (res Result, fresh uint64, ttl time.Duration, keep bool, err error) {
	fresh = g.seq.Add(1)
	f.fix(fresh)
	if res, err = g.loadSource(ctx, spec, Miss); err != nil {
		g.release(ctx, spec.Key)
		return Result{}, 0, 0, false, err
	}
	ttl, keep = spec.ttl(res.Data)
	return res, fresh, ttl, keep, nil
}

// ttl is how long data, just loaded, is to live in the cache, and whether
// it is to be stored at all (see Spec.TTLOf).
func (spec Spec) ttl(data []byte) (time.Duration, bool) {
	if spec.TTLOf == nil {
		return spec.TTL, true
	}
	ttl := spec.TTLOf(data)
	return ttl, ttl > 0
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
