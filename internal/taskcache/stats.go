package taskcache

import "sync/atomic"

// Stats counts what the query cache did since start.
type Stats struct {
	// Hits and Misses count cache lookups of the list.
	Hits, Misses uint64
	// LeaseWaits counts looks at a list another request was filling.
	LeaseWaits uint64
	// Sets counts lists stored in the cache.
	Sets uint64
	// DBQueries counts task-list queries sent to the database.
	DBQueries uint64
	// Bypasses counts reads served from the database because the cache
	// failed or a lease holder took too long.
	Bypasses uint64
	// Invalidations counts writes that invalidated (or updated) the cache;
	// InvalidationFailures those that could not within InvalidateTimeout.
	Invalidations, InvalidationFailures uint64
}

type counters struct {
	hits, misses, leaseWaits, sets, dbQueries, bypasses atomic.Uint64
	invalidations, invalidationFailures                 atomic.Uint64
}

// Stats returns the counters. Safe for concurrent use.
func (s *Store) Stats() Stats {
	c := &s.stats
	return Stats{
		Hits: c.hits.Load(), Misses: c.misses.Load(), LeaseWaits: c.leaseWaits.Load(),
		Sets: c.sets.Load(), DBQueries: c.dbQueries.Load(), Bypasses: c.bypasses.Load(),
		Invalidations: c.invalidations.Load(), InvalidationFailures: c.invalidationFailures.Load(),
	}
}
