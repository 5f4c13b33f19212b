// Package fill gets a value from the cache or, when the cache does not hold
// a usable one, loads it from its source and stores it — correctly when many
// requests on many app instances ask at once and writers invalidate at any
// moment. Every cached thing in tasklist goes through it: the task list, the
// list's version, pages and fragments.
//
// It keeps two promises (docs/caching.md explains the races in full):
//
//   - No stale set. A miss stores a lease at the key with add, loads the
//     value, and replaces the lease by compare-and-swap. An invalidation
//     deletes the key, and with it the lease, so a value loaded before the
//     invalidation can no longer be stored after it.
//   - No stampede. Requests of one process that miss the same key share one
//     flight; flights of all processes share one lease: the others wait for
//     the value the lease holder stores. A source load runs once per key, not
//     once per waiting request.
//
// A flight's result is only given to requests that arrived before the moment
// that fixed it (the cache read that found it, the start of the source load,
// or the swap that stored it); a request arriving later may come after a
// write that the result predates, so it starts a flight of its own. Values
// under a key that names a version never go stale (Spec.Immutable), so their
// flights are shared with everyone.
//
// The cache is never the source of truth: when it fails, the value is loaded
// from the source without it (a bypass).
package fill

import (
	"cmp"
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/reqtrace"
	"github.com/tasklist/tasklist/internal/stats"
)

// Options configure a Group; zero fields take the defaults named.
type Options struct {
	// LeaseTTL is how long a lease holder may take to load and store a value
	// before the others stop waiting and load it themselves (default 5s).
	// Set it above the slowest load; LeaseTTL gives a safe value.
	LeaseTTL time.Duration
	// PollInterval is the first wait between looks at another's lease
	// (default 5ms, doubling up to 100ms).
	PollInterval time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Counter is where the Group counts what it does for its caching
	// layer: a request served from the cache is a hit, one served from
	// the source a miss (a bypass too), a value stored a set, and a load
	// made without the cache (a bypass) an error. The layer shares it, to
	// count its own work beside the fills'. Nil: a counter nobody reads.
	Counter *stats.Counter
}

// LeaseTTL is a lease lifetime that outlives a load taking up to slowest:
// twice that, plus three seconds for the database and the cache themselves.
func LeaseTTL(slowest time.Duration) time.Duration { return 3*time.Second + 2*slowest }

// Spec says how one key is filled.
type Spec struct {
	// Key is the cache key (the Cache adds its prefix).
	Key string
	// TTL is how long a stored value lives in the cache.
	TTL time.Duration
	// TTLOf, when set, gives the TTL of a loaded value instead, for values
	// that carry their own end (a session); a value it gives no positive
	// TTL is not stored.
	TTLOf func(data []byte) time.Duration
	// MaxStale, when positive, bounds staleness by time instead of by
	// invalidation: a value is served only until MaxStale has passed since
	// the source read it reflects began. Zero: until it is deleted.
	MaxStale time.Duration
	// Immutable says the key names the version of its value (a revision),
	// so any value stored under it is fresh for every request and a flight's
	// result may be shared with requests arriving at any time.
	Immutable bool
	// Load reads the value from the source. readAt is when the source read
	// that the data reflects began; the zero time means when Load was called.
	// Load runs in a flight, under a context of its own: it must not depend
	// on the context of any one request.
	Load func(ctx context.Context) (data []byte, readAt time.Time, err error)
}

// Outcome says where a value came from. It is the request trace's type, so
// that a layer records it as it is (see reqtrace.Trace.Cache).
type Outcome = reqtrace.Outcome

// The outcomes of Get.
const (
	// Hit: from the cache, by the request's own read or after waiting for
	// another request's load.
	Hit = reqtrace.Hit
	// Miss: loaded from the source, and stored if the lease still held.
	Miss = reqtrace.Miss
	// Bypass: loaded from the source without the cache, because the cache
	// failed or a lease holder took longer than LeaseTTL.
	Bypass = reqtrace.Bypass
)

// Result is a value and where it came from.
type Result struct {
	// Data is the value. It may alias the cache's copy: do not modify it.
	Data []byte
	// ReadAt is when the source read that Data reflects began.
	ReadAt  time.Time
	Outcome Outcome
}

// maxFlights bounds how often one request joins a flight whose result turns
// out too old for it before it loads the value itself.
const maxFlights = 3

// Group fills keys of one cache. Each caching layer has its own Group, so
// that it counts in its layer's Counter. A Group is safe for concurrent use.
type Group struct {
	c      *cache.Cache
	opts   Options
	counts *stats.Counter // Options.Counter

	// seq orders events in this process: request arrivals and the moments
	// flights fix their results.
	seq     atomic.Uint64
	mu      sync.Mutex
	flights map[string]*flight // the running flight of each key
}

// New returns a Group that fills keys of c.
func New(c *cache.Cache, opts Options) *Group {
	opts.LeaseTTL = cmp.Or(opts.LeaseTTL, 5*time.Second)
	opts.PollInterval = cmp.Or(opts.PollInterval, 5*time.Millisecond)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	counts := opts.Counter
	if counts == nil {
		counts = new(stats.Counter)
	}
	return &Group{c: c, opts: opts, counts: counts, flights: map[string]*flight{}}
}

// Get returns the value for spec.Key: from the cache when it holds a usable
// one, else loaded once for all the requests that want it.
func (g *Group) Get(ctx context.Context, spec Spec) (Result, error) {
	it, err := g.c.Get(ctx, spec.Key)
	return g.Resolve(ctx, spec, it, err)
}

// Resolve is Get for a caller that has read spec.Key itself (it and err
// are that read's result, from Cache.Get or a Cache.GetMulti entry), for
// instance together with other keys in one round trip. The read must have
// been made after the request arrived.
func (g *Group) Resolve(ctx context.Context, spec Spec, it cache.Item, err error) (Result, error) {
	if err == nil {
		if r, ok := g.usable(spec, it.Value); ok {
			g.counts.Hits.Add(1)
			return r, nil
		}
	}
	r, err := g.miss(ctx, spec)
	if err == nil {
		g.count(r.Outcome)
	}
	return r, err
}

// usable decodes a cache value and reports whether it may be served.
func (g *Group) usable(spec Spec, v []byte) (Result, bool) {
	f, ok := decode(v)
	if !ok || f.lease || spec.MaxStale > 0 && g.opts.Now().Sub(f.readAt) > spec.MaxStale {
		return Result{}, false
	}
	return Result{Data: f.data, ReadAt: f.readAt, Outcome: Hit}, true
}

// miss gets the value through a flight. Under Immutable any running flight
// will do; otherwise the request notes its arrival and takes a flight's
// result only if it arrived before the moment that fixed it, else it starts
// over and, after maxFlights tries, loads the value itself.
func (g *Group) miss(ctx context.Context, spec Spec) (Result, error) {
	for range maxFlights {
		arrived := g.seq.Add(1)
		f, lead := g.join(spec, arrived)
		if lead {
			// The flight records into this request's trace.
			g.fly(reqtrace.Detach(ctx), spec, f)
		} else {
			select {
			case <-f.done:
			case <-ctx.Done():
				return Result{}, ctx.Err()
			}
		}
		if f.err != nil {
			return Result{}, f.err
		}
		if spec.Immutable || arrived < f.fresh {
			return f.res, nil
		}
	}
	g.counts.Errors.Add(1)
	return g.loadSource(ctx, spec, Bypass)
}

// loadSource calls spec.Load and fills in when the read began.
func (g *Group) loadSource(ctx context.Context, spec Spec, o Outcome) (Result, error) {
	start := g.opts.Now()
	data, readAt, err := spec.Load(ctx)
	if err != nil {
		return Result{}, err
	}
	if readAt.IsZero() {
		readAt = start
	}
	return Result{Data: data, ReadAt: readAt, Outcome: o}, nil
}

func (g *Group) count(o Outcome) {
	if o == Hit {
		g.counts.Hits.Add(1)
	} else {
		g.counts.Misses.Add(1)
	}
}
