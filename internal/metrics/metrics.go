// Package metrics exports tasklist's figures to Prometheus at /metrics:
// cache operations by layer, operation and result; the cache servers'
// state; database queries by kind; HTTP requests by route and status, and
// their latency; the Go runtime and the process. Every name starts with
// "tasklist_".
//
// It has a registry of its own, not the global default one, so that two
// servers in one process (as in tests) never share or clash. The caches'
// and the database's counters already exist as atomics (package stats reads
// them); a custom Collector reads them at scrape time instead of counting
// everything a second time. Only the HTTP figures, which nothing else
// counts, are kept here.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tasklist/tasklist/internal/stats"
)

// Prefix starts every metric's name.
const Prefix = "tasklist_"

// scrapeTimeout bounds the cache servers' answers during one scrape.
const scrapeTimeout = 5 * time.Second

// Metrics is one server's registry. It is safe for concurrent use.
type Metrics struct {
	reg      *prometheus.Registry
	prefixed prometheus.Registerer // reg, adding Prefix to every name
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	log      *slog.Logger
	// routes holds each route and status's counter and each route's
	// histogram once looked up: a request then finds them without
	// formatting or hashing label values.
	mu     sync.RWMutex
	routes map[routeStatus]routeMetrics
}

// routeStatus names a route pattern and a status code.
type routeStatus struct {
	route  string
	status int
}

// routeMetrics are what ObserveRequest updates for one routeStatus.
type routeMetrics struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

// New returns a registry that reads src at every scrape, and counts the
// requests given to ObserveRequest.
func New(src stats.Sources, log *slog.Logger) *Metrics {
	m := &Metrics{
		reg:    prometheus.NewRegistry(),
		log:    log,
		routes: map[routeStatus]routeMetrics{},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: Prefix + "http_requests_total",
			Help: "HTTP requests answered, by route pattern (\"unmatched\" for none) and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    Prefix + "http_request_duration_seconds",
			Help:    "Time from a request's arrival to the end of its response, by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
	}
	m.reg.MustRegister(m.requests, m.latency, newCollector(src, log))
	m.prefixed = prometheus.WrapRegistererWithPrefix(Prefix, m.reg)
	m.prefixed.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the exposition. It counts its own failures in
// tasklist_promhttp_metric_handler_errors_total.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		Registry: m.prefixed,
	})
}

// ObserveRequest counts one answered request on route (a ServeMux
// pattern; "" for a request no pattern matched) that got status and took d.
func (m *Metrics) ObserveRequest(route string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	key := routeStatus{route, status}
	m.mu.RLock()
	r, ok := m.routes[key]
	m.mu.RUnlock()
	if !ok {
		// Routes and statuses are few: the map stays small.
		r = routeMetrics{
			requests: m.requests.WithLabelValues(route, strconv.Itoa(status)),
			latency:  m.latency.WithLabelValues(route),
		}
		m.mu.Lock()
		m.routes[key] = r
		m.mu.Unlock()
	}
	r.requests.Inc()
	r.latency.Observe(d.Seconds())
}

// collector reads the caches' and the database's counters at scrape time.
type collector struct {
	src stats.Sources
	log *slog.Logger

	cacheOps, serverUp, serverItems, serverBytes, serverLimit, serverEvictions,
	serverConns, serverGetHits, serverGetMisses, serverCmdSet,
	dbQueries, dbErrors, dbSeconds *prometheus.Desc
}

func newCollector(src stats.Sources, log *slog.Logger) *collector {
	server := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(Prefix+"cache_server_"+name, help, []string{"addr"}, nil)
	}
	db := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(Prefix+"db_"+name, help, []string{"kind"}, nil)
	}
	return &collector{
		src: src, log: log,
		cacheOps: prometheus.NewDesc(Prefix+"cache_operations_total",
			"Cache operations of each caching layer: get (result hit or miss), set and delete (result ok), and any operation the cache failed (operation any, result error).",
			[]string{"layer", "operation", "result"}, nil),
		serverUp:        server("up", "Whether the cache server answered (1) or is down (0)."),
		serverItems:     server("items", "Items the cache server holds."),
		serverBytes:     server("bytes", "Bytes the cache server uses."),
		serverLimit:     server("limit_bytes", "Bytes the cache server may use."),
		serverEvictions: server("evictions_total", "Items the cache server evicted to make room."),
		serverConns:     server("connections", "Connections open to the cache server, from every client."),
		serverGetHits:   server("get_hits_total", "The cache server's own get_hits, from every client."),
		serverGetMisses: server("get_misses_total", "The cache server's own get_misses, from every client."),
		serverCmdSet:    server("cmd_set_total", "The cache server's own cmd_set, from every client."),
		dbQueries:       db("queries_total", "Database queries sent, by kind."),
		dbErrors:        db("query_errors_total", "Database queries that failed, by kind."),
		dbSeconds:       db("query_seconds_total", "Time spent in database queries, by kind."),
	}
}

// Describe sends every metric's description.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.cacheOps, c.serverUp, c.serverItems, c.serverBytes, c.serverLimit,
		c.serverEvictions, c.serverConns, c.serverGetHits, c.serverGetMisses, c.serverCmdSet,
		c.dbQueries, c.dbErrors, c.dbSeconds} {
		ch <- d
	}
}

// Collect reads the counters. A cache server that does not answer is
// reported down; why is logged at debug, as scrapes come often.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	r, err := c.src.Collect(ctx, time.Now())
	if err != nil {
		c.log.Debug("metrics: cache servers", "err", err)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, name := range stats.Layers {
		l := r.Layers[name]
		counter(c.cacheOps, l.Hits, name, "get", "hit")
		counter(c.cacheOps, l.Misses, name, "get", "miss")
		counter(c.cacheOps, l.Sets, name, "set", "ok")
		counter(c.cacheOps, l.Deletes, name, "delete", "ok")
		counter(c.cacheOps, l.Errors, name, "any", "error")
	}
	for _, s := range r.Servers {
		up := 0.0
		if s.Up {
			up = 1
		}
		gauge(c.serverUp, up, s.Addr)
		gauge(c.serverItems, float64(s.Items), s.Addr)
		gauge(c.serverBytes, float64(s.Bytes), s.Addr)
		gauge(c.serverLimit, float64(s.LimitBytes), s.Addr)
		gauge(c.serverConns, float64(s.CurrConnections), s.Addr)
		counter(c.serverEvictions, s.Evictions, s.Addr)
		counter(c.serverGetHits, s.GetHits, s.Addr)
		counter(c.serverGetMisses, s.GetMisses, s.Addr)
		counter(c.serverCmdSet, s.CmdSet, s.Addr)
	}
	for _, q := range r.Database {
		counter(c.dbQueries, q.Count, q.Kind)
		counter(c.dbErrors, q.Errors, q.Kind)
		ch <- prometheus.MustNewConstMetric(c.dbSeconds, prometheus.CounterValue, q.Seconds, q.Kind)
	}
}
