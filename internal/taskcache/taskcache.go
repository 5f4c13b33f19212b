// Package taskcache is the query cache in front of the task store: the
// tutorial's cached "tasks.all", kept fresh by one of four invalidation
// strategies, safe across many app instances sharing one memcached.
//
// It keeps three promises (docs/caching.md):
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
// The leases and flights are package fill's; this package says what is
// cached under which key, and what a write invalidates. It also keeps the
// list's version (Version), by which the page and fragment caches key what
// they derive from the list. docs/caching.md explains which mechanism closes
// which race.
package taskcache

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/fill"
	"github.com/tasklist/tasklist/internal/reqtrace"
	"github.com/tasklist/tasklist/internal/stats"
	"github.com/tasklist/tasklist/internal/tasks"
)

// Strategy is how writes keep the cached list fresh.
type Strategy string

// The four strategies of the tutorial.
const (
	// Expire: the list's version is read from the database again once TTL
	// has passed since the previous read of it began, so a write shows
	// within TTL (bounded staleness), and a list that did not change stays
	// cached. Its writes invalidate only the keys the other strategies read
	// (see VolatileKeys), for instances with other strategies sharing the
	// cache.
	Expire Strategy = "expire"
	// Delete: writes delete the cached list (and the version).
	Delete Strategy = "delete"
	// Version: the list's key carries a version that writes raise; the
	// version lives in the shared cache and equals a database revision, so
	// it never goes back, not even after its own eviction.
	Version Strategy = "version"
	// Update: writes delete the cached list and store the fresh one; a
	// newer revision is never replaced by an older one.
	Update Strategy = "update"
)

// Source is the database side: *tasks.Store.
type Source interface {
	List(ctx context.Context) (tasks.Snapshot, error)
	Page(ctx context.Context, after int64, n int) (tasks.Page, error)
	// Head reads the database's current version (see tasks.Store.Head).
	Head(ctx context.Context) (tasks.Version, error)
	// Identity is the database's identity as read last, "" before any read.
	Identity() string
	Add(ctx context.Context, name string) (tasks.Task, tasks.Version, error)
	SetDone(ctx context.Context, id int64, done bool, seen string) (tasks.Task, tasks.Version, error)
	Remove(ctx context.Context, id int64, seen string) (tasks.Task, tasks.Version, error)
	Restore(ctx context.Context, db string, t tasks.Task) (tasks.Task, tasks.Version, error)
}

// Options configure a Store; zero fields take the defaults named.
type Options struct {
	// Strategy defaults to Version.
	Strategy Strategy
	// TTL bounds staleness under Expire (default 5s): how long a version
	// read from the database is used, counted from the start of that read.
	TTL time.Duration
	// MaxAge is how long a cached list or version lives otherwise (default
	// 1h): a safety net if an invalidation is lost for good.
	MaxAge time.Duration
	// Uncached turns the query cache off: List reads the database every
	// time. Version still works, for the page and fragment caches.
	Uncached bool
	// LeaseTTL is how long a lease holder may take to fill the cache before
	// others stop waiting and read the database themselves (default 5s; see
	// fill.LeaseTTL for one that outlives a slow query).
	LeaseTTL time.Duration
	// InvalidateTimeout is how long a write retries an invalidation that
	// fails (memcached unreachable) before giving up (default 3s).
	InvalidateTimeout time.Duration
	// PollInterval is the first wait between looks at another's lease
	// (default 5ms, doubling up to 100ms).
	PollInterval time.Duration
	// ConfirmEvery is how often Run confirms the cached version against the
	// database (see Confirm); default TTL.
	ConfirmEvery time.Duration
	// Unavailable reports whether the database failed its last call
	// (dbstats.Store.Unavailable); nil means never. A read served from the
	// cache meanwhile says so in its trace (reqtrace.Trace.DBUnavailable):
	// what it shows is the last version known, which may be behind.
	Unavailable func() bool
	// Logger receives invalidation failures; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Store is a tasks store whose List is cached. It is safe for concurrent use.
type Store struct {
	src  Source
	c    *cache.Cache
	opts Options
	log  *slog.Logger
	// list fills the cached list, counting in counts, the query layer's
	// counter (see Counts); version fills the version key, the
	// bookkeeping of every layer, which counts nowhere.
	list, version *fill.Group
	counts        stats.Counter
	// lastRevision is the revision of the version this process saw last
	// (see VersionWith); lastVersion how the version is kept, made last
	// (see versionOf).
	lastRevision atomic.Int64
	lastVersion  atomic.Pointer[dbVersion]
	// lastDecoded is the list decoded last (see decode).
	lastDecoded atomic.Pointer[decoded]
	// tooLarge is set while the list is too large to cache (see Page).
	tooLarge atomic.Bool
	// unsure is set after a write of unknown outcome, until a check
	// against the database has succeeded (see Run); wake asks Run for a
	// check now.
	unsure atomic.Bool
	wake   chan struct{}
}

// served records in ctx's trace that a read was served while the database
// is unavailable (see Options.Unavailable): from the cache.
func (s *Store) served(ctx context.Context) {
	if s.opts.Unavailable != nil && s.opts.Unavailable() {
		reqtrace.From(ctx).DBUnavailable()
	}
}

// Strategies lists the strategies, the default first.
func Strategies() []Strategy { return []Strategy{Version, Expire, Delete, Update} }

// ParseStrategy returns the strategy named name (TASKLIST_INVALIDATION's
// value), or an error that lists the names.
func ParseStrategy(name string) (Strategy, error) {
	if st := Strategy(name); slices.Contains(Strategies(), st) {
		return st, nil
	}
	names := make([]string, 0, len(Strategies()))
	for _, st := range Strategies() {
		names = append(names, string(st))
	}
	return "", fmt.Errorf("must be one of %s", strings.Join(names, ", "))
}

// New returns a Store that caches src's list in c.
func New(src Source, c *cache.Cache, opts Options) (*Store, error) {
	opts.Strategy = cmp.Or(opts.Strategy, Version)
	if _, err := ParseStrategy(string(opts.Strategy)); err != nil {
		return nil, fmt.Errorf("taskcache: strategy %q: %w", opts.Strategy, err)
	}
	opts.TTL = cmp.Or(opts.TTL, 5*time.Second)
	opts.MaxAge = cmp.Or(opts.MaxAge, time.Hour)
	opts.InvalidateTimeout = cmp.Or(opts.InvalidateTimeout, 3*time.Second)
	opts.ConfirmEvery = cmp.Or(opts.ConfirmEvery, opts.TTL)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{src: src, c: c, opts: opts, log: log, wake: make(chan struct{}, 1)}
	fo := fill.Options{LeaseTTL: opts.LeaseTTL, PollInterval: opts.PollInterval, Now: opts.Now}
	s.version = fill.New(c, fo)
	fo.Counter = &s.counts
	s.list = fill.New(c, fo)
	return s, nil
}

// Add adds a task, then invalidates the cached list before returning.
func (s *Store) Add(ctx context.Context, name string) (tasks.Task, tasks.Version, error) {
	t, v, err := s.src.Add(ctx, name)
	s.afterWrite(ctx, v, err)
	return t, v, err
}

// SetDone marks a task done or open (see tasks.Store.SetDone), then
// invalidates the cached list.
func (s *Store) SetDone(ctx context.Context, id int64, done bool, seen string) (tasks.Task, tasks.Version, error) {
	t, v, err := s.src.SetDone(ctx, id, done, seen)
	s.afterWrite(ctx, v, err)
	return t, v, err
}

// Remove deletes a task (see tasks.Store.Remove), then invalidates the
// cached list.
func (s *Store) Remove(ctx context.Context, id int64, seen string) (tasks.Task, tasks.Version, error) {
	t, v, err := s.src.Remove(ctx, id, seen)
	s.afterWrite(ctx, v, err)
	return t, v, err
}

// Restore puts a removed task back (see tasks.Store.Restore), then
// invalidates the cached list.
func (s *Store) Restore(ctx context.Context, db string, t tasks.Task) (tasks.Task, tasks.Version, error) {
	t, v, err := s.src.Restore(ctx, db, t)
	s.afterWrite(ctx, v, err)
	return t, v, err
}

// afterWrite invalidates after a write that succeeded. A write that failed
// before its COMMIT changed nothing, so it invalidates nothing: while the
// database is unreachable, the cached list and pages of the last known
// version stay served. A write whose COMMIT was sent but not answered may
// or may not have been applied, and the database cannot say which while it
// does not answer: the cache keeps serving, and Run checks it against the
// database as soon as the database answers again (see unsure), which
// invalidates if the write was applied. Invalidating twice is harmless.
func (s *Store) afterWrite(ctx context.Context, v tasks.Version, err error) {
	switch {
	case err == nil:
		s.tooLarge.Store(false) // the list may fit again: try it once
		s.invalidate(ctx, v)
	case errors.Is(err, tasks.ErrOutcomeUnknown):
		s.unsure.Store(true)
		select {
		case s.wake <- struct{}{}:
		default: // a check is due already
		}
	}
}

// versioned reports whether the list's key carries its version.
func (s *Store) versioned() bool { return s.opts.Strategy == Version || s.opts.Strategy == Expire }

// ttl is how long a stored version lives in the cache.
func (s *Store) ttl() time.Duration {
	if s.opts.Strategy == Expire {
		return s.opts.TTL
	}
	return s.opts.MaxAge
}

// maxStale is the version's staleness bound (fill.Spec.MaxStale): the TTL
// under Expire, none (invalidation instead) under the others.
func (s *Store) maxStale() time.Duration {
	if s.opts.Strategy == Expire {
		return s.opts.TTL
	}
	return 0
}
