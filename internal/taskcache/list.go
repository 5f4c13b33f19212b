package taskcache

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/fill"
	"github.com/tasklist/tasklist/internal/reqtrace"
	"github.com/tasklist/tasklist/internal/tasks"
)

// Cache keys (the cache adds its own prefix). Every write deletes keyList
// and keyVersion, whatever its strategy, so that instances with different
// strategies can share a cluster during a rolling change: each strategy's
// readers depend on keys the others' writes must invalidate too. Expire
// keeps its version apart, at keyExpireVersion, which no write deletes: it
// is trusted for TTL after its read began, whoever wrote.
const (
	keyList          = "tasks:all"         // the list, under Delete and Update
	keyVersion       = "tasks:version"     // the list's version, under all but Expire
	keyExpireVersion = "tasks:version:ttl" // the list's version under Expire
)

// VolatileKeys returns the keys (without the cache's prefix) that writes
// invalidate by deleting them, under any strategy; every other key of the
// query cache names a version and is never stale. A memcached server that
// was out of reach must get them deleted before it is read again (see
// memcache.Options.Volatile): writes may have deleted them meanwhile.
// It is safe for concurrent use.
func VolatileKeys() []string { return []string{keyList, keyVersion} }

// VolatileKeysSent returns VolatileKeys as a cache with prefix sends them to
// its backend (see cache.Key): what memcache.Options.Volatile lists.
func VolatileKeysSent(prefix string) []string {
	keys := VolatileKeys()
	for i, k := range keys {
		keys[i] = cache.Key(prefix, k)
	}
	return keys
}

// versionedKey is the list's key under Version and Expire.
func versionedKey(v int64) string { return "tasks:all:v" + strconv.FormatInt(v, 10) }

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
	r, err := s.listResult(ctx)
	if err != nil {
		return tasks.Snapshot{}, err
	}
	reqtrace.From(ctx).Cache(reqtrace.Query, r.Outcome.String())
	snap, err := s.decode(r.Data)
	if err != nil {
		// Framed right but not a list this build can read: forget it and
		// read the database.
		s.log.Warn("cached task list unreadable; reading the database", "err", err)
		s.c.Delete(ctx, r.key)
		return s.src.List(ctx)
	}
	return snap, nil
}

// Page returns the page of at most n tasks after the id after: cut out of
// the cached list, or read from the database alone (without the rest of
// the list) when the query cache is off or the list is too large for the
// cache's item limit (see listSpec). The page may share its tasks with
// other callers: do not modify them.
func (s *Store) Page(ctx context.Context, after int64, n int) (tasks.Page, error) {
	return s.PageAt(ctx, after, n, 0)
}

// PageAt is Page for a caller that keys what it makes of the page by
// version v (see Version): the page is of revision v or later. Under Delete
// and Update the cached list's key does not name the version, and a reader
// can set the version from a write's committed revision before that write
// has deleted the old list; a list older than v is then not used, and the
// page is read from the database.
func (s *Store) PageAt(ctx context.Context, after int64, n int, v int64) (tasks.Page, error) {
	if s.opts.Uncached || s.tooLarge.Load() {
		return s.src.Page(ctx, after, n)
	}
	snap, err := s.List(ctx)
	if err != nil {
		return tasks.Page{}, err
	}
	if snap.Revision < v {
		s.olderThanVersion.Add(1)
		return s.src.Page(ctx, after, n)
	}
	return snap.Page(after, n), nil
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

// listResult gets the encoded list through the fill.
func (s *Store) listResult(ctx context.Context) (listResult, error) {
	if !s.versioned() {
		r, err := s.list.Get(ctx, s.listSpec(keyList))
		return listResult{r, keyList}, err
	}
	v, items, err := s.VersionWith(ctx, func(v int64) []string { return []string{versionedKey(v)} })
	if err != nil {
		return listResult{}, err
	}
	key := versionedKey(v)
	it, err := cache.Lookup(items, key)
	r, err := s.list.Resolve(ctx, s.listSpec(key), it, err)
	return listResult{r, key}, err
}

// listSpec says how the list is filled at key.
func (s *Store) listSpec(key string) fill.Spec {
	return fill.Spec{
		Key: key,
		TTL: s.opts.MaxAge,
		// A key naming a version holds a list of that revision or later.
		Immutable: s.versioned(),
		Load: func(ctx context.Context) ([]byte, time.Time, error) {
			snap, err := s.src.List(ctx)
			if err != nil {
				return nil, time.Time{}, err
			}
			b := encodeList(snap)
			// A list the cache cannot hold is read again on every miss:
			// until the next write, pages read just their own rows.
			s.tooLarge.Store(len(b) > s.c.MaxItemSize()-fill.Overhead)
			return b, time.Time{}, nil
		},
	}
}

// errNoVersion reports a version key holding something that is not a
// revision.
var errNoVersion = errors.New("taskcache: cached version is not a number")
