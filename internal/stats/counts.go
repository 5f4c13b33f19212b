// Package stats is what tasklist's caches and database did since the
// process started. Every caching layer, the cache client and each cache
// server count in a Counter of their own (live atomics: hits, misses,
// sets, deletes, errors), read as Counts; a cache backend reports each of
// its servers as a Server, its Counts included; the database store
// (package dbstats) reports each kind of query as a Query. Sources
// gathers them into one Report: per caching layer (query, fragment, page,
// session) and in total, per cache server, per kind of database query. The
// dashboard shows it at /stats and /stats.json, and package metrics
// exports it to Prometheus; both read the counters themselves, so nothing
// is counted twice or converted. History keeps recent totals for the
// chart of hits and misses per second, which Chart draws as SVG.
package stats

import (
	"sync/atomic"
	"time"
)

// Layers names the caching layers, in the order reports list them. A layer
// that is off or not built yet is reported with zeros.
var Layers = []string{"query", "fragment", "page", "session"}

// Counter counts what a caching layer, a cache client or a cache server
// did since start. Each field counts one kind of operation; add to it
// where the operation happens. What each kind means for a layer is in
// Counts; for a cache backend, in cache.Backend's Stats. The zero value is
// ready, and it is safe for concurrent use: the hot path takes no lock.
type Counter struct {
	Hits, Misses, Sets, Deletes, Errors atomic.Uint64
}

// Counts returns the counters as they are now. It implements Layer, so a
// layer whose figures are one Counter is shown as it is.
func (c *Counter) Counts() Counts {
	return Counts{Hits: c.Hits.Load(), Misses: c.Misses.Load(), Sets: c.Sets.Load(), Deletes: c.Deletes.Load(), Errors: c.Errors.Load()}
}

// Counts are a Counter's figures at one moment.
type Counts struct {
	// Hits counts lookups served from the cache.
	Hits uint64 `json:"hits"`
	// Misses counts lookups the layer had to fill from its source.
	Misses uint64 `json:"misses"`
	// Sets counts values stored in the cache.
	Sets uint64 `json:"sets"`
	// Deletes counts invalidations: values the layer deleted from the cache.
	Deletes uint64 `json:"deletes"`
	// Errors counts operations the cache failed or refused: lookups served
	// from the source without it (bypasses) and invalidations that did not
	// succeed.
	Errors uint64 `json:"errors"`
}

// Add returns the sum of c and d.
func (c Counts) Add(d Counts) Counts {
	return Counts{c.Hits + d.Hits, c.Misses + d.Misses, c.Sets + d.Sets, c.Deletes + d.Deletes, c.Errors + d.Errors}
}

// HitRatio is Hits over Hits+Misses, or 0 before any lookup.
func (c Counts) HitRatio() float64 {
	if n := c.Hits + c.Misses; n > 0 {
		return float64(c.Hits) / float64(n)
	}
	return 0
}

// Layer is a caching layer whose counters the reports show, under its name
// in Sources.Layers. Implementations must be safe for concurrent use.
type Layer interface {
	// Counts returns the layer's counters since start.
	Counts() Counts
}

// Server is one cache server: whether it answers, what it reports of
// itself (memcached's "stats"), and this process's counters for it. Cache
// backends report their servers as Servers (cache.Backend's Stats).
type Server struct {
	// Addr is the server's address, or "local" for the in-process cache.
	Addr string `json:"addr"`
	// Up is false while the server is marked down after failures, or when
	// it did not answer the "stats" request this report asked of it.
	Up bool `json:"up"`
	// The server's own figures, zero where unknown or while it is down.
	Items           uint64 `json:"items"`
	Bytes           uint64 `json:"bytes"`
	LimitBytes      uint64 `json:"limit_bytes"`
	Evictions       uint64 `json:"evictions"`
	CurrConnections uint64 `json:"curr_connections"`
	UptimeSeconds   uint64 `json:"uptime_seconds"`
	// GetHits, GetMisses and CmdSet are the server's own get_hits,
	// get_misses and cmd_set: every client's reads and stores since the
	// server started, as MemCachier's dashboard shows them. The in-process
	// cache reports its own reads and stores here.
	GetHits   uint64 `json:"get_hits"`
	GetMisses uint64 `json:"get_misses"`
	CmdSet    uint64 `json:"cmd_set"`
	// Client counts this process's operations on the server, as
	// cache.Backend's Stats defines them.
	Client Counts `json:"client"`
}

// Query counts the database queries of one kind since start.
type Query struct {
	// Kind names the query: "list", "page", "revision", "add", "toggle",
	// "remove", "restore".
	Kind string `json:"kind"`
	// Count counts the queries sent; Errors those that failed.
	Count  uint64 `json:"count"`
	Errors uint64 `json:"errors"`
	// Time is their total duration.
	Time time.Duration `json:"-"`
	// Seconds is Time in seconds, for JSON.
	Seconds float64 `json:"seconds"`
}

// Queries reports the database queries by kind. Implementations must be
// safe for concurrent use.
type Queries interface {
	// QueryStats returns one Query per kind, in a fixed order.
	QueryStats() []Query
}
