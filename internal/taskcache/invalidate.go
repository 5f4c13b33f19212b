package taskcache

import (
	"context"

	"github.com/tasklist/tasklist/internal/tasks"
)

// invalidate makes the cache forget the list from before the write that
// produced version v (a committed one: its database is known), by deleting
// the keys that hold it: the list and the version, under every strategy — also under Expire, whose own readers do
// not need it, because instances with other strategies may share the cache
// (a rolling change) and read those keys. A cache Delete reaches every
// server that may hold a copy (see cache.Backend), so no instance can read
// one afterwards. Each delete is retried for up to InvalidateTimeout, so
// that a moment of memcached being unreachable delays the write's answer
// instead of leaving a stale list behind it; a server the cache has marked
// down does not delay it (its deletes are replayed before it is used
// again; see memcache.Client.Delete). Update then stores the fresh list,
// best effort.
func (s *Store) invalidate(ctx context.Context, v tasks.Version) {
	s.counts.Deletes.Add(1)
	// The write is committed: finish even if the client has gone.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.InvalidateTimeout)
	defer cancel()
	if err := s.c.DeleteRetrying(ctx, VolatileKeys(v.DB)...); err != nil {
		s.counts.Errors.Add(1)
		s.log.Error("cache invalidation failed; the cached task list may be stale until the next check against the database",
			"strategy", s.opts.Strategy, "version", v.String(), "check_every", s.opts.ConfirmEvery, "err", err)
		return
	}
	if s.opts.Strategy == Update {
		// Through the same lease as a reader's fill: a plain store could
		// land after a later writer's delete and leave this writer's older
		// list behind it.
		s.List(ctx)
	}
}
