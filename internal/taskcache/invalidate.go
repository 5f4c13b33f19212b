package taskcache

import (
	"context"
	"time"
)

// invalidate makes the cache forget the list from before the write that
// produced revision rev, by deleting its key: the list under Delete and
// Update, the version under Version. A cache Delete reaches every server
// that may hold a copy (see cache.Backend), so no instance can read one
// afterwards. It is retried for up to InvalidateTimeout, so that a moment of
// memcached being unreachable delays the write's answer instead of leaving
// a stale list behind it. Update then stores the fresh list, best effort.
func (s *Store) invalidate(ctx context.Context, rev int64) {
	key := keyList
	switch s.opts.Strategy {
	case Expire:
		return
	case Version:
		key = keyVersion
	}
	s.stats.invalidations.Add(1)
	// The write is committed: finish even if the client has gone.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.InvalidateTimeout)
	defer cancel()
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 250*time.Millisecond) {
		err := s.c.Delete(ctx, key)
		if err == nil {
			break
		}
		select {
		case <-time.After(wait):
			continue
		case <-ctx.Done():
		}
		s.stats.invalidationFailures.Add(1)
		s.log.Error("cache invalidation failed; the cached task list may be stale until it expires",
			"strategy", s.opts.Strategy, "revision", rev, "max_age", s.ttl(), "err", err)
		return
	}
	if s.opts.Strategy == Update {
		s.update(ctx)
	}
}

// update fills the cache with the list as it is now, through the same
// lease as a reader's fill: a plain store could land after a later writer's
// delete and leave this writer's older list behind it.
func (s *Store) update(ctx context.Context) {
	s.List(ctx)
}
