package cache

import (
	"context"
	"errors"
	"time"

	"github.com/tasklist/tasklist/internal/stats"
)

// Errors shared by all backends. Backends wrap them with %w, so test with
// errors.Is.
var (
	// ErrMiss reports that the key is not in the cache.
	ErrMiss = errors.New("cache: miss")
	// ErrNotStored reports that Add found the key present, or that
	// CompareAndSwap found the item changed or gone since it was read.
	ErrNotStored = errors.New("cache: not stored")
	// ErrTooLarge reports a value larger than the backend's item limit.
	ErrTooLarge = errors.New("cache: value too large")
	// ErrInvalid reports a malformed request: a negative TTL or a key a
	// backend cannot take.
	ErrInvalid = errors.New("cache: invalid request")
	// ErrUnavailable reports that the backend could not answer: a server is
	// down, unreachable or too slow. It is never the caller's fault.
	ErrUnavailable = errors.New("cache: unavailable")
	// ErrRejected reports a request a server refused for good, such as
	// one with credentials it does not accept: retrying it cannot succeed.
	// It comes together with ErrUnavailable.
	ErrRejected = errors.New("cache: rejected")
)

// PartialError is the error of a GetMulti that got no answer for some of
// its keys, because their server failed: the map returned with it holds
// what the other servers found. Its message names the failed servers but
// never the keys, which may be session IDs. It matches what Err matches:
// ErrUnavailable for a server that failed. Like any error it is not
// changed once returned, so it is safe for concurrent reads.
type PartialError struct {
	// Unanswered are the keys that got no answer: they are absent from the
	// map, and are neither hits nor misses.
	Unanswered []string
	// Err is why: the failed servers' errors.
	Err error
}

func (e *PartialError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *PartialError) Unwrap() error { return e.Err }

// MaxTTL is the longest relative TTL memcached accepts; longer ones are sent
// as absolute Unix times.
const MaxTTL = 30 * 24 * time.Hour

// Item is a cached value.
type Item struct {
	// Key is the item's key as the backend stores it.
	Key string
	// Value is the item's data; a stored empty value is a hit, not a miss.
	Value []byte
	// TTL is how long a written item lives (see the package comment). It is
	// not filled in on reads.
	TTL time.Duration
	// CAS is an opaque token set by Get and GetMulti. CompareAndSwap stores
	// the item only if it is unchanged since the read that returned the token.
	CAS uint64
}

// Backend is a raw key-value store with memcached's semantics. Keys given to
// a Backend are already safe (see Key): at most 250 bytes, no spaces or
// control characters. Implementations must be safe for concurrent use.
type Backend interface {
	// Get returns the item for key, or ErrMiss.
	Get(ctx context.Context, key string) (Item, error)
	// GetMulti returns the items found among keys; absent keys are left out
	// of the map. It costs one round trip per server involved. If some
	// servers fail, it returns what the others found together with a
	// *PartialError that lists the keys that got no answer.
	GetMulti(ctx context.Context, keys []string) (map[string]Item, error)
	// Set stores the item unconditionally.
	Set(ctx context.Context, item Item) error
	// Add stores the item only if its key is absent, else ErrNotStored.
	Add(ctx context.Context, item Item) error
	// CompareAndSwap stores the item only if it is unchanged since the read
	// that returned item.CAS; else ErrNotStored (changed) or ErrMiss (gone).
	CompareAndSwap(ctx context.Context, item Item) error
	// Delete removes key from every server that may hold a copy of it, so
	// that an invalidation cannot miss one: with several servers a key may
	// have been written to a stand-in while its own server was marked down.
	// Deleting an absent key is not an error. An error means some copy may
	// remain; the caller should retry.
	Delete(ctx context.Context, key string) error
	// Ping reports whether the backend can serve requests: nil when every
	// server answers. It reads and writes no key and counts nothing (see
	// Stats), so a health check does not change the statistics.
	Ping(ctx context.Context) error
	// Stats reports each server (stats.Server): its state, what the
	// server's own "stats" command reports (memcached), and the client's
	// counters for it, which mean the same on every backend, so that they
	// can be added up and compared on a dashboard:
	//
	//   - Hits and Misses count keys read by Get and GetMulti: a key the
	//     server returned is a hit, a key it answered it does not hold
	//     (never stored, deleted, expired, evicted) is a miss. A GetMulti
	//     of n keys reads n keys. A key whose server failed to answer is
	//     neither; the failure is counted in Errors.
	//   - Sets counts stores that happened: every Set, an Add that found
	//     its key absent, a CompareAndSwap that found the item unchanged.
	//     An Add or a CompareAndSwap that stored nothing (ErrNotStored,
	//     ErrMiss) is not counted, nor is a value refused as too large or
	//     invalid.
	//   - Deletes counts keys actually removed. Deleting an absent key
	//     removes nothing and is not counted. A Delete that removes copies
	//     of one key from several servers (see Delete) counts one, on the
	//     first of those servers in the order Stats lists them.
	//   - Errors counts requests for a key that reached the server and
	//     failed or were refused (too large, invalid); the in-process cache
	//     sends none.
	//
	// Ping and Stats, which read no key, count in none at all: a health
	// check or a dashboard does not change what it shows.
	Stats(ctx context.Context) ([]stats.Server, error)
	// MaxItemSize is the largest value, in bytes, the backend stores.
	MaxItemSize() int
	// Name says which backend this is ("local", "memcache", "memcache+sasl"),
	// for logs and the dashboard.
	Name() string
	// Close releases connections. The Backend is unusable afterwards.
	Close() error
}
