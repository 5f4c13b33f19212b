package stats

import (
	"context"
	"time"
)

// Report is everything /stats and /stats.json show. It holds no secret:
// server addresses, counters and figures only.
type Report struct {
	// Started is when the process's counters began; Uptime how long ago.
	Started       time.Time `json:"started"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	// Backend is the cache backend's name ("local", "memcache",
	// "memcache+sasl"), or "none" when caching is off.
	Backend string `json:"backend"`
	// Layers has an entry for every name in Layers.
	Layers map[string]LayerReport `json:"layers"`
	// Total sums the layers.
	Total LayerReport `json:"total"`
	// Cache is the cache client's own counters, every key of every layer
	// included (versions and leases too); nil when caching is off.
	Cache *Counts `json:"cache,omitempty"`
	// Servers are the cache's servers (one, "local", for the in-process
	// cache); empty when caching is off.
	Servers []Server `json:"servers"`
	// Database counts the database queries by kind.
	Database []Query `json:"database"`
	// Rates are the recent total hits and misses per second, oldest first.
	Rates []Rate `json:"rates"`
}

// LayerReport is one layer's counters and its hit ratio.
type LayerReport struct {
	Counts
	// On says whether the layer is on in this process.
	On bool `json:"on"`
	// HitRatio is Hits over Hits+Misses (0 before any lookup).
	HitRatio float64 `json:"hit_ratio"`
}

func layerReport(c Counts, on bool) LayerReport {
	return LayerReport{Counts: c, On: on, HitRatio: c.HitRatio()}
}

// Sources are where a Report's figures come from. Any may be nil. Once
// made, Sources is only read: it is safe for concurrent use.
type Sources struct {
	// Layers are the caching layers by name (see Layers).
	Layers map[string]Layer
	// Cache is the cache every layer uses; nil when caching is off.
	Cache Cache
	// Queries counts the database queries.
	Queries Queries
	// History holds the recent totals for Rates.
	History *History
	// Started is when the counters began.
	Started time.Time
}

// Cache is the cache client every layer uses (cache.Cache).
type Cache interface {
	// Name is the backend's name ("local", "memcache", "memcache+sasl").
	Name() string
	// Counts are the client's own counters, every key of every layer
	// included.
	Counts() Counts
	// Stats reports each server, those that did not answer down, with an
	// error naming them.
	Stats(ctx context.Context) ([]Server, error)
}

// Totals sums the layers' counters: what History records.
func (s Sources) Totals() Counts {
	var t Counts
	for _, l := range s.Layers {
		t = t.Add(l.Counts())
	}
	return t
}

// Collect reads every source into a Report. Asking the cache servers for
// their figures is the only slow part; it is bounded by the cache's
// timeout, and a server that does not answer is reported down. The error,
// if any, says which servers did not answer (for the log); the Report is
// complete all the same.
func (s Sources) Collect(ctx context.Context, now time.Time) (Report, error) {
	r := Report{
		Started: s.Started, UptimeSeconds: now.Sub(s.Started).Seconds(),
		Backend: "none", Layers: make(map[string]LayerReport, len(Layers)),
		Servers: []Server{}, Database: []Query{}, Rates: []Rate{},
	}
	var total Counts
	for _, name := range Layers {
		var c Counts
		l, on := s.Layers[name]
		if on {
			c = l.Counts()
		}
		r.Layers[name] = layerReport(c, on)
		total = total.Add(c)
	}
	r.Total = layerReport(total, len(s.Layers) > 0)
	if s.Queries != nil {
		r.Database = s.Queries.QueryStats()
	}
	if s.History != nil {
		if rates := s.History.Rates(); rates != nil {
			r.Rates = rates
		}
	}
	if s.Cache == nil {
		return r, nil
	}
	counts := s.Cache.Counts()
	r.Backend, r.Cache = s.Cache.Name(), &counts
	servers, err := s.Cache.Stats(ctx)
	r.Servers = append(r.Servers, servers...)
	return r, err
}
