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

// VersionWith returns the list's version: the database's identity and a
// revision N such that any list read now shows revision N or later, and no
// write that has answered is newer than N (under Expire: none older than its
// TTL). Caches of things derived from the list (pages, fragments) key them
// by it, so they need no invalidation of their own: a write moves the
// version on, and what was keyed by the old one is simply never asked for
// again; another database has other keys.
//
// The version is kept in the shared cache at versionKey. Every write deletes
// it (Expire's, at expireVersionKey, ages out after TTL instead); the next
// reader sets it again from the database's revision through a lease (package
// fill), so a reader that read an older revision cannot store it after the
// write. Revisions never repeat (see tasks.Version), and Confirm checks the
// stored version against the database every ConfirmEvery, for the changes no
// write of tasklist's invalidated (made in SQL by hand, a restored dump, an
// invalidation that could not reach a server). When the cache fails, it is
// the database's version (a one-row read, not the slow query).
//
// It reads in the same round trip the keys that extra names for a version
// (nil: none). extra is called with the version this process saw last, a
// guess; items holds what was found under those keys only when the guess was
// right (and is nil otherwise), so that a caller whose guess was right needs
// no second round trip. The guess saves
// a round trip; it is never a source of truth: the version read decides.
func (s *Store) VersionWith(ctx context.Context, extra func(guess tasks.Version) []string) (tasks.Version, map[string]cache.Item, error) {
	v, items, err := s.versionWith(ctx, extra)
	if errors.Is(err, errOtherDatabase) {
		// The database was found under another identity while filling
		// the version: keys of the identity now known.
		v, items, err = s.versionWith(ctx, extra)
	}
	return v, items, err
}

func (s *Store) versionWith(ctx context.Context, extra func(guess tasks.Version) []string) (tasks.Version, map[string]cache.Item, error) {
	db, err := s.identity(ctx)
	if err != nil {
		return tasks.Version{}, nil, err
	}
	guess := tasks.Version{DB: db, Revision: s.lastRevision.Load()}
	spec := s.versionOf(db).spec
	key := spec.Key
	var more []string
	if extra != nil {
		more = extra(guess)
	}
	var (
		it    cache.Item
		items map[string]cache.Item
	)
	if len(more) == 0 {
		// The version alone: a plain get, which costs the in-process
		// cache less than a multi-get, shared with the requests that ask
		// at the same time (a page hit from memory asks for nothing else).
		it, err = s.c.GetShared(ctx, key)
	} else {
		items, err = s.c.GetMulti(ctx, append([]string{key}, more...))
		var ok bool
		if it, ok = items[key]; ok {
			err = nil
		} else if err == nil {
			err = cache.ErrMiss
		}
	}
	r, err := s.version.Resolve(ctx, spec, it, err)
	if err != nil {
		return tasks.Version{}, nil, err
	}
	v := tasks.Version{DB: db}
	if v.Revision, err = strconv.ParseInt(string(r.Data), 10, 64); err != nil {
		s.log.Warn("cached version unreadable; reading the database", "err", errNoVersion)
		s.c.Delete(ctx, key)
		if v, err = s.src.Head(ctx); err != nil {
			return tasks.Version{}, nil, err
		}
	}
	s.lastRevision.Store(v.Revision)
	if v != guess {
		items = nil
	}
	s.served(ctx)
	return v, items, nil
}

// versionKey is where the version of database db is kept:
// expireVersionKey under Expire, else versionKey (see the keys' comment).
func (s *Store) versionKey(db string) string { return s.versionOf(db).spec.Key }

// versionOf returns how the version of database db is kept and filled.
// Every read of the version asks, so it is made once per identity.
func (s *Store) versionOf(db string) *dbVersion {
	if k := s.lastVersion.Load(); k != nil && k.db == db {
		return k
	}
	k := &dbVersion{db: db, spec: s.versionSpec(db)}
	s.lastVersion.Store(k)
	return k
}

// dbVersion is how the version of the database db is kept and filled.
type dbVersion struct {
	db   string
	spec fill.Spec
}

// versionSpec says how the version of database db is filled: from the
// database's revision, when the database is still db.
func (s *Store) versionSpec(db string) fill.Spec {
	key := versionKey(db)
	if s.opts.Strategy == Expire {
		key = expireVersionKey(db)
	}
	return fill.Spec{
		Key:      key,
		TTL:      s.ttl(),
		MaxStale: s.maxStale(),
		Load: func(ctx context.Context) ([]byte, time.Time, error) {
			head, err := s.src.Head(ctx)
			if err != nil {
				return nil, time.Time{}, err
			}
			if head.DB != db {
				return nil, time.Time{}, errOtherDatabase
			}
			return strconv.AppendInt(nil, head.Revision, 10), time.Time{}, nil
		},
	}
}
