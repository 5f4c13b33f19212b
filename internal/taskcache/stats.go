package taskcache

import "github.com/tasklist/tasklist/internal/stats"

// Counts returns the query layer's counters, as the dashboard shows them:
// the list's hits, misses and sets (and its reads that bypassed the cache,
// as errors), counted by its fill; the writes' invalidations as deletes,
// and those that failed as errors. The version key's fills are left out:
// they are the bookkeeping of every layer, not a lookup of the list. Safe
// for concurrent use.
func (s *Store) Counts() stats.Counts { return s.counts.Counts() }
