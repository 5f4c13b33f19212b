// Package local is the in-process cache.Backend: what tasklist uses when no
// memcached is configured, so that one binary runs with nothing installed.
//
// It is built on otter, which bounds the cache by bytes (keys, values and an
// estimate of each entry's overhead), expires each entry on its own TTL and
// makes a write readable at once. On top of that it gives the memcached
// semantics the cache package promises, so that code tested against it
// behaves the same against memcached: CAS tokens, atomic Add and
// CompareAndSwap, TTLs rounded up to whole seconds and an item size limit.
package local

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/stats"
)

const (
	// DefaultMaxBytes is the default bound on the cache's weight.
	DefaultMaxBytes = 64 << 20
	// DefaultMaxItemSize is memcached's default item size limit.
	DefaultMaxItemSize = 1 << 20
	// entryOverhead estimates what an entry costs beyond its key and value:
	// otter's node, the entry struct and the hash table's slot.
	entryOverhead = 128
)

// Options configures New. The zero value gives a 64 MiB cache of items up to
// 1 MiB on the real clock.
type Options struct {
	// MaxBytes bounds the cache's weight: the bytes of its keys and values
	// plus a per-entry overhead. Beyond it the least useful entries are
	// evicted. Zero means DefaultMaxBytes.
	MaxBytes int64
	// MaxItemSize is the largest value stored, in bytes. Zero means
	// DefaultMaxItemSize. It is lowered to MaxBytes/4 if larger, so that one
	// item never flushes the whole cache.
	MaxItemSize int
	// Clock, if set, is the time source for TTLs, so tests can expire items
	// without sleeping. A cache on such a clock skips otter's periodic
	// clean-up; expired items are still never returned. Nil means the real
	// clock.
	Clock func() time.Time
}

// Backend is the in-process cache.Backend. It is safe for concurrent use.
type Backend struct {
	store       *otter.Cache[string, *entry]
	maxBytes    int64
	maxItemSize int
	casSeq      atomic.Uint64 // the last CAS token handed out

	counts    stats.Counter // the client's counters (see cache.Backend's Stats)
	evictions atomic.Uint64
}

var _ cache.Immediate = (*Backend)(nil)

// Immediate tells cache.Cache that no call waits (see cache.Immediate).
func (*Backend) Immediate() {}

// entry is a stored item. It is never changed once stored: every write
// stores a new entry, so readers need no lock.
type entry struct {
	value []byte
	cas   uint64
	ttl   time.Duration // rounded up to whole seconds; 0 is forever
}

// New returns a Backend configured by opts.
func New(opts Options) (*Backend, error) {
	if opts.MaxBytes < 0 || opts.MaxItemSize < 0 {
		return nil, fmt.Errorf("local: negative MaxBytes (%d) or MaxItemSize (%d)", opts.MaxBytes, opts.MaxItemSize)
	}
	b := &Backend{maxBytes: cmp.Or(opts.MaxBytes, DefaultMaxBytes)}
	b.maxItemSize = int(min(int64(cmp.Or(opts.MaxItemSize, DefaultMaxItemSize)), b.maxBytes/4))
	o := &otter.Options[string, *entry]{
		MaximumWeight:    uint64(b.maxBytes),
		Weigher:          weigh,
		ExpiryCalculator: expiry{},
		OnAtomicDeletion: func(e otter.DeletionEvent[string, *entry]) {
			if e.Cause == otter.CauseOverflow {
				b.evictions.Add(1)
			}
		},
	}
	if opts.Clock != nil {
		o.Clock = clock(opts.Clock)
	}
	store, err := otter.New(o)
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	b.store = store
	return b, nil
}

func weigh(key string, e *entry) uint32 {
	return uint32(min(len(key)+len(e.value)+entryOverhead, math.MaxUint32))
}

// expiry gives each entry its own TTL, counted from its last write.
type expiry struct{}

func (expiry) ExpireAfterCreate(e otter.Entry[string, *entry]) time.Duration {
	return lifetime(e.Value.ttl)
}

func (expiry) ExpireAfterUpdate(e otter.Entry[string, *entry], _ *entry) time.Duration {
	return lifetime(e.Value.ttl)
}

func (expiry) ExpireAfterRead(e otter.Entry[string, *entry]) time.Duration {
	return e.ExpiresAfter()
}

// lifetime maps a TTL to otter's terms, where forever is the longest duration.
func lifetime(ttl time.Duration) time.Duration {
	if ttl == 0 {
		return math.MaxInt64
	}
	return ttl
}

// clock adapts Options.Clock to otter. It never ticks.
type clock func() time.Time

func (c clock) NowNano() int64                    { return c().UnixNano() }
func (clock) Tick(time.Duration) <-chan time.Time { return nil }

// roundTTL checks ttl and rounds it up to whole seconds.
func roundTTL(op string, ttl time.Duration) (time.Duration, error) {
	if ttl < 0 {
		return 0, fmt.Errorf("local: %s: negative TTL %v: %w", op, ttl, cache.ErrInvalid)
	}
	if ttl%time.Second != 0 && ttl < math.MaxInt64-time.Second {
		ttl = ttl.Truncate(time.Second) + time.Second
	}
	return ttl, nil
}

// newEntry checks a write of item and returns the entry to store, with a
// fresh CAS token. Error messages never hold keys or values: keys may be
// session IDs.
func (b *Backend) newEntry(op string, item cache.Item) (*entry, error) {
	if !cache.ValidKey(item.Key) {
		return nil, fmt.Errorf("local: %s: key of %d bytes is empty, too long or has unsafe bytes: %w", op, len(item.Key), cache.ErrInvalid)
	}
	if len(item.Value) > b.maxItemSize {
		return nil, fmt.Errorf("local: %s: value of %d bytes exceeds %d: %w", op, len(item.Value), b.maxItemSize, cache.ErrTooLarge)
	}
	ttl, err := roundTTL(op, item.TTL)
	if err != nil {
		return nil, err
	}
	return &entry{value: clone(item.Value), cas: b.casSeq.Add(1), ttl: ttl}, nil
}

// clone copies v, so that neither the caller's buffer nor a returned value
// aliases a stored one. The copy of an empty value is empty, not nil.
func clone(v []byte) []byte { return append([]byte{}, v...) }

func (e *entry) item(key string) cache.Item {
	return cache.Item{Key: key, Value: clone(e.value), CAS: e.cas}
}

// Get returns the item for key, or cache.ErrMiss. A key no write would accept
// is a miss.
func (b *Backend) Get(_ context.Context, key string) (cache.Item, error) {
	e, ok := b.store.GetIfPresent(key)
	if !ok {
		b.counts.Misses.Add(1)
		return cache.Item{}, cache.ErrMiss
	}
	b.counts.Hits.Add(1)
	return e.item(key), nil
}

// GetMulti returns the items found among keys.
func (b *Backend) GetMulti(_ context.Context, keys []string) (map[string]cache.Item, error) {
	items := make(map[string]cache.Item, len(keys))
	for _, k := range keys {
		if e, ok := b.store.GetIfPresent(k); ok {
			items[k] = e.item(k)
		}
	}
	b.counts.Hits.Add(uint64(len(items)))
	b.counts.Misses.Add(uint64(len(keys) - len(items)))
	return items, nil
}

// Set stores item unconditionally.
func (b *Backend) Set(_ context.Context, item cache.Item) error {
	e, err := b.newEntry("set", item)
	if err != nil {
		return err
	}
	b.store.Set(item.Key, e)
	b.counts.Sets.Add(1)
	return nil
}

// Add stores item only if its key is absent, else cache.ErrNotStored.
func (b *Backend) Add(_ context.Context, item cache.Item) error {
	return b.write("add", item, func(_ *entry, found bool) error {
		if found {
			return cache.ErrNotStored
		}
		return nil
	})
}

// CompareAndSwap stores item only if the stored item still has the CAS token
// item.CAS; else cache.ErrNotStored (changed) or cache.ErrMiss (gone).
func (b *Backend) CompareAndSwap(_ context.Context, item cache.Item) error {
	return b.write("cas", item, func(old *entry, found bool) error {
		switch {
		case !found:
			return cache.ErrMiss
		case old.cas != item.CAS:
			return cache.ErrNotStored
		}
		return nil
	})
}

// write stores item if check, which runs atomically with the store, finds
// nothing against it in the entry present (found) or absent.
func (b *Backend) write(op string, item cache.Item, check func(old *entry, found bool) error) error {
	e, err := b.newEntry(op, item)
	if err != nil {
		return err
	}
	b.store.Compute(item.Key, func(old *entry, found bool) (*entry, otter.ComputeOp) {
		if err = check(old, found); err != nil {
			return old, otter.CancelOp
		}
		return e, otter.WriteOp
	})
	if err == nil {
		b.counts.Sets.Add(1)
	}
	return err
}

// Delete removes key; deleting an absent key is not an error, and is not
// counted as a delete (see cache.Backend's Stats).
func (b *Backend) Delete(_ context.Context, key string) error {
	if _, removed := b.store.Invalidate(key); removed {
		b.counts.Deletes.Add(1)
	}
	return nil
}

// Ping returns nil: the in-process cache is always there.
func (b *Backend) Ping(context.Context) error { return nil }

// Stats reports the cache as one server, "local". Items and Bytes are
// otter's estimates; Bytes includes the per-entry overhead. As the cache
// has no other clients, its own figures (GetHits, GetMisses, CmdSet) are
// the client's counters; Uptime is left unknown (the process's own).
func (b *Backend) Stats(context.Context) ([]stats.Server, error) {
	c := b.counts.Counts()
	return []stats.Server{{
		Addr:       "local",
		Up:         true,
		Client:     c,
		Items:      uint64(b.store.EstimatedSize()),
		Bytes:      b.store.WeightedSize(),
		LimitBytes: uint64(b.maxBytes),
		Evictions:  b.evictions.Load(),
		GetHits:    c.Hits,
		GetMisses:  c.Misses,
		CmdSet:     c.Sets,
	}}, nil
}

// MaxItemSize is the largest value stored, in bytes.
func (b *Backend) MaxItemSize() int { return b.maxItemSize }

// Name returns "local".
func (b *Backend) Name() string { return "local" }

// Close drops every entry and stops otter's clean-up goroutine.
func (b *Backend) Close() error {
	b.store.StopAllGoroutines()
	b.store.InvalidateAll()
	return nil
}
