// Package taskcache is the query cache in front of the task store: the
// tutorial's cached "tasks.all", kept fresh by one of four invalidation
// strategies, safe across many app instances sharing one memcached.
//
// It keeps three promises (DESIGN.md invariants 1–3):
//
//   - The cache is never the source of truth: any cache failure means the
//     list is read from the database.
//   - No stale reads: once a write has answered, no read that starts later,
//     on any instance, shows the list from before it (except with Expire,
//     which is stale for at most its TTL).
//   - No stampede: when the list is not cached, the slow query runs once,
//     not once per waiting request — once per instance through an in-process
//     flight, and once across instances through a lease in the shared cache.
//
// docs/caching.md explains which mechanism closes which race.
package taskcache

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/tasks"
)

// Strategy is how writes keep the cached list fresh.
type Strategy string

// The four strategies of the tutorial.
const (
	// Expire: writes do nothing; a cached list is used for at most TTL after
	// the database read that produced it began. Bounded staleness.
	Expire Strategy = "expire"
	// Delete: writes delete the cached list.
	Delete Strategy = "delete"
	// Version: the list's key carries a version that writes raise; the
	// version lives in the shared cache and equals a database revision, so
	// it never goes back, not even after its own eviction.
	Version Strategy = "version"
	// Update: writes read the fresh list and store it; a newer revision is
	// never replaced by an older one.
	Update Strategy = "update"
)

// Source is the database side: *tasks.Store.
type Source interface {
	List(ctx context.Context) (tasks.Snapshot, error)
	Revision(ctx context.Context) (int64, error)
	Add(ctx context.Context, name string) (tasks.Task, int64, error)
	Toggle(ctx context.Context, id int64) (tasks.Task, int64, error)
	Remove(ctx context.Context, id int64) (int64, error)
}

// Options configure a Store; zero fields take the defaults named.
type Options struct {
	// Strategy defaults to Version.
	Strategy Strategy
	// TTL bounds staleness under Expire (default 5s).
	TTL time.Duration
	// MaxAge is how long a cached list lives under the other strategies
	// (default 1h): a safety net if an invalidation is lost for good.
	MaxAge time.Duration
	// LeaseTTL is how long a lease holder may take to fill the cache before
	// others stop waiting and read the database themselves (default 5s; set
	// it above the slow query's duration).
	LeaseTTL time.Duration
	// InvalidateTimeout is how long a write retries an invalidation that
	// fails (memcached unreachable) before giving up (default 3s).
	InvalidateTimeout time.Duration
	// PollInterval is the first wait between looks at another's lease
	// (default 5ms, doubling up to 100ms).
	PollInterval time.Duration
	// Logger receives invalidation failures; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Store is a tasks store whose List is cached. It is safe for concurrent use.
type Store struct {
	src   Source
	c     *cache.Cache
	opts  Options
	log   *slog.Logger
	stats counters

	// seq orders events in this process: request arrivals and the moments
	// flights fix their results. See List.
	seq     atomic.Uint64
	mu      sync.Mutex
	flights map[string]*flight // the running flight of each key
	// lastVersion is the version this process saw last (see lookup).
	lastVersion atomic.Int64
}

// New returns a Store that caches src's list in c.
func New(src Source, c *cache.Cache, opts Options) (*Store, error) {
	opts.Strategy = cmp.Or(opts.Strategy, Version)
	switch opts.Strategy {
	case Expire, Delete, Version, Update:
	default:
		return nil, errors.New("taskcache: unknown strategy " + string(opts.Strategy))
	}
	opts.TTL = cmp.Or(opts.TTL, 5*time.Second)
	opts.MaxAge = cmp.Or(opts.MaxAge, time.Hour)
	opts.LeaseTTL = cmp.Or(opts.LeaseTTL, 5*time.Second)
	opts.InvalidateTimeout = cmp.Or(opts.InvalidateTimeout, 3*time.Second)
	opts.PollInterval = cmp.Or(opts.PollInterval, 5*time.Millisecond)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{src: src, c: c, opts: opts, log: log, flights: map[string]*flight{}}, nil
}

// Add adds a task, then invalidates the cached list before returning.
func (s *Store) Add(ctx context.Context, name string) (tasks.Task, int64, error) {
	t, rev, err := s.src.Add(ctx, name)
	s.afterWrite(ctx, rev, err)
	return t, rev, err
}

// Toggle flips a task's done flag, then invalidates the cached list.
func (s *Store) Toggle(ctx context.Context, id int64) (tasks.Task, int64, error) {
	t, rev, err := s.src.Toggle(ctx, id)
	s.afterWrite(ctx, rev, err)
	return t, rev, err
}

// Remove deletes a task, then invalidates the cached list.
func (s *Store) Remove(ctx context.Context, id int64) (int64, error) {
	rev, err := s.src.Remove(ctx, id)
	s.afterWrite(ctx, rev, err)
	return rev, err
}

// afterWrite invalidates after every write that may have changed the list:
// one that succeeded, and one that failed in a way that leaves its commit in
// doubt (a connection lost during COMMIT). Only a write that found no such
// task surely changed nothing. Invalidating twice is harmless.
func (s *Store) afterWrite(ctx context.Context, rev int64, err error) {
	if !errors.Is(err, tasks.ErrNotFound) {
		s.invalidate(ctx, rev)
	}
}

// ttl is how long a stored list lives in the cache.
func (s *Store) ttl() time.Duration {
	if s.opts.Strategy == Expire {
		return s.opts.TTL
	}
	return s.opts.MaxAge
}

// usable reports whether a cached list may be served: always, except under
// Expire once TTL has passed since its database read began. Measuring from
// the read's start (not from the set) keeps a slow query's result from
// living past the bound.
func (s *Store) usable(e entry) bool {
	return s.opts.Strategy != Expire || s.opts.Now().Sub(e.readAt) <= s.opts.TTL
}
