package cache

import "sync/atomic"

// Stats is a snapshot of a Cache's counters and of its backend's servers.
// The counters cover this Cache (this process) since New; the servers'
// figures are whatever the backend reports.
type Stats struct {
	// Backend is the backend's Name.
	Backend string
	// Hits and Misses count keys read by Get and GetMulti, as ServerStats
	// defines them; a read that failed counts in Errors instead.
	Hits, Misses uint64
	// Sets, Adds and CASes count values stored by Set, Add and
	// CompareAndSwap; an Add or CompareAndSwap that did not store is not
	// counted.
	Sets, Adds, CASes uint64
	// Deletes counts the calls that succeeded. A Delete succeeds whether
	// or not the key was there: Deletes counts the invalidations made, the
	// servers' Deletes the keys they removed.
	Deletes uint64
	// Errors counts calls the backend failed (ErrUnavailable), not counting
	// those whose caller's context ended first.
	Errors uint64
	// TooLarge counts values refused as larger than MaxItemSize.
	TooLarge uint64
	// BytesRead and BytesWritten count value bytes of hits and of stored
	// values.
	BytesRead, BytesWritten uint64
	// Servers is the backend's Stats.
	Servers []ServerStats
}

// counters are a Cache's statistics: atomic, so the hot path takes no lock.
type counters struct {
	hits, misses, deletes, errors, tooLarge, bytesRead, bytesWritten atomic.Uint64
	stored                                                           [numWriteOps]atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Hits:         c.hits.Load(),
		Misses:       c.misses.Load(),
		Sets:         c.stored[opSet].Load(),
		Adds:         c.stored[opAdd].Load(),
		CASes:        c.stored[opCAS].Load(),
		Deletes:      c.deletes.Load(),
		Errors:       c.errors.Load(),
		TooLarge:     c.tooLarge.Load(),
		BytesRead:    c.bytesRead.Load(),
		BytesWritten: c.bytesWritten.Load(),
	}
}
