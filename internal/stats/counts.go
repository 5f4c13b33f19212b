// Package stats gathers what tasklist's caches and database did since the
// process started into one Report: per caching layer (query, fragment,
// page, session) and in total, per cache server, per kind of database
// query. The web server shows it at /stats and /stats.json, and package
// metrics exports it to Prometheus; both read the layers' own atomic
// counters, so nothing is counted twice. History keeps recent totals for
// the chart of hits and misses per second, which Chart draws as SVG.
package stats

import "time"

// Layers names the caching layers, in the order reports list them. A layer
// that is off or not built yet is reported with zeros.
var Layers = []string{"query", "fragment", "page", "session"}

// Counts are one caching layer's counters since start.
type Counts struct {
	// Hits counts lookups served from the cache.
	Hits uint64 `json:"hits"`
	// Misses counts lookups the layer had to fill from its source.
	Misses uint64 `json:"misses"`
	// Sets counts values stored in the cache.
	Sets uint64 `json:"sets"`
	// Deletes counts invalidations: values the layer deleted from the cache.
	Deletes uint64 `json:"deletes"`
	// Errors counts operations the cache failed: lookups served from the
	// source without it (bypasses) and invalidations that did not succeed.
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

// Layer is a caching layer whose counters the reports show. A new layer
// (sessions, say) implements it and is passed to the web server under its
// name in web.Config.StatsLayers. Implementations must be safe for
// concurrent use.
type Layer interface {
	// LayerCounts returns the layer's counters since start.
	LayerCounts() Counts
}

// LayerFunc adapts a function to Layer.
type LayerFunc func() Counts

// LayerCounts calls f.
func (f LayerFunc) LayerCounts() Counts { return f() }

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
