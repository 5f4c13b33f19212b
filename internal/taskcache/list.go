package taskcache

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/fill"
	"github.com/tasklist/tasklist/internal/reqtrace"
	"github.com/tasklist/tasklist/internal/tasks"
)

// Cache keys (the cache adds its own prefix). Every key names the database
// by its identity (tasks.Version.DB), so that databases sharing a cache —
// a new one beside a warm cache, another app's, a restored copy — never read
// each other's entries, whatever the prefix. Every write deletes the list
// key and the version key, whatever its strategy, so that instances with
// different strategies can share a cluster during a rolling change: each
// strategy's readers depend on keys the others' writes must invalidate too.
// Expire keeps its version apart, at expireVersionKey, which no write
// deletes: it is trusted for TTL after its read began, whoever wrote.
func listKey(db string) string          { return "tasks:" + db + ":all" }     // the list, under Delete and Update
func versionKey(db string) string       { return "tasks:" + db + ":version" } // the list's version, under all but Expire
func expireVersionKey(db string) string { return versionKey(db) + ":ttl" }    // the list's version under Expire

// versionedKey is the list's key under Version and Expire: it holds the
// list of exactly version v.
func versionedKey(v tasks.Version) string {
	return listKey(v.DB) + ":r" + strconv.FormatInt(v.Revision, 10)
}

// The keys of the list and its version that instances of builds before
// database identities read: writes delete them too, so that such instances
// stay coherent while a rolling upgrade replaces them.
const (
	legacyListKey    = "tasks:all"
	legacyVersionKey = "tasks:version"
)

// VolatileKeys returns the keys (without the cache's prefix) that writes
// to database db invalidate by deleting them, under any strategy; every
// other key of the query cache names a version and is never stale. A
// memcached server that was out of reach must get them deleted before it is
// read again (see memcache.Options.Volatile): writes may have deleted them
// meanwhile. It is safe for concurrent use.
func VolatileKeys(db string) []string {
	return []string{listKey(db), versionKey(db), legacyListKey, legacyVersionKey}
}

// VolatileKeysSent returns, as a cache with prefix sends them to its backend
// (see cache.Key), the VolatileKeys of the database src reads (its Identity
// when called): what memcache.Options.Volatile returns. The memcached client
// asks on every read (see its notes), so the keys are made once per identity;
// callers must not modify the slice. It is safe for concurrent use.
func VolatileKeysSent(prefix string, src interface{ Identity() string }) func() []string {
	type sent struct {
		db   string
		keys []string
	}
	var last atomic.Pointer[sent]
	return func() []string {
		db := src.Identity()
		if k := last.Load(); k != nil && k.db == db {
			return k.keys
		}
		keys := []string{legacyListKey, legacyVersionKey}
		if db != "" {
			keys = VolatileKeys(db)
		}
		for i, k := range keys {
			keys[i] = cache.Key(prefix, k)
		}
		keys = slices.Clip(keys) // an append by a caller copies
		last.Store(&sent{db, keys})
		return keys
	}
}

// errOtherDatabase reports a read that found the database under another
// identity than the one the keys were made with (a restored dump of another
// database, or an identity an operator reset): the caller starts again with
// the identity now known.
var errOtherDatabase = errors.New("taskcache: the database has another identity now")

// maxMoves bounds how often a List or a page starts again after the list
// moved on, before it reads the database without the cache.
const maxMoves = 3

// List returns the task list, from the cache when it holds a fresh one.
//
// The snapshot may be shared with other callers: do not modify it.
//
// Under Version and Expire the list's key carries the version, so a hit
// needs the version and the list: both come in one round trip, the list
// under the version this process saw last (see VersionWith). Under Delete
// and Update the list lives at one key that writes delete.
func (s *Store) List(ctx context.Context) (tasks.Snapshot, error) {
	if s.opts.Uncached {
		return s.src.List(ctx)
	}
	for range maxMoves {
		r, err := s.listResult(ctx)
		if errors.Is(err, tasks.ErrMoved) || errors.Is(err, errOtherDatabase) {
			continue
		}
		if err != nil {
			return tasks.Snapshot{}, err
		}
		reqtrace.From(ctx).Cache(reqtrace.Query, r.Outcome)
		snap, err := s.decode(r.Data)
		if err != nil {
			// Framed right but not a list this build can read: forget it and
			// read the database.
			s.log.Warn("cached task list unreadable; reading the database", "err", err)
			s.c.Delete(ctx, r.key)
			return s.src.List(ctx)
		}
		s.served(ctx)
		return snap, nil
	}
	// Writes keep moving the list on: read it as it is now, uncached.
	reqtrace.From(ctx).Cache(reqtrace.Query, fill.Bypass)
	return s.src.List(ctx)
}

// Page returns the page of at most n tasks after the id after: cut out of
// the cached list, or read from the database alone (without the rest of
// the list) when the query cache is off or the list is too large for the
// cache's item limit (see listSpec). The page may share its tasks with
// other callers: do not modify them.
func (s *Store) Page(ctx context.Context, after int64, n int) (tasks.Page, error) {
	if s.opts.Uncached || s.tooLarge.Load() {
		return s.src.Page(ctx, after, n)
	}
	snap, err := s.List(ctx)
	if err != nil {
		return tasks.Page{}, err
	}
	return snap.Page(after, n), nil
}

// PageAt is Page for a caller that keys what it makes of the page by
// version v (see Version): the page is of exactly version v, or the error
// is tasks.ErrMoved. The zero v asks for the page as the database has it
// now, read from the database. Content of a later version under v's key could outlive the
// history it came from: a restored dump takes the database back to v, and
// that content would be served for it. Under Delete and Update the cached
// list's key does not name the version, and a reader can read the version
// from a write's committed revision before that write has deleted the old
// list; a list of another version is then not used, and the page is read
// from the database.
//
// What such a caller makes is kept for the whole version, so the page is
// made once per version: reading the whole list to cut one page out of it
// would read every task (and store them all) for a page's worth. The page
// is cut out of the list when the query cache already holds the list of
// version v; otherwise only its own rows are read, and the cache is not
// filled (see heldList).
func (s *Store) PageAt(ctx context.Context, after int64, n int, v tasks.Version) (tasks.Page, error) {
	if v == (tasks.Version{}) {
		return s.src.Page(ctx, after, n)
	}
	if snap, ok := s.heldList(ctx, v); ok {
		return snap.Page(after, n), nil
	}
	p, err := s.src.Page(ctx, after, n)
	if err != nil {
		return tasks.Page{}, err
	}
	if p.Version() != v {
		return tasks.Page{}, tasks.ErrMoved
	}
	return p, nil
}

// heldList returns the list of exactly version v when the query cache
// holds it, reading the cache once and filling nothing; it counts and
// traces a query-cache hit, a miss, or a bypass when the cache failed (as
// the fill does). An unreadable or other version's list is a miss (List,
// not this, replaces it).
func (s *Store) heldList(ctx context.Context, v tasks.Version) (tasks.Snapshot, bool) {
	if s.opts.Uncached || s.tooLarge.Load() {
		return tasks.Snapshot{}, false
	}
	key := listKey(v.DB)
	if s.versioned() {
		key = versionedKey(v)
	}
	var snap tasks.Snapshot
	outcome := fill.Miss
	it, err := s.c.Get(ctx, key)
	switch {
	case err == nil:
		if data, ok := fill.Stored(it.Value); ok {
			if snap, err = s.decode(data); err == nil && snap.Version() == v {
				outcome = fill.Hit
			}
		}
	case !errors.Is(err, cache.ErrMiss):
		outcome = fill.Bypass // the cache failed
		s.counts.Errors.Add(1)
	}
	reqtrace.From(ctx).Cache(reqtrace.Query, outcome)
	if outcome != fill.Hit {
		s.counts.Misses.Add(1)
		return tasks.Snapshot{}, false
	}
	s.counts.Hits.Add(1)
	s.served(ctx)
	return snap, true
}

// decoded is an encoded list and what it decodes to.
type decoded struct {
	data []byte
	snap tasks.Snapshot
}

// decode decodes an encoded list, reusing the last result when data holds
// the same bytes: until the next write every hit reads the same list, and
// comparing bytes costs a small fraction of decoding them (no allocation),
// so a long list is decoded once per revision, not once per request.
func (s *Store) decode(data []byte) (tasks.Snapshot, error) {
	if d := s.lastDecoded.Load(); d != nil && bytes.Equal(d.data, data) {
		return d.snap, nil
	}
	snap, err := decodeList(data)
	if err == nil {
		s.lastDecoded.Store(&decoded{data: data, snap: snap})
	}
	return snap, err
}

// listResult is an encoded list and the key it was read at.
type listResult struct {
	fill.Result
	key string
}

// listResult gets the encoded list through the fill: tasks.ErrMoved or
// errOtherDatabase when the list read from the database is not the one the
// key names, so that the caller starts again.
func (s *Store) listResult(ctx context.Context) (listResult, error) {
	if !s.versioned() {
		db, err := s.identity(ctx)
		if err != nil {
			return listResult{}, err
		}
		key := listKey(db)
		r, err := s.list.Get(ctx, s.listSpec(key, tasks.Version{DB: db}))
		return listResult{r, key}, err
	}
	v, items, err := s.VersionWith(ctx, func(v tasks.Version) []string { return []string{versionedKey(v)} })
	if err != nil {
		return listResult{}, err
	}
	key := versionedKey(v)
	it, err := cache.Lookup(items, key)
	r, err := s.list.Resolve(ctx, s.listSpec(key, v), it, err)
	if errors.Is(err, tasks.ErrMoved) && s.opts.Strategy == Expire {
		// The version this instance trusts for TTL is behind the
		// database's: read it again rather than miss until it expires.
		s.c.Delete(ctx, expireVersionKey(v.DB))
	}
	return listResult{r, key}, err
}

// listSpec says how the list is filled at key: with the list of database
// want.DB and, when want names a revision (a versioned key), of exactly
// that version.
func (s *Store) listSpec(key string, want tasks.Version) fill.Spec {
	return fill.Spec{
		Key: key,
		TTL: s.opts.MaxAge,
		// A key naming a version holds the list of exactly that version.
		Immutable: s.versioned(),
		Load: func(ctx context.Context) ([]byte, time.Time, error) {
			snap, err := s.src.List(ctx)
			switch {
			case err != nil:
				return nil, time.Time{}, err
			case snap.DB != want.DB:
				return nil, time.Time{}, errOtherDatabase
			case want.Revision != 0 && snap.Revision != want.Revision:
				return nil, time.Time{}, tasks.ErrMoved
			}
			b := encodeList(snap)
			// A list the cache cannot hold is read again on every miss:
			// until the next write, pages read just their own rows.
			s.tooLarge.Store(len(b) > s.c.MaxItemSize()-fill.Overhead)
			return b, time.Time{}, nil
		},
	}
}

// identity is the identity of the database src reads: as read last, or
// read now when nothing was read yet.
func (s *Store) identity(ctx context.Context) (string, error) {
	if db := s.src.Identity(); db != "" {
		return db, nil
	}
	v, err := s.src.Head(ctx)
	return v.DB, err
}

// errNoVersion reports a version key holding something that is not a
// revision.
var errNoVersion = errors.New("taskcache: cached version is not a number")
