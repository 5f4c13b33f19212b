package taskcache

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/tasks"
)

// Cache keys (the cache adds its own prefix).
const (
	keyList    = "tasks:all"     // the list, under Expire, Delete and Update
	keyVersion = "tasks:version" // the version, under Version
)

// versionedKey is the list's key under Version.
func versionedKey(v int64) string { return "tasks:all:v" + strconv.FormatInt(v, 10) }

// maxFlights bounds how often one List joins a flight whose result turns
// out too old for it before it reads the database itself.
const maxFlights = 3

// flight is one in-process load of the list under one key, shared by the
// requests for that key that arrive while it runs (single flight).
type flight struct {
	done chan struct{}
	snap tasks.Snapshot
	err  error
	// fresh is the sequence number of the moment that fixed snap: the cache
	// read that returned it, the start of the database read, or the
	// compare-and-swap that stored it. A request
	// that arrived after that moment may have missed a write and must not
	// take snap.
	fresh uint64
	// fixing is the sequence number at which the flight began reading the
	// database, 0 before. Requests arriving later start a new flight at once
	// rather than wait for a result they could not take.
	fixing atomic.Uint64
}

// fix records seq as the flight's fixing moment, unless one came earlier.
func (f *flight) fix(seq uint64) { f.fixing.CompareAndSwap(0, seq) }

// List returns the task list, from the cache when it holds a fresh one.
//
// A hit is served by the request's own cache read (lookup). On a miss,
// requests for the same key share one flight. Under Version that is always
// safe: the request read the version itself, after it arrived, and any list
// stored under that version is of that revision or later. Under the other
// strategies sharing is only safe for a request that arrived before the
// flight fixed its result: a request arriving later could come after a write
// that the result predates. So each request notes its arrival in seq and
// takes the result only if it arrived earlier; otherwise it starts over
// (and, after maxFlights tries, reads the database).
func (s *Store) List(ctx context.Context) (tasks.Snapshot, error) {
	snap, key, ok := s.lookup(ctx)
	if ok {
		return snap, nil
	}
	for range maxFlights {
		arrived := s.seq.Add(1)
		if key == "" {
			var err error
			if key, err = s.listKey(ctx); err != nil {
				return tasks.Snapshot{}, err
			}
		}
		f := s.join(key, arrived)
		key = "" // a second try looks the key up again
		select {
		case <-f.done:
		case <-ctx.Done():
			return tasks.Snapshot{}, ctx.Err()
		}
		if f.err != nil {
			return tasks.Snapshot{}, f.err
		}
		if s.opts.Strategy == Version || arrived < f.fresh {
			return f.snap, nil
		}
	}
	s.stats.bypasses.Add(1)
	return s.query(ctx)
}

// lookup is the hit path: the request's own cache read, made after it
// arrived, so whatever it finds is fresh enough for it, with no flight and
// no goroutine. Under Version the version and the list under the version
// seen last are read in one round trip; only when the version has moved
// since does a second read follow. The remembered version is a guess that
// saves a round trip, never a source of truth: the version read decides.
// On a miss it returns the list's key when it learned it, so that the slow
// path need not read the version again; "" when it did not.
func (s *Store) lookup(ctx context.Context) (snap tasks.Snapshot, key string, ok bool) {
	if s.opts.Strategy != Version {
		snap, ok = s.hit(s.c.Get(ctx, keyList))
		return snap, keyList, ok
	}
	guess := versionedKey(s.lastVersion.Load())
	items, err := s.c.GetMulti(ctx, []string{keyVersion, guess})
	if err != nil {
		return tasks.Snapshot{}, "", false
	}
	v, perr := strconv.ParseInt(string(items[keyVersion].Value), 10, 64)
	if perr != nil {
		return tasks.Snapshot{}, "", false // absent, or a lease: the slow path sets it
	}
	s.lastVersion.Store(v)
	if key = versionedKey(v); key != guess {
		snap, ok = s.hit(s.c.Get(ctx, key))
		return snap, key, ok
	}
	it, found := items[guess]
	if !found {
		return tasks.Snapshot{}, key, false
	}
	snap, ok = s.hit(it, nil)
	return snap, key, ok
}

// hit decodes the result of a cache read and reports whether it is a list
// that may be served.
func (s *Store) hit(it cache.Item, err error) (tasks.Snapshot, bool) {
	if err != nil {
		return tasks.Snapshot{}, false
	}
	e, err := decode(it.Value)
	if err != nil || e.lease || !s.usable(e) {
		return tasks.Snapshot{}, false
	}
	s.stats.hits.Add(1)
	return e.snap, true
}

// join returns the running flight for key that a request which arrived at
// sequence number arrived may share, starting one if there is none.
func (s *Store) join(key string, arrived uint64) *flight {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.flights[key]; ok {
		if r := f.fixing.Load(); s.opts.Strategy == Version || r == 0 || arrived < r {
			return f
		}
	}
	f := &flight{done: make(chan struct{})}
	s.flights[key] = f
	go s.fly(key, f)
	return f
}

// fly runs a flight. It does not use any one request's context: a client
// that goes away must not fail the others waiting on the same flight.
func (s *Store) fly(key string, f *flight) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*s.opts.LeaseTTL+time.Minute)
	defer cancel()
	f.snap, f.fresh, f.err = s.load(ctx, f, key)
	s.mu.Lock()
	if s.flights[key] == f {
		delete(s.flights, key)
	}
	s.mu.Unlock()
	close(f.done)
}

// load gets the list for key from the cache or, holding the key's lease,
// from the database, returning it with the sequence number that fixed it.
func (s *Store) load(ctx context.Context, f *flight, key string) (tasks.Snapshot, uint64, error) {
	pace := s.newLeaseWait()
	for {
		at := s.seq.Add(1)
		it, err := s.c.Get(ctx, key)
		switch {
		case errors.Is(err, cache.ErrMiss):
			s.stats.misses.Add(1)
			err = s.c.Add(ctx, cache.Item{Key: key, Value: leaseValue, TTL: s.opts.LeaseTTL})
			if err == nil {
				return s.fillLeased(ctx, f, key)
			}
			if !errors.Is(err, cache.ErrNotStored) {
				return s.bypass(ctx, f)
			}
			continue // someone else took the lease: look at what they stored
		case err != nil:
			return s.bypass(ctx, f)
		}
		e, err := decode(it.Value)
		switch {
		case err == nil && !e.lease && s.usable(e):
			s.stats.hits.Add(1)
			return e.snap, at, nil
		case err == nil && e.lease:
			s.stats.leaseWaits.Add(1)
		default: // expired under Expire, or unreadable: take it over as a lease
			s.stats.misses.Add(1)
			err := s.c.CompareAndSwap(ctx, cache.Item{Key: key, Value: leaseValue, TTL: s.opts.LeaseTTL, CAS: it.CAS})
			if err == nil {
				return s.fillLeased(ctx, f, key)
			}
			if errors.Is(err, cache.ErrNotStored) || errors.Is(err, cache.ErrMiss) {
				continue
			}
			return s.bypass(ctx, f)
		}
		// Another request holds the lease and is reading the database.
		if !pace.wait(ctx) {
			return s.bypass(ctx, f)
		}
	}
}

// leaseWait paces the looks at a lease another request holds: PollInterval
// at first, doubling up to 100ms, until LeaseTTL has passed.
type leaseWait struct {
	now      func() time.Time
	deadline time.Time
	next     time.Duration
}

func (s *Store) newLeaseWait() *leaseWait {
	return &leaseWait{now: s.opts.Now, deadline: s.opts.Now().Add(s.opts.LeaseTTL), next: s.opts.PollInterval}
}

// wait sleeps until the next look. It reports false, at once, when the
// holder has had its LeaseTTL or ctx has ended: time to go to the database.
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

// fillLeased runs after this process stored a lease at key: it reads the
// list from the database and replaces the lease with it by compare-and-swap.
// If a write deleted or replaced the lease meanwhile, the swap fails and the
// list, which may predate that write, is not stored (no stale set).
func (s *Store) fillLeased(ctx context.Context, f *flight, key string) (tasks.Snapshot, uint64, error) {
	at := s.seq.Add(1)
	it, err := s.c.Get(ctx, key) // the lease's CAS token
	var lease uint64
	if err == nil {
		e, derr := decode(it.Value)
		switch {
		case derr == nil && e.lease:
			lease = it.CAS
		case derr == nil && s.usable(e): // a writer stored a fresh list already
			s.stats.hits.Add(1)
			return e.snap, at, nil
		}
	}
	fresh := s.seq.Add(1)
	f.fix(fresh)
	readAt := s.opts.Now()
	snap, err := s.query(ctx)
	if err != nil {
		s.release(ctx, key)
		return tasks.Snapshot{}, 0, err
	}
	if lease == 0 { // the lease's token is unknown: it cannot be filled
		s.release(ctx, key)
		return snap, fresh, nil
	}
	swapped := s.seq.Add(1)
	err = s.c.CompareAndSwap(ctx, cache.Item{Key: key, Value: encodeList(snap, readAt), TTL: s.ttl(), CAS: lease})
	switch {
	case err == nil:
		s.stats.sets.Add(1)
		// The lease lived from before the read until now, so no write
		// invalidated in between: the list is fresh for anyone who arrived
		// before the swap.
		fresh = swapped
	case !errors.Is(err, cache.ErrNotStored) && !errors.Is(err, cache.ErrMiss):
		s.release(ctx, key) // too large, or the cache failed
	}
	return snap, fresh, nil
}

// release deletes a lease this process took but cannot fill (the database
// failed, the list is too large for the cache, the cache failed), so that
// others go to the database now rather than wait out LeaseTTL. Deleting
// never makes anything stale; at worst it drops a list someone just stored.
func (s *Store) release(ctx context.Context, key string) {
	s.c.Delete(ctx, key)
}

// bypass reads the database without the cache, when the cache failed or a
// lease holder took longer than LeaseTTL.
func (s *Store) bypass(ctx context.Context, f *flight) (tasks.Snapshot, uint64, error) {
	s.stats.bypasses.Add(1)
	fresh := s.seq.Add(1)
	f.fix(fresh)
	snap, err := s.query(ctx)
	return snap, fresh, err
}

func (s *Store) query(ctx context.Context) (tasks.Snapshot, error) {
	s.stats.dbQueries.Add(1)
	return s.src.List(ctx)
}
