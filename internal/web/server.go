// Package web is tasklist's HTTP face: routes, handlers, templates and
// static files (embedded in the binary), and the middleware around them
// (request logs, security headers, Host checks, cross-origin protection,
// body limits). Package pagecache caches its pages and fragments, package
// static serves its static files.
//
// Pages carry nothing per visitor and no CSRF token: state-changing requests
// are protected by http.CrossOriginProtection, which reads the browser's
// Sec-Fetch-Site and Origin headers. That is what lets whole pages be cached
// and shared without switching the protection off.
package web

import (
	"cmp"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/metrics"
	"github.com/tasklist/tasklist/internal/pagecache"
	"github.com/tasklist/tasklist/internal/static"
	"github.com/tasklist/tasklist/internal/stats"
	"github.com/tasklist/tasklist/internal/tasks"
)

//go:embed templates static
var files embed.FS

// MaxBodyBytes bounds a request body; a larger one is answered with 413.
const MaxBodyBytes = 64 << 10

// MaxHeaderBytes is the http.Server MaxHeaderBytes the app is meant to be
// served with: request line and headers together, well below net/http's
// 1 MB default. The server answers 431 past it (plus the 4 KiB net/http
// allows on top).
const MaxHeaderBytes = 16 << 10

// TaskService is what the handlers need of the task list: the SQL store, or
// a caching layer in front of it.
type TaskService interface {
	Page(ctx context.Context, after int64, n int) (tasks.Page, error)
	Add(ctx context.Context, name string) (tasks.Task, tasks.Version, error)
	SetDone(ctx context.Context, id int64, done bool, seen string) (tasks.Task, tasks.Version, error)
	Remove(ctx context.Context, id int64, seen string) (tasks.Task, tasks.Version, error)
	Restore(ctx context.Context, db string, t tasks.Task) (tasks.Task, tasks.Version, error)
}

// HealthCheck is one dependency /healthz reports on. A failing Critical
// check makes /healthz answer 503; a failing other one only "degraded".
type HealthCheck struct {
	Name     string
	Critical bool
	// Fallback names the check whose dependency serves in this one's place
	// (the cache, for the database): while it passes, this check failing
	// makes /healthz "degraded", serving from it, not 503.
	Fallback string
	Check    func(ctx context.Context) error
}

// Versions is the task list's version (taskcache.Store): what the fragment
// and page caches key their entries by, so that a write, which moves it on,
// makes every instance use new entries at once; it names the database, so
// that databases sharing a cache never share an entry.
type Versions interface {
	pagecache.Versions
	// PageAt is TaskService.Page for what is keyed by version v: the page
	// of exactly version v, or tasks.ErrMoved; for the zero v, the page as
	// the database has it now, read from the database.
	PageAt(ctx context.Context, after int64, n int, v tasks.Version) (tasks.Page, error)
}

// Config holds a Server's dependencies. Only Tasks is required.
type Config struct {
	Tasks  TaskService
	Logger *slog.Logger
	Health []HealthCheck

	// PageSize is the most tasks a page shows (default DefaultPageSize).
	PageSize int

	// Cache and Versions are needed by the fragment and page caches, which
	// Fragments and Pages turn on.
	Cache            *cache.Cache
	Versions         Versions
	Fragments, Pages bool
	// CacheTTL is how long fragments and pages live in the cache (they
	// are never stale: they are keyed by version); default 1h.
	CacheTTL time.Duration
	// LeaseTTL bounds a page or fragment render before others stop
	// waiting for it (see fill.Options).
	LeaseTTL time.Duration
	// PageMemory bounds, in bytes, the pages of the current version kept
	// in process memory, and apart from them the list fragments (default
	// pagecache.DefaultMemory each). Even with the in-process cache they save
	// copying the page out of it per hit.
	PageMemory int
	// Personal reports whether the response to r holds something for its
	// visitor alone; such requests bypass the page cache. A waiting flash
	// message always counts; Personal adds other reasons (nil: none).
	Personal func(r *http.Request) bool

	// Sessions, when set, gives each visitor who writes a session (scs)
	// for flash messages and undo. New sets its ErrorFunc.
	Sessions *scs.SessionManager
	// SessionIdle ends a session unused for that long (default 30m).
	SessionIdle time.Duration
	// Now is the clock of the session idle timeout and of the statistics
	// login's failure limit; nil means time.Now.
	Now func() time.Time
	// AllowedHosts lists the host names requests may carry in their Host
	// header, matched case-insensitively and without the port: a name or
	// IP address, "*" for any host, or ".example.com" for that domain and
	// its subdomains. Other requests are answered 400. It must not be
	// empty.
	AllowedHosts []string

	// StatsLayers are the caching layers outside the server whose counters
	// /stats, /stats.json and /metrics show, by their names in
	// stats.Layers: "query" (the task-list cache, taskcache.Store) and
	// "session" (the session store's counters, adapted with
	// stats.LayerFunc). The fragment and page layers are the server's
	// own. A layer not given is shown off, with zeros.
	StatsLayers map[string]stats.Layer
	// Queries counts the database queries by kind (dbstats.Store); nil
	// shows none.
	Queries stats.Queries
	// StatsUser and StatsPassword guard the statistics routes with HTTP
	// basic auth (user DefaultStatsUser when empty). With no password they
	// answer requests from loopback addresses only.
	StatsUser, StatsPassword string
	// StatsInterval is how often SampleStats samples the totals for the
	// chart, and StatsSamples how many samples it keeps (defaults
	// DefaultStatsInterval, DefaultStatsSamples).
	StatsInterval time.Duration
	StatsSamples  int
}

// Server serves tasklist's pages. It is safe for concurrent use.
type Server struct {
	tasks    TaskService
	log      *slog.Logger
	health   []HealthCheck
	hosts    []string // AllowedHosts, normalized by hostname
	pages    map[string]*template.Template
	assets   *static.Files
	gzips    gzipPool
	pageSize int
	frags    *pagecache.Fragments // nil when the fragment cache is off
	// indexFrame is index.html around its list, rendered once; rows is
	// its task-row template, compiled.
	indexFrame frame
	rows       rowTemplate
	pcache     *pagecache.Pages // nil when the page cache is off
	// gate keeps the fragment and page caches to the pages the links
	// reach; nil when both are off.
	gate *pageGate

	versions     Versions            // Config.Versions; nil when no layer is on
	sessions     *scs.SessionManager // nil: no sessions
	sessionIdle  time.Duration
	personalHook func(*http.Request) bool
	now          func() time.Time

	stats         stats.Sources
	statsAuth     statsAuth
	statsInterval time.Duration
	statsSamples  int
	metrics       *metrics.Metrics
}

// New parses the embedded templates and returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Tasks == nil {
		return nil, errors.New("web: Config.Tasks is required")
	}
	if len(cfg.AllowedHosts) == 0 {
		return nil, errors.New(`web: Config.AllowedHosts is empty, so no request would be served ("*" allows any host)`)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{tasks: cfg.Tasks, log: cfg.Logger, health: cfg.Health,
		pageSize: cmp.Or(cfg.PageSize, DefaultPageSize),
		sessions: cfg.Sessions, sessionIdle: cmp.Or(cfg.SessionIdle, 30*time.Minute), personalHook: cfg.Personal,
		now: cfg.Now}
	if s.now == nil {
		s.now = time.Now
	}
	if s.sessions != nil {
		s.sessions.ErrorFunc = s.sessionError
	}
	for _, h := range cfg.AllowedHosts {
		s.hosts = append(s.hosts, hostname(h))
	}
	var err error
	if s.pages, s.assets, err = loadTemplates(); err != nil {
		return nil, err
	}
	f, err := newFrame(s.pages["index.html"])
	if err != nil {
		return nil, err
	}
	s.indexFrame = f
	if s.rows, err = compileRow(s.pages["index.html"]); err != nil {
		return nil, err
	}
	if err := s.setUpCaches(cfg); err != nil {
		return nil, err
	}
	s.setUpStats(cfg)
	return s, nil
}

// loadTemplates reads the embedded static files and parses each page's
// templates, which get the files' fingerprinted URLs from them.
func loadTemplates() (map[string]*template.Template, *static.Files, error) {
	fsys, err := fs.Sub(files, "static")
	if err != nil {
		return nil, nil, fmt.Errorf("web: static files: %w", err)
	}
	a, err := static.New(fsys)
	if err != nil {
		return nil, nil, err
	}
	funcs := template.FuncMap{"static": a.URL}
	pages := map[string]*template.Template{}
	for _, page := range []string{"index.html", "error.html", "stats.html"} {
		t, err := template.New(page).Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/icons.html", "templates/"+page)
		if err != nil {
			return nil, nil, fmt.Errorf("web: parse %s: %w", page, err)
		}
		pages[page] = t
	}
	return pages, a, nil
}

// setUpStats gathers the counters the statistics routes show: the layers
// given in cfg and the server's own.
func (s *Server) setUpStats(cfg Config) {
	s.statsInterval = cmp.Or(cfg.StatsInterval, DefaultStatsInterval)
	s.statsSamples = max(cmp.Or(cfg.StatsSamples, DefaultStatsSamples), 2)
	layers := make(map[string]stats.Layer, len(stats.Layers))
	for name, l := range cfg.StatsLayers {
		layers[name] = l
	}
	if s.frags != nil {
		layers["fragment"] = stats.LayerFunc(func() stats.Counts { return s.frags.Stats().Counts() })
	}
	if s.pcache != nil {
		layers["page"] = stats.LayerFunc(func() stats.Counts { return s.pcache.Stats().Counts() })
	}
	s.stats = stats.Sources{
		Layers: layers, Cache: cfg.Cache, Queries: cfg.Queries,
		History: stats.NewHistory(s.statsSamples), Started: time.Now(),
	}
	s.statsAuth = newStatsAuth(cfg.StatsUser, cfg.StatsPassword, s.now)
	s.metrics = metrics.New(s.stats, s.log)
}

// setUpCaches builds the fragment and page caches that cfg turns on.
func (s *Server) setUpCaches(cfg Config) error {
	s.versions = cfg.Versions
	if !cfg.Fragments && !cfg.Pages {
		return nil
	}
	if cfg.Cache == nil || cfg.Versions == nil {
		return errors.New("web: the fragment and page caches need Config.Cache and Config.Versions")
	}
	build, err := templateBuild()
	if err != nil {
		return err
	}
	o := pagecache.Options{Cache: cfg.Cache, Versions: cfg.Versions, Build: build,
		TTL: cfg.CacheTTL, LeaseTTL: cfg.LeaseTTL, Memory: cfg.PageMemory}
	if cfg.Fragments {
		if s.frags, err = pagecache.NewFragments(o); err != nil {
			return err
		}
	}
	if cfg.Pages {
		po := pagecache.PagesOptions{Personal: s.personal}
		if s.sessions != nil {
			po.Vary = varyCookieEncoding[0]
		}
		if s.pcache, err = pagecache.NewPages(o, po); err != nil {
			return err
		}
	}
	s.gate = newPageGate(cfg.Tasks, s.pageSize)
	return nil
}

// templateBuild is a short hash of the embedded templates and static files
// (whose fingerprinted URLs the pages carry). Cached pages and fragments
// carry it in their keys, so that instances running different templates or
// styles (during a rolling deploy) never serve each other's HTML.
func templateBuild() (string, error) {
	h := sha256.New()
	for _, dir := range []string{"templates", "static"} {
		err := fs.WalkDir(files, dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := files.ReadFile(path)
			h.Write([]byte(path))
			h.Write(b)
			return err
		})
		if err != nil {
			return "", fmt.Errorf("web: %s: %w", dir, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:4]), nil
}

// CacheStats is what the fragment and page caches did since start; a
// layer that is off has nil.
type CacheStats struct {
	Fragments *pagecache.FragmentStats
	Pages     *pagecache.PageStats
}

// CacheStats returns the counters of the fragment and page caches.
func (s *Server) CacheStats() CacheStats {
	var cs CacheStats
	if s.frags != nil {
		st := s.frags.Stats()
		cs.Fragments = &st
	}
	if s.pcache != nil {
		st := s.pcache.Stats()
		cs.Pages = &st
	}
	return cs
}

// Handler returns the application with all its middleware.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	var index http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.index(w, r, tasks.Version{}) })
	if s.pcache != nil {
		first := "index:" + listSelector(0, s.pageSize) // the page most asked for, named once
		index = s.pcache.Handler(s.index, func(r *http.Request) (string, bool) {
			after, ok := pageParam(r)
			if after == 0 {
				return first, ok
			}
			return "index:" + listSelector(after, s.pageSize), ok
		})
	}
	if s.gate != nil {
		index = s.gate.wrap(index)
	}
	mux.Handle("GET /{$}", s.withReaderSession(index))
	mux.Handle("POST /add", s.withSession(http.HandlerFunc(s.add)))
	mux.Handle("POST /remove", s.withSession(http.HandlerFunc(s.remove)))
	mux.Handle("POST /toggle", s.withSession(http.HandlerFunc(s.toggle)))
	if s.sessions != nil {
		mux.Handle("POST /undo", s.withSession(http.HandlerFunc(s.undo)))
	}
	mux.HandleFunc("GET "+healthPath, s.healthz)
	mux.HandleFunc("GET /static/{name...}", func(w http.ResponseWriter, r *http.Request) {
		if !s.assets.Serve(w, r, r.PathValue("name")) {
			s.notFound(w, r)
		}
	})
	mux.Handle("GET /stats", s.statsAuth.wrap(http.HandlerFunc(s.statsPage)))
	mux.Handle("GET /stats.json", s.statsAuth.wrap(http.HandlerFunc(s.statsJSON)))
	mux.Handle("GET /metrics", s.statsAuth.wrap(s.metrics.Handler()))

	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.clientError(w, r, http.StatusForbidden, "Cross-origin requests that change data are refused.")
	}))

	var h http.Handler = s.notFoundOr(mux)
	h = limitBody(h)
	h = csrf.Handler(h)
	h = s.checkHost(h)
	h = securityHeaders(h)
	h = s.recoverPanics(h)
	return s.logRequests(h)
}
