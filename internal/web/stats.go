package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/tasklist/tasklist/internal/stats"
)

// Defaults of the statistics' sampling (Config.StatsInterval,
// Config.StatsSamples): a sample every 2 s, five minutes kept.
const (
	DefaultStatsInterval = 2 * time.Second
	DefaultStatsSamples  = 151
)

// statsRefresh is how often the statistics page refreshes its figures.
const statsRefresh = 5 * time.Second

// statsContentSecurityPolicy is contentSecurityPolicy with the one script
// the statistics page runs: its own static file, which fetches the page
// again to refresh it. Every other page runs no script at all.
const statsContentSecurityPolicy = contentSecurityPolicy + "; script-src 'self'; connect-src 'self'"

// SampleStats records the caching layers' total hits and misses every
// Config.StatsInterval, for the chart of /stats, until ctx ends. Run it in
// a goroutine of its own; without it the chart stays empty.
func (s *Server) SampleStats(ctx context.Context) {
	s.stats.History.Record(time.Now(), s.stats.Totals())
	t := time.NewTicker(s.statsInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.stats.History.Record(now, s.stats.Totals())
		}
	}
}

// report collects the statistics; a cache server that did not answer is
// in it as down. The cache logs that failure itself, at most once per
// interval; here it is logged at debug, as the page asks every 5 s.
func (s *Server) report(r *http.Request) stats.Report {
	rep, err := s.stats.Collect(r.Context(), time.Now())
	if err != nil && r.Context().Err() == nil {
		s.log.DebugContext(r.Context(), "stats: cache servers did not all answer", "err", err)
	}
	return rep
}

// statsJSON serves the statistics as JSON (stats.Report).
func (s *Server) statsJSON(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s.report(r)); err != nil {
		s.log.ErrorContext(r.Context(), "stats: encode", "err", err)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	s.writeCompressed(w, r, http.StatusOK, "application/json", buf.Bytes())
}

// statsPage serves the statistics as a page that refreshes itself.
func (s *Server) statsPage(w http.ResponseWriter, r *http.Request) {
	rep := s.report(r)
	w.Header().Set("Content-Security-Policy", statsContentSecurityPolicy)
	s.renderCompressed(w, r, http.StatusOK, "stats.html", newStatsView(rep, s.statsWindow()))
}

// statsWindow is the time the chart spans: the samples kept.
func (s *Server) statsWindow() time.Duration {
	return time.Duration(s.statsSamples-1) * s.statsInterval
}

// statsView is what stats.html shows.
type statsView struct {
	Backend, Uptime string
	RefreshSeconds  int
	Layers          []layerRow
	Total           layerRow
	Chart           stats.Chart
	Window          string
	Servers         []serverRow
	Queries         []queryRow
}

type layerRow struct {
	Name                                string
	On                                  bool
	Hits, Misses, Sets, Deletes, Errors uint64
	Ratio                               string
}

type serverRow struct {
	stats.Server
	Memory, Uptime string
}

type queryRow struct {
	stats.Query
	Time string
}

func newStatsView(rep stats.Report, window time.Duration) statsView {
	v := statsView{
		Backend:        rep.Backend,
		Uptime:         formatUptime(time.Duration(rep.UptimeSeconds * float64(time.Second))),
		RefreshSeconds: int(statsRefresh / time.Second),
		Total:          newLayerRow("Total", rep.Total),
		Chart:          stats.NewChart(rep.Rates, window, 480, 200),
		Window:         formatUptime(window),
	}
	for _, name := range stats.Layers {
		v.Layers = append(v.Layers, newLayerRow(name, rep.Layers[name]))
	}
	for _, sv := range rep.Servers {
		mem := formatBytes(sv.Bytes)
		if sv.LimitBytes > 0 {
			mem += " of " + formatBytes(sv.LimitBytes)
		}
		up := "—"
		if sv.UptimeSeconds > 0 {
			up = formatUptime(time.Duration(sv.UptimeSeconds) * time.Second)
		}
		v.Servers = append(v.Servers, serverRow{Server: sv, Memory: mem, Uptime: up})
	}
	for _, q := range rep.Database {
		v.Queries = append(v.Queries, queryRow{Query: q, Time: q.Time.Round(time.Microsecond).String()})
	}
	return v
}

func newLayerRow(name string, l stats.LayerReport) layerRow {
	ratio := "—"
	if l.Hits+l.Misses > 0 {
		ratio = strconv.FormatFloat(100*l.HitRatio, 'f', 1, 64) + "%"
	}
	return layerRow{Name: name, On: l.On, Hits: l.Hits, Misses: l.Misses, Sets: l.Sets, Deletes: l.Deletes, Errors: l.Errors, Ratio: ratio}
}

// formatBytes writes n in B, KiB, MiB or GiB, with one decimal above B.
func formatBytes(n uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	f, i := float64(n), 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return strconv.FormatUint(n, 10) + " B"
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + units[i]
}

// formatUptime writes d to the second, largest units first: "3h2m1s".
func formatUptime(d time.Duration) string {
	return d.Truncate(time.Second).String()
}
