package taskcache

import (
	"github.com/tasklist/tasklist/internal/cache/fill"
	"github.com/tasklist/tasklist/internal/stats"
)

// Stats counts what the query cache did since start.
type Stats struct {
	// Hits and Misses count List calls served from the cache or not.
	Hits, Misses uint64
	// LeaseWaits counts looks at a list another request was filling;
	// Joins the List calls that waited for another's flight.
	LeaseWaits, Joins uint64
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
	// OlderThanVersion counts pages read from the database because the
	// cached list was not of the version they were wanted for (PageAt);
	// Moved the lists read again because the list had moved past the
	// version read, or the database had a new identity.
	OlderThanVersion, Moved uint64
	// Confirms counts the checks against the database (Confirm), one query
	// each; ConfirmMismatches those that found the cache behind it.
	Confirms, ConfirmMismatches uint64
	// Version counts the fills of the version key.
	Version fill.Stats
}

// Stats returns the counters. Safe for concurrent use.
func (s *Store) Stats() Stats {
	l := s.list.Stats()
	return Stats{
		Hits: l.Hits, Misses: l.Misses, LeaseWaits: l.LeaseWaits, Joins: l.Joins, Sets: l.Sets,
		DBQueries: l.Loads, Bypasses: l.Bypasses,
		Invalidations: s.invalidations.Load(), InvalidationFailures: s.invalidationFailures.Load(),
		OlderThanVersion: s.olderThanVersion.Load(), Moved: s.moved.Load(),
		Confirms: s.confirms.Load(), ConfirmMismatches: s.confirmMismatches.Load(),
		Version: s.version.Stats(),
	}
}

// LayerCounts returns the query layer's counters as the dashboard shows
// them (stats.Counts): the list's hits, misses and sets, the writes'
// invalidations as deletes, and as errors the reads that bypassed the
// cache and the invalidations that failed. The version key's fills are
// left out: they are the bookkeeping of every layer, not a lookup of the
// list. Safe for concurrent use.
func (s *Store) LayerCounts() stats.Counts {
	st := s.Stats()
	return stats.Counts{
		Hits: st.Hits, Misses: st.Misses, Sets: st.Sets,
		Deletes: st.Invalidations, Errors: st.Bypasses + st.InvalidationFailures,
	}
}
