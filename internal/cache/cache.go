package cache

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tasklist/tasklist/internal/stats"
)

const (
	// DefaultGetTimeout bounds a read: past it a miss is cheaper than the
	// wait, since the database can answer.
	DefaultGetTimeout = 100 * time.Millisecond
	// DefaultWriteTimeout bounds a write. It is longer than a read's because
	// a lost write costs more than a lost read: a Delete that times out
	// leaves a stale item for its TTL.
	DefaultWriteTimeout = 250 * time.Millisecond
	// DefaultLogInterval is how often each kind of backend error is logged.
	DefaultLogInterval = 10 * time.Second
)

// Options configures New. The zero value is usable: no prefix, default
// timeouts, the backend's item size limit, no logging.
type Options struct {
	// Prefix is prepended to every key, so that several apps or versions
	// can share one memcached.
	Prefix string
	// GetTimeout bounds Get, GetMulti, Ping and Stats; zero means
	// DefaultGetTimeout.
	GetTimeout time.Duration
	// WriteTimeout bounds Set, Add, CompareAndSwap and Delete; zero means
	// DefaultWriteTimeout.
	WriteTimeout time.Duration
	// MaxItemSize, if positive, replaces the backend's MaxItemSize as the
	// largest value passed on to it.
	MaxItemSize int
	// Logger receives backend failures, at most one line per kind of error
	// per LogInterval; nil means no logging. Keys and values are never
	// logged: keys may be session IDs.
	Logger *slog.Logger
	// LogInterval is the shortest time between two log lines for one kind
	// of error; zero means DefaultLogInterval.
	LogInterval time.Duration
	// Now is the clock for LogInterval; nil means time.Now.
	Now func() time.Time
}

// Cache is what every caching layer of tasklist uses in place of a Backend.
// It applies one key policy (Prefix, then Key), bounds every call with a
// timeout, refuses oversized values before they reach the backend, and fails
// open: an error of the backend's own (down, unreachable, too slow) comes
// back matching ErrUnavailable, is counted, and is logged without flooding.
// Callers treat any error from a read as a miss and carry on without the
// cache.
//
// A Cache is safe for concurrent use.
type Cache struct {
	b Backend
	// immediate is set for a backend whose calls never wait (see
	// Immediate): its calls get no timeout.
	immediate    bool
	prefix       string
	getTimeout   time.Duration
	writeTimeout time.Duration
	maxItemSize  int
	counts       stats.Counter
	errs         *errorLog
	shared       sharedGets // GetShared's round trips
}

// New returns a Cache over b. The Cache owns b: Close closes it.
func New(b Backend, opts Options) *Cache {
	logger, now := opts.Logger, opts.Now
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	_, immediate := b.(Immediate)
	return &Cache{
		b:            b,
		immediate:    immediate,
		prefix:       opts.Prefix,
		getTimeout:   cmp.Or(opts.GetTimeout, DefaultGetTimeout),
		writeTimeout: cmp.Or(opts.WriteTimeout, DefaultWriteTimeout),
		maxItemSize:  cmp.Or(opts.MaxItemSize, b.MaxItemSize()),
		errs: &errorLog{
			logger:   logger.With("backend", b.Name()),
			interval: cmp.Or(opts.LogInterval, DefaultLogInterval),
			now:      now,
		},
	}
}

// Immediate is implemented by a Backend whose calls never wait for
// anything but memory, such as the in-process cache: a Cache bounds none of
// its calls with a timeout, which would cost a timer and a context per call
// and bound nothing.
type Immediate interface {
	Backend
	// Immediate marks the backend; it does nothing.
	Immediate()
}

// noCancel is the cancel func of a context that was not bounded.
func noCancel() {}

// withTimeout bounds ctx by d, unless ctx already ends sooner or the
// backend never waits.
func (c *Cache) withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if c.immediate {
		return ctx, noCancel
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= d {
		return ctx, noCancel
	}
	return context.WithTimeout(ctx, d)
}

// Get returns the item for key, with Item.Key set to key. Any error means
// the caller should go without the cache: ErrMiss, or an error matching
// ErrUnavailable when the backend failed or took longer than GetTimeout.
func (c *Cache) Get(ctx context.Context, key string) (Item, error) {
	tctx, cancel := c.withTimeout(ctx, c.getTimeout)
	it, err := c.b.Get(tctx, Key(c.prefix, key))
	cancel()
	if errors.Is(err, ErrMiss) {
		c.counts.Misses.Add(1)
		return Item{}, err
	}
	if err != nil {
		return Item{}, c.fail(ctx, "get", err)
	}
	c.counts.Hits.Add(1)
	it.Key = key
	return it, nil
}

// GetMulti returns the items found among keys in one round trip per
// server, in a map keyed by the caller's keys. Absent keys are left out.
//
// When the backend fails for some or all of the keys (one server of a
// cluster is down, say), the map still holds what answered, and comes with
// an error matching ErrUnavailable: keys whose server failed are absent
// from the map, as misses are, and a *PartialError in the error lists them
// (as the caller's keys). The caller uses what it got and treats every
// absent key as a miss. Keys that got no answer count as neither hits nor
// misses; the failure counts once in Errors. Any other error (ErrInvalid)
// comes with a nil map.
func (c *Cache) GetMulti(ctx context.Context, keys []string) (map[string]Item, error) {
	if len(keys) == 0 {
		return map[string]Item{}, nil
	}
	bkeys := make([]string, len(keys))
	for i, k := range keys {
		bkeys[i] = Key(c.prefix, k)
	}
	tctx, cancel := c.withTimeout(ctx, c.getTimeout)
	found, err := c.b.GetMulti(tctx, bkeys)
	cancel()
	answered := func(string) bool { return true }
	if err != nil {
		var partial *PartialError
		if errors.As(err, &partial) {
			unanswered := make(map[string]bool, len(partial.Unanswered))
			for _, k := range partial.Unanswered {
				unanswered[k] = true
			}
			answered = func(bk string) bool { return !unanswered[bk] }
			err = partial.Err
		} else { // nothing answered
			found, answered = nil, func(string) bool { return false }
		}
		if err = c.fail(ctx, "get_multi", err); !errors.Is(err, ErrUnavailable) {
			return nil, err
		}
	}
	items := make(map[string]Item, len(found))
	var hits, misses uint64
	var unanswered []string
	for i, bk := range bkeys {
		it, ok := found[bk]
		switch {
		case ok:
			it.Key = keys[i]
			items[keys[i]] = it
			hits++
		case answered(bk):
			misses++
		default:
			unanswered = append(unanswered, keys[i])
		}
	}
	c.counts.Hits.Add(hits)
	c.counts.Misses.Add(misses)
	if err != nil {
		return items, &PartialError{Unanswered: unanswered, Err: err}
	}
	return items, nil
}

// writeOp names a storage command for store.
type writeOp int

const (
	opSet writeOp = iota
	opAdd
	opCAS
	numWriteOps
)

var writeOpNames = [...]string{opSet: "set", opAdd: "add", opCAS: "cas"}

// Set stores item unconditionally. A value larger than MaxItemSize is
// refused with ErrTooLarge.
func (c *Cache) Set(ctx context.Context, item Item) error { return c.store(ctx, opSet, item) }

// Add stores item only if its key is absent, else ErrNotStored.
func (c *Cache) Add(ctx context.Context, item Item) error { return c.store(ctx, opAdd, item) }

// CompareAndSwap stores item only if it is unchanged since the read that
// returned item.CAS; else ErrNotStored (changed) or ErrMiss (gone).
func (c *Cache) CompareAndSwap(ctx context.Context, item Item) error {
	return c.store(ctx, opCAS, item)
}

func (c *Cache) store(ctx context.Context, op writeOp, item Item) error {
	if len(item.Value) > c.maxItemSize {
		c.counts.Errors.Add(1)
		return fmt.Errorf("cache: %s: value of %d bytes exceeds %d: %w", writeOpNames[op], len(item.Value), c.maxItemSize, ErrTooLarge)
	}
	item.Key = Key(c.prefix, item.Key)
	tctx, cancel := c.withTimeout(ctx, c.writeTimeout)
	var err error
	switch op {
	case opSet:
		err = c.b.Set(tctx, item)
	case opAdd:
		err = c.b.Add(tctx, item)
	case opCAS:
		err = c.b.CompareAndSwap(tctx, item)
	}
	cancel()
	if err != nil {
		return c.fail(ctx, writeOpNames[op], err)
	}
	c.counts.Sets.Add(1)
	return nil
}

// Delete removes key; deleting an absent key is not an error.
func (c *Cache) Delete(ctx context.Context, key string) error {
	tctx, cancel := c.withTimeout(ctx, c.writeTimeout)
	err := c.b.Delete(tctx, Key(c.prefix, key))
	cancel()
	if err != nil {
		return c.fail(ctx, "delete", err)
	}
	c.counts.Deletes.Add(1)
	return nil
}

// Ping reports whether the backend can serve requests (see Backend.Ping),
// waiting at most GetTimeout, for health checks. It reads no key and counts
// nothing, so health checks leave Counts and Stats as they are. Its error,
// which matches ErrUnavailable, is neither counted nor logged: the caller
// reports it.
func (c *Cache) Ping(ctx context.Context) error {
	tctx, cancel := c.withTimeout(ctx, c.getTimeout)
	defer cancel()
	err := c.b.Ping(tctx)
	if err == nil {
		return nil
	}
	if !errors.Is(err, ErrUnavailable) {
		err = fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return fmt.Errorf("cache: ping on %s: %w", c.b.Name(), err)
}

// Counts returns this Cache's own counters since New, every key of every
// layer included:
//
//   - Hits and Misses count keys read by Get and GetMulti, as the
//     backend's Stats defines them; a read that failed counts in Errors
//     instead.
//   - Sets counts values stored by Set, Add and CompareAndSwap; an Add or
//     CompareAndSwap that did not store is not counted.
//   - Deletes counts the Deletes that succeeded, whether or not the key
//     was there: the invalidations made (the servers' Deletes count the
//     keys they removed).
//   - Errors counts the calls the backend failed (ErrUnavailable), not
//     counting those whose caller's context ended first, and the values
//     refused as larger than MaxItemSize.
func (c *Cache) Counts() stats.Counts { return c.counts.Counts() }

// Stats returns the backend's view of each server (see Backend.Stats). If
// the backend cannot answer within GetTimeout, it comes back with an error
// matching ErrUnavailable and whatever servers the backend reported
// (memcached: every server, those that did not answer marked down).
func (c *Cache) Stats(ctx context.Context) ([]stats.Server, error) {
	tctx, cancel := c.withTimeout(ctx, c.getTimeout)
	servers, err := c.b.Stats(tctx)
	cancel()
	if err != nil {
		return servers, c.fail(ctx, "stats", err)
	}
	return servers, nil
}

// MaxItemSize is the largest value, in bytes, that Set, Add and
// CompareAndSwap pass on to the backend.
func (c *Cache) MaxItemSize() int { return c.maxItemSize }

// Name is the backend's name ("local", "memcache", "memcache+sasl").
func (c *Cache) Name() string { return c.b.Name() }

// Close closes the backend. The Cache is unusable afterwards.
func (c *Cache) Close() error { return c.b.Close() }
