// Package session keeps tasklist's sessions: stores for
// github.com/alexedwards/scs/v2 over the cache, over the SQL database, and
// over both (write-through), as the tutorial's SESSION_ENGINE settings
// "cache", "db" and "cached_db" do.
//
//   - "cache": sessions live only in the cache. Fast, and lost when the
//     cache loses them (a restart, an eviction, a server down): for data
//     that may be lost.
//   - "db": sessions live in the database table tasklist_sessions.
//   - "cached_db" (the default): the database holds every session; the
//     cache holds copies. A write goes to the database first, then removes
//     the cached copy; a read takes the cached copy or reads the database and
//     caches it for the rest of its lifetime, through the same lease as
//     every cached value (package fill), so a copy read before a write is
//     never stored after it. A cache failure never loses or breaks a
//     session; a database failure makes a write fail visibly.
//
// Session keys live in their own namespace ("session:" + token) that no
// other cache key starts with, and a cached session never outlives the
// session: its TTL is rounded down to whole seconds, and its end is stored
// with it and checked on every read. Tokens that are not what scs makes
// (43 characters of unpadded base64url: 256 random bits) are not looked up
// at all.
package session

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/sqldb"
	"github.com/tasklist/tasklist/internal/stats"
)

// The engines (TASKLIST_SESSION_ENGINE).
const (
	Cache    = "cache"
	CachedDB = "cached_db"
	DB       = "db"
)

// Engines lists the engines, the default first.
func Engines() []string { return []string{CachedDB, Cache, DB} }

// CheckEngine reports whether name (TASKLIST_SESSION_ENGINE's value) is an
// engine, with an error that lists them when it is not.
func CheckEngine(name string) error {
	if slices.Contains(Engines(), name) {
		return nil
	}
	return fmt.Errorf("must be one of %s", strings.Join(Engines(), ", "))
}

// Store is a session store: scs's, with counters. It is the session layer
// of the statistics (a stats.Layer).
type Store interface {
	scs.CtxStore
	// Counts returns what the store did since it was made: Hits and Misses
	// are session reads served from the cache or not (for "db", every
	// read is a miss); Sets and Deletes the sessions written and deleted;
	// Errors the cache or database failures.
	Counts() stats.Counts
}

// Options configure New; the zero value is usable.
type Options struct {
	// Logger receives store failures; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// LeaseTTL bounds a session read from the database under cached_db
	// before others stop waiting for it (see fill.Options).
	LeaseTTL time.Duration
	// IdleTimeout, when set, ends a stored session that long after it was
	// last written, however long its lifetime: the row (or cache entry)
	// of a visitor who went away goes after the idle time, not at the end
	// of the lifetime. The app rewrites an active visitor's session before
	// then (see internal/web).
	IdleTimeout time.Duration
}

// New returns the store of engine. c is needed by "cache" and
// "cached_db", db (migrated with Migrate) by "db" and "cached_db".
func New(engine string, c *cache.Cache, db *sqldb.DB, opts Options) (Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := CheckEngine(engine); err != nil {
		return nil, fmt.Errorf("session: engine %q: %w", engine, err)
	}
	if engine != DB && c == nil || engine != Cache && db == nil {
		return nil, fmt.Errorf("session: engine %q needs the cache and/or the database it uses", engine)
	}
	var s ctxStore
	switch engine {
	case Cache:
		s = &cacheStore{c: c, opts: opts}
	case DB:
		s = &dbStore{db: db, opts: opts}
	default:
		s = newCachedDB(c, &dbStore{db: db, opts: opts}, opts)
	}
	return store{s, opts}, nil
}

// ctxStore is what each engine implements.
type ctxStore interface {
	FindCtx(ctx context.Context, token string) ([]byte, bool, error)
	CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error
	DeleteCtx(ctx context.Context, token string) error
	Counts() stats.Counts
}

// store is an engine with the idle timeout applied to every write, and
// scs.Store's methods without a context, which scs calls only for a store
// that is not a CtxStore.
type store struct {
	ctxStore
	opts Options
}

// CommitCtx stores the session until expiry, or until the idle timeout
// from now when that comes first.
func (s store) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if s.opts.IdleTimeout > 0 {
		if idle := s.opts.Now().Add(s.opts.IdleTimeout); idle.Before(expiry) {
			expiry = idle
		}
	}
	return s.ctxStore.CommitCtx(ctx, token, b, expiry)
}

func (s store) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

func (s store) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

func (s store) Delete(token string) error { return s.DeleteCtx(context.Background(), token) }

// errNoSession is a loader's "not found": nothing to cache.
var errNoSession = errors.New("session: not found")

// cacheKey is the key of token's session.
func cacheKey(token string) string { return "session:" + token }

// validToken reports whether token has the shape of scs's tokens: 32
// bytes in unpadded base64url, 43 characters whose last one carries 4 bits
// and 2 zero bits (so no two tokens name the same bytes).
func validToken(token string) bool {
	if len(token) != 43 {
		return false
	}
	for i := range len(token) {
		c := token[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return strings.IndexByte(lastTokenChars, token[42]) >= 0
}

// lastTokenChars are the base64url digits whose low 2 bits are zero: the
// possible last characters of 32 bytes' encoding.
const lastTokenChars = "AEIMQUYcgkosw048"

// A cached session is its end (Unix ns, 8 bytes big-endian), then scs's
// encoded data.
func encode(b []byte, expiry time.Time) []byte {
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(b)), uint64(expiry.UnixNano()))
	return append(v, b...)
}

func decode(v []byte) (b []byte, expiry time.Time, ok bool) {
	if len(v) < 8 {
		return nil, time.Time{}, false
	}
	return v[8:], time.Unix(0, int64(binary.BigEndian.Uint64(v))), true
}

// cacheTTL is how long a session ending at expiry may stay in the cache:
// what is left of it, rounded down to whole seconds (memcached's unit), so
// the entry never outlives the session; 0 when under a second is left.
func cacheTTL(expiry, now time.Time) time.Duration {
	return expiry.Sub(now).Truncate(time.Second)
}

// withoutCancel bounds the cache work a write does after its database
// write: it finishes even if the client has gone.
func withoutCancel(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), time.Second)
}
