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

// Confirm checks what the shared cache holds against the database: it
// reads the database's version (one small query: tasks.Store.Head) and the
// keys a write would invalidate, and invalidates them when either names
// another version. That catches every change no write of this process's
// invalidated: one made in SQL by hand (the triggers moved the revision), a
// restored dump (the revision went back), an invalidation that could not
// reach a server another instance reads (docs/caching.md), and a database
// that has a new identity (whose keys the next read then uses). Run calls
// it every ConfirmEvery, so such a change is served within that bound with
// nobody writing.
//
// A key that is absent is fine: the next read fills it from the database.
// A cache that fails is not confirmed; its reads fall back to the database
// anyway. It is safe for concurrent use.
func (s *Store) Confirm(ctx context.Context) error {
	head, err := s.src.Head(ctx)
	if err != nil {
		return err
	}
	keys := []string{s.versionKey(head.DB)}
	if !s.versioned() && !s.opts.Uncached {
		keys = append(keys, listKey(head.DB))
	}
	items, err := s.c.GetMulti(ctx, keys)
	if err != nil && !errors.Is(err, cache.ErrUnavailable) {
		return err
	}
	stale := false
	for key, it := range items {
		data, ok := fill.Stored(it.Value)
		if !ok {
			continue // a lease: being filled from the database now
		}
		var v tasks.Version
		if key == listKey(head.DB) {
			snap, err := s.decode(data)
			v, stale = snap.Version(), stale || err != nil
		} else {
			v.DB = head.DB
			v.Revision, err = strconv.ParseInt(string(data), 10, 64)
			stale = stale || err != nil
		}
		stale = stale || v != head
	}
	if !stale {
		return err
	}
	s.log.Info("the cached task list was behind the database; invalidated",
		"version", head.String(), "strategy", s.opts.Strategy)
	s.invalidate(ctx, head)
	if s.opts.Strategy == Expire {
		// Expire's version is read again after TTL anyway; the check
		// brings that forward.
		s.c.Delete(ctx, expireVersionKey(head.DB))
	}
	return nil
}

// unsureRetry is how often Run checks while a write's outcome is unknown:
// soon after the database answers again, what that write did is served.
const unsureRetry = 100 * time.Millisecond

// Run calls Confirm every ConfirmEvery until ctx ends; after a write of
// unknown outcome, at once and then every unsureRetry until a check
// succeeds. Failures are logged, not returned: the next round tries again.
func (s *Store) Run(ctx context.Context) {
	t := time.NewTimer(s.opts.ConfirmEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
		unsure := s.unsure.Load()
		err := s.Confirm(ctx)
		if err == nil && unsure {
			s.unsure.CompareAndSwap(true, false)
		}
		if err != nil && ctx.Err() == nil && !unsure {
			s.log.Warn("could not check the cached task list against the database", "err", err)
		}
		next := s.opts.ConfirmEvery
		if s.unsure.Load() {
			next = min(next, unsureRetry)
		}
		t.Reset(next)
	}
}
