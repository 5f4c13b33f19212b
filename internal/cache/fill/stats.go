package fill

import "sync/atomic"

// Stats counts what a Group did since New.
type Stats struct {
	// Hits and Misses count requests: a hit was served from the cache (by
	// its own read, or after waiting for another's load), a miss was not.
	Hits, Misses uint64
	// LeaseWaits counts looks at a lease another request held.
	LeaseWaits uint64
	// Joins counts requests that waited for a flight another request of
	// this process had started (single flight).
	Joins uint64
	// Loads counts source loads; Sets the values stored by them.
	Loads, Sets uint64
	// Bypasses counts loads made without the cache, because it failed or a
	// lease holder took too long.
	Bypasses uint64
}

type counters struct {
	hits, misses, leaseWaits, joins, loads, sets, bypasses atomic.Uint64
}

// Stats returns the counters. It is safe for concurrent use.
func (g *Group) Stats() Stats {
	c := &g.stats
	return Stats{
		Hits: c.hits.Load(), Misses: c.misses.Load(), LeaseWaits: c.leaseWaits.Load(), Joins: c.joins.Load(),
		Loads: c.loads.Load(), Sets: c.sets.Load(), Bypasses: c.bypasses.Load(),
	}
}
