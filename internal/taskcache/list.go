package taskcache

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/fill"
	"github.com/tasklist/tasklist/internal/tasks"
)

// Cache keys (the cache adds its own prefix).
const (
	keyList    = "tasks:all"     // the list, under Delete and Update
	keyVersion = "tasks:version" // the list's version, under every strategy
)

// versionedKey is the list's key under Version and Expire.
func versionedKey(v int64) string { return "tasks:all:v" + strconv.FormatInt(v, 10) }

// List returns the task list, from the cache when it holds a fresh one.
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
	snap, err := decodeList(r.Data)
	if err != nil {
		// Framed right but not a list this build can read: forget it and
		// read the database.
		s.log.Warn("cached task list unreadable; reading the database", "err", err)
		s.c.Delete(ctx, keyList)
		return s.src.List(ctx)
	}
	return snap, nil
}

// listResult gets the encoded list through the fill.
func (s *Store) listResult(ctx context.Context) (fill.Result, error) {
	if !s.versioned() {
		return s.list.Get(ctx, s.listSpec(keyList))
	}
	v, items, err := s.VersionWith(ctx, func(v int64) []string { return []string{versionedKey(v)} })
	if err != nil {
		return fill.Result{}, err
	}
	key := versionedKey(v)
	it, err := cache.Lookup(items, key)
	return s.list.Resolve(ctx, s.listSpec(key), it, err)
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
			return encodeList(snap), time.Time{}, nil
		},
	}
}

// errNoVersion reports a version key holding something that is not a
// revision.
var errNoVersion = errors.New("taskcache: cached version is not a number")
