package stats

import (
	"context"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
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

// Server is one cache server: whether it answered, what it reports of
// itself (memcached's "stats"), and this process's counters for it.
type Server struct {
	Addr string `json:"addr"`
	Up   bool   `json:"up"`
	// The server's own figures, zero where unknown or while it is down.
	Items           uint64 `json:"items"`
	Bytes           uint64 `json:"bytes"`
	LimitBytes      uint64 `json:"limit_bytes"`
	Evictions       uint64 `json:"evictions"`
	CurrConnections uint64 `json:"curr_connections"`
	UptimeSeconds   uint64 `json:"uptime_seconds"`
	GetHits         uint64 `json:"get_hits"`
	GetMisses       uint64 `json:"get_misses"`
	CmdSet          uint64 `json:"cmd_set"`
	// Client counts this process's operations on the server (see
	// cache.ServerStats).
	Client Counts `json:"client"`
}

// Sources are where a Report's figures come from. Any may be nil. Once
// made, Sources is only read: it is safe for concurrent use.
type Sources struct {
	// Layers are the caching layers by name (see Layers).
	Layers map[string]Layer
	// Cache is the cache every layer uses; nil when caching is off.
	Cache *cache.Cache
	// Queries counts the database queries.
	Queries Queries
	// History holds the recent totals for Rates.
	History *History
	// Started is when the counters began.
	Started time.Time
}

// Totals sums the layers' counters: what History records.
func (s Sources) Totals() Counts {
	var t Counts
	for _, l := range s.Layers {
		t = t.Add(l.LayerCounts())
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
			c = l.LayerCounts()
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
	st, err := s.Cache.Stats(ctx)
	r.Backend = st.Backend
	r.Cache = &Counts{Hits: st.Hits, Misses: st.Misses, Sets: st.Sets + st.Adds + st.CASes, Deletes: st.Deletes, Errors: st.Errors + st.TooLarge}
	for _, sv := range st.Servers {
		r.Servers = append(r.Servers, Server{
			Addr: sv.Addr, Up: sv.Up,
			Items: sv.Items, Bytes: sv.Bytes, LimitBytes: sv.LimitBytes, Evictions: sv.Evictions,
			CurrConnections: sv.CurrConnections, UptimeSeconds: sv.Uptime,
			GetHits: sv.GetHits, GetMisses: sv.GetMisses, CmdSet: sv.CmdSet,
			Client: Counts{Hits: sv.Hits, Misses: sv.Misses, Sets: sv.Sets, Deletes: sv.Deletes, Errors: sv.Errors},
		})
	}
	return r, err
}
