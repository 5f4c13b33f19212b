package taskcache

import (
	"context"
	"errors"
	"strconv"

	"github.com/tasklist/tasklist/internal/cache"
)

// listKey is the key the list is cached under. Under Version it carries the
// version kept in the shared cache at keyVersion.
//
// The version is always a database revision. A write invalidates it by
// deleting it; the next reader sets it again from the database's revision,
// under a lease like the list's, so a reader that read an older revision
// cannot store it after the write (no stale set). Revisions only grow, so
// the version never goes back — not after a write, not after an eviction —
// and the list stored under "tasks:all:vN" is always of revision N or later:
// such keys are never invalidated, old ones simply age out.
//
// When the cache fails, the key comes from the database's revision (a
// one-row read, not the slow query), so the list can still be cached.
func (s *Store) listKey(ctx context.Context) (string, error) {
	if s.opts.Strategy != Version {
		return keyList, nil
	}
	pace := s.newLeaseWait()
	for {
		it, err := s.c.Get(ctx, keyVersion)
		switch {
		case errors.Is(err, cache.ErrMiss):
			err = s.c.Add(ctx, cache.Item{Key: keyVersion, Value: leaseValue, TTL: s.opts.LeaseTTL})
			if err == nil {
				return s.setVersion(ctx)
			}
			if errors.Is(err, cache.ErrNotStored) {
				continue // another request took the lease
			}
			return s.revisionKey(ctx)
		case err != nil:
			return s.revisionKey(ctx)
		}
		if v, perr := strconv.ParseInt(string(it.Value), 10, 64); perr == nil {
			return versionedKey(v), nil
		}
		if e, derr := decode(it.Value); derr != nil || !e.lease { // not a version: replace it
			err := s.c.CompareAndSwap(ctx, cache.Item{Key: keyVersion, Value: leaseValue, TTL: s.opts.LeaseTTL, CAS: it.CAS})
			switch {
			case err == nil:
				return s.setVersion(ctx)
			case errors.Is(err, cache.ErrNotStored) || errors.Is(err, cache.ErrMiss):
				continue
			}
			return s.revisionKey(ctx)
		}
		if !pace.wait(ctx) { // the holder is slow: use the database's revision
			return s.revisionKey(ctx)
		}
	}
}

// setVersion runs after this process stored a lease at keyVersion: it reads
// the database's revision and swaps it in for the lease. If a write deleted
// the lease meanwhile the swap fails, which is right: the revision may
// predate that write. It is still right for this request, which began
// before the revision was read. A lease it cannot fill is released.
func (s *Store) setVersion(ctx context.Context) (string, error) {
	it, err := s.c.Get(ctx, keyVersion)
	lease := err == nil && string(it.Value) == string(leaseValue)
	rev, err := s.src.Revision(ctx)
	if err != nil {
		s.release(ctx, keyVersion)
		return "", err
	}
	if !lease {
		s.release(ctx, keyVersion)
		return versionedKey(rev), nil
	}
	err = s.c.CompareAndSwap(ctx, cache.Item{Key: keyVersion, Value: []byte(strconv.FormatInt(rev, 10)), TTL: s.opts.MaxAge, CAS: it.CAS})
	if err != nil && !errors.Is(err, cache.ErrNotStored) && !errors.Is(err, cache.ErrMiss) {
		s.release(ctx, keyVersion)
	}
	return versionedKey(rev), nil
}

// revisionKey is the list's key for the database's current revision.
func (s *Store) revisionKey(ctx context.Context) (string, error) {
	rev, err := s.src.Revision(ctx)
	if err != nil {
		return "", err
	}
	return versionedKey(rev), nil
}
