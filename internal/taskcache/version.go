package taskcache

import (
	"context"
	"strconv"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/fill"
)

// Version returns the list's version: a database revision N such that any
// list read now shows revision N or later, and no write that has answered is
// newer than N (under Expire: none older than its TTL). Caches of things
// derived from the list (pages, fragments) key them by it, so they need no
// invalidation of their own: a write moves the version on, and what was
// keyed by the old one is simply never asked for again.
//
// The version is kept in the shared cache at keyVersion. Every write deletes
// it (Expire's, at keyExpireVersion, ages out after TTL instead); the next reader sets it
// again from the database's revision through a lease (package fill), so a
// reader that read an older revision cannot store it after the write. The
// revision only grows, so the version never goes back — not after a write,
// not after an eviction. When the cache fails, it is the database's
// revision (a one-row read, not the slow query).
func (s *Store) Version(ctx context.Context) (int64, error) {
	v, _, err := s.VersionWith(ctx, nil)
	return v, err
}

// VersionWith is Version, reading in the same round trip the keys that
// extra names for a version (nil: none). extra is called with the version
// this process saw last, a guess; items holds what was found under those
// keys only when the guess was right (and is nil otherwise), so that a
// caller whose guess was right needs no second round trip. The guess saves
// a round trip; it is never a source of truth: the version read decides.
func (s *Store) VersionWith(ctx context.Context, extra func(v int64) []string) (int64, map[string]cache.Item, error) {
	guess := s.lastVersion.Load()
	var more []string
	if extra != nil {
		more = extra(guess)
	}
	var (
		it    cache.Item
		items map[string]cache.Item
		err   error
	)
	if len(more) == 0 {
		// The version alone: a plain get, which costs the in-process
		// cache less than a multi-get.
		it, err = s.c.Get(ctx, s.versionKey())
	} else {
		items, err = s.c.GetMulti(ctx, append([]string{s.versionKey()}, more...))
		var ok bool
		if it, ok = items[s.versionKey()]; ok {
			err = nil
		} else if err == nil {
			err = cache.ErrMiss
		}
	}
	r, err := s.version.Resolve(ctx, s.versionSpec(), it, err)
	if err != nil {
		return 0, nil, err
	}
	v, err := strconv.ParseInt(string(r.Data), 10, 64)
	if err != nil {
		s.log.Warn("cached version unreadable; reading the database", "err", errNoVersion)
		s.c.Delete(ctx, s.versionKey())
		if v, err = s.src.Revision(ctx); err != nil {
			return 0, nil, err
		}
	}
	s.lastVersion.Store(v)
	if v != guess {
		items = nil
	}
	return v, items, nil
}

// versionKey is where the version is kept: keyExpireVersion under Expire,
// else keyVersion (see the keys' comment).
func (s *Store) versionKey() string {
	if s.opts.Strategy == Expire {
		return keyExpireVersion
	}
	return keyVersion
}

// versionSpec says how the version is filled: from the database's revision.
func (s *Store) versionSpec() fill.Spec {
	return fill.Spec{
		Key:      s.versionKey(),
		TTL:      s.ttl(),
		MaxStale: s.maxStale(),
		Load: func(ctx context.Context) ([]byte, time.Time, error) {
			rev, err := s.src.Revision(ctx)
			if err != nil {
				return nil, time.Time{}, err
			}
			return strconv.AppendInt(nil, rev, 10), time.Time{}, nil
		},
	}
}
