// Package web is tasklist's HTTP face: routes, handlers, templates and
// static files (embedded in the binary), and the middleware around them
// (request logs, security headers, Host checks, cross-origin protection,
// body limits). Package pagecache caches its pages and fragments, package
// static serves its static files, package paging names its pages, and
// package dashboard answers its statistics routes. Package app builds all
// of them and hands them to New.
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

	"github.com/tasklist/tasklist/internal/dashboard"
	"github.com/tasklist/tasklist/internal/pagecache"
	"github.com/tasklist/tasklist/internal/paging"
	"github.com/tasklist/tasklist/internal/static"
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
	// PageAt is TaskService.Page for what is keyed by version v: the page
	// of exactly version v, or tasks.ErrMoved; for the zero v, the page as
	// the database has it now, read from the database.
	PageAt(ctx context.Context, after int64, n int, v tasks.Version) (tasks.Page, error)
}

// Config holds a Server's dependencies. Only Tasks and AllowedHosts are
// required.
type Config struct {
	Tasks  TaskService
	Logger *slog.Logger
	Health []HealthCheck

	// PageSize is the most tasks a page shows (default DefaultPageSize).
	PageSize int

	// Fragments and Pages are the fragment and page caches (package
	// pagecache), each nil when off; with either, Versions is required.
	// Pages must have been made with SessionVary under Sessions.
	Fragments *pagecache.Fragments
	Pages     *pagecache.Pages
	Versions  Versions

	// Sessions, when set, gives each visitor who writes a session (scs)
	// for flash messages and undo. New sets its ErrorFunc.
	Sessions *scs.SessionManager
	// SessionIdle ends a session unused for that long (default 30m).
	SessionIdle time.Duration
	// Now is the clock of the session idle timeout; nil means time.Now.
	Now func() time.Time
	// AllowedHosts lists the host names requests may carry in their Host
	// header, matched case-insensitively and without the port: a name or
	// IP address, "*" for any host, or ".example.com" for that domain and
	// its subdomains. Other requests are answered 400. It must not be
	// empty.
	AllowedHosts []string

	// Dashboard serves /stats, /stats.json and /metrics, and counts the
	// requests for /metrics; nil: no statistics routes.
	Dashboard *dashboard.Dashboard
}

// SessionVary is the Vary header of the list's pages under sessions: they
// depend on the session cookie (a flash message) as well as on
// Accept-Encoding. The page cache must send the same
// (pagecache.PagesOptions.Vary), so that a page says it whether it is
// served from the cache or rendered for one visitor.
const SessionVary = "Cookie, Accept-Encoding"

// Server serves tasklist's pages. It is safe for concurrent use.
type Server struct {
	tasks    TaskService
	log      *slog.Logger
	health   []HealthCheck
	hosts    []string // AllowedHosts, normalized by hostname
	pages    map[string]*template.Template
	assets   *static.Files
	pageSize int
	frags    *pagecache.Fragments // nil when the fragment cache is off
	// indexFrame is index.html around its list, rendered once; rows is
	// its task-row template, compiled.
	indexFrame frame
	rows       rowTemplate
	pcache     *pagecache.Pages // nil when the page cache is off
	// gate keeps the fragment and page caches to the pages the links
	// reach; nil when both are off.
	gate *paging.Gate

	versions    Versions            // nil when no cache is on
	sessions    *scs.SessionManager // nil: no sessions
	sessionIdle time.Duration
	now         func() time.Time
	dash        *dashboard.Dashboard // nil: no statistics routes
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
	if (cfg.Fragments != nil || cfg.Pages != nil) && cfg.Versions == nil {
		return nil, errors.New("web: the fragment and page caches need Config.Versions")
	}
	s := &Server{tasks: cfg.Tasks, log: cfg.Logger, health: cfg.Health,
		pageSize: cmp.Or(cfg.PageSize, DefaultPageSize), frags: cfg.Fragments, pcache: cfg.Pages, versions: cfg.Versions,
		sessions: cfg.Sessions, sessionIdle: cmp.Or(cfg.SessionIdle, 30*time.Minute),
		now: cfg.Now, dash: cfg.Dashboard}
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
	if s.frags != nil || s.pcache != nil {
		s.gate = paging.NewGate(cfg.Tasks, s.pageSize)
	}
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

// Build is a short hash of the embedded templates and static files (whose
// fingerprinted URLs the pages carry). Cached pages and fragments carry it
// in their keys (pagecache.Options.Build), so that instances running
// different templates or styles (during a rolling deploy) never serve each
// other's HTML.
func Build() (string, error) {
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

// Handler returns the application with all its middleware.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	var index http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.index(w, r, tasks.Version{}) })
	if s.pcache != nil {
		first := "index:" + listSelector(0, s.pageSize) // the page most asked for, named once
		index = s.pcache.Handler(s.index, func(r *http.Request) (string, bool) {
			after, ok := paging.Param(r)
			if !ok || s.personal(r) {
				return "", false
			}
			if after == 0 {
				return first, true
			}
			return "index:" + listSelector(after, s.pageSize), true
		})
	}
	if s.gate != nil {
		index = s.gate.Wrap(index)
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
	if s.dash != nil {
		mux.Handle("GET /stats", s.dash.Page(s.statsPage))
		mux.Handle("GET /stats.json", s.dash.JSON())
		mux.Handle("GET /metrics", s.dash.Metrics())
	}

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
