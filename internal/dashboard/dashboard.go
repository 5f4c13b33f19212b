// Package dashboard is tasklist's statistics, as MemCachier's dashboard
// shows them: the page /stats (what it shows, View; the web server renders
// it), /stats.json and /metrics (package metrics), who may read them (see
// access), and the sampling of hits and misses per second for the chart.
// The figures are package stats's Report, read from the layers' own
// counters at each request.
package dashboard

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/tasklist/tasklist/internal/metrics"
	"github.com/tasklist/tasklist/internal/pagecache"
	"github.com/tasklist/tasklist/internal/stats"
)

// Defaults of the sampling (Config.Interval, Config.Samples): a sample
// every 2 s, five minutes kept.
const (
	DefaultInterval = 2 * time.Second
	DefaultSamples  = 151
)

// refresh is how often the statistics page refreshes its figures.
const refresh = 5 * time.Second

// Config holds a Dashboard's sources and rules.
type Config struct {
	// Sources are where the figures come from; New gives them a History
	// of its own and starts their clock.
	Sources stats.Sources
	// User and Password guard the routes with HTTP basic auth (user
	// DefaultUser when empty). With no password they answer requests from
	// loopback addresses only.
	User, Password string
	// Now is the clock of the login's failure limit; nil means time.Now.
	Now func() time.Time
	// Interval is how often Sample samples the totals for the chart, and
	// Samples how many samples it keeps (defaults DefaultInterval,
	// DefaultSamples).
	Interval time.Duration
	Samples  int
	// Logger receives what failed; nil means slog.Default().
	Logger *slog.Logger
}

// Dashboard serves the statistics routes. It is safe for concurrent use.
type Dashboard struct {
	src      stats.Sources
	access   access
	interval time.Duration
	samples  int
	metrics  *metrics.Metrics
	log      *slog.Logger
}

// New returns the dashboard of cfg.Sources.
func New(cfg Config) *Dashboard {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	d := &Dashboard{
		src:      cfg.Sources,
		access:   newAccess(cfg.User, cfg.Password, now),
		interval: cmp.Or(cfg.Interval, DefaultInterval),
		samples:  max(cmp.Or(cfg.Samples, DefaultSamples), 2),
		log:      cmp.Or(cfg.Logger, slog.Default()),
	}
	d.src.History, d.src.Started = stats.NewHistory(d.samples), time.Now()
	d.metrics = metrics.New(d.src, d.log)
	return d
}

// Sample records the caching layers' total hits and misses every
// Config.Interval, for the chart, until ctx ends. Run it in a goroutine
// of its own; without it the chart stays empty.
func (d *Dashboard) Sample(ctx context.Context) {
	d.src.History.Record(time.Now(), d.src.Totals())
	t := time.NewTicker(d.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			d.src.History.Record(now, d.src.Totals())
		}
	}
}

// ObserveRequest counts one answered request for /metrics (see
// metrics.Metrics.ObserveRequest).
func (d *Dashboard) ObserveRequest(route string, status int, took time.Duration) {
	d.metrics.ObserveRequest(route, status, took)
}

// Page serves the statistics page to the requests the access rule lets
// through: render shows v, which the page refreshes itself from.
func (d *Dashboard) Page(render func(w http.ResponseWriter, r *http.Request, v View)) http.Handler {
	return d.access.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		render(w, r, newView(d.report(r), d.window()))
	}))
}

// JSON serves the statistics as JSON (stats.Report) to the requests the
// access rule lets through.
func (d *Dashboard) JSON() http.Handler {
	return d.access.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(d.report(r)); err != nil {
			d.log.ErrorContext(r.Context(), "stats: encode", "err", err)
			http.Error(w, "Internal Server Error", http.StatusInternalServerError)
			return
		}
		pagecache.WriteCompressed(w, r, http.StatusOK, "application/json", buf.Bytes())
	}))
}

// Metrics serves the Prometheus exposition (package metrics) to the
// requests the access rule lets through.
func (d *Dashboard) Metrics() http.Handler { return d.access.wrap(d.metrics.Handler()) }

// report collects the statistics; a cache server that did not answer is
// in it as down. The cache logs that failure itself, at most once per
// interval; here it is logged at debug, as the page asks every 5 s.
func (d *Dashboard) report(r *http.Request) stats.Report {
	rep, err := d.src.Collect(r.Context(), time.Now())
	if err != nil && r.Context().Err() == nil {
		d.log.DebugContext(r.Context(), "stats: cache servers did not all answer", "err", err)
	}
	return rep
}

// window is the time the chart spans: the samples kept.
func (d *Dashboard) window() time.Duration {
	return time.Duration(d.samples-1) * d.interval
}

// View is what the statistics page shows.
type View struct {
	Backend, Uptime string
	RefreshSeconds  int
	Layers          []LayerRow
	Total           LayerRow
	Chart           stats.Chart
	Window          string
	Servers         []ServerRow
	Queries         []QueryRow
}

// LayerRow is one caching layer's line, or the total's.
type LayerRow struct {
	stats.LayerReport
	Name, Ratio string
}

// ServerRow is one cache server's card.
type ServerRow struct {
	stats.Server
	Memory, Uptime string
}

// QueryRow is one kind of database query's line.
type QueryRow struct {
	stats.Query
	Time string
}

func newView(rep stats.Report, window time.Duration) View {
	v := View{
		Backend:        rep.Backend,
		Uptime:         formatUptime(time.Duration(rep.UptimeSeconds * float64(time.Second))),
		RefreshSeconds: int(refresh / time.Second),
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
		v.Servers = append(v.Servers, ServerRow{Server: sv, Memory: mem, Uptime: up})
	}
	for _, q := range rep.Database {
		v.Queries = append(v.Queries, QueryRow{Query: q, Time: q.Time.Round(time.Microsecond).String()})
	}
	return v
}

func newLayerRow(name string, l stats.LayerReport) LayerRow {
	ratio := "—"
	if l.Hits+l.Misses > 0 {
		ratio = strconv.FormatFloat(100*l.HitRatio, 'f', 1, 64) + "%"
	}
	return LayerRow{LayerReport: l, Name: name, Ratio: ratio}
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
