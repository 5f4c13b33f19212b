// Package web is tasklist's HTTP face: routes, handlers, templates and
// static files (embedded in the binary), and the middleware around them
// (request logs, security headers, Host checks, cross-origin protection,
// body limits).
//
// Pages carry nothing per visitor and no CSRF token: state-changing requests
// are protected by http.CrossOriginProtection, which reads the browser's
// Sec-Fetch-Site and Origin headers. That is what lets whole pages be cached
// and shared without switching the protection off.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"

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
	List(ctx context.Context) (tasks.Snapshot, error)
	Add(ctx context.Context, name string) (tasks.Task, int64, error)
	Toggle(ctx context.Context, id int64) (tasks.Task, int64, error)
	Remove(ctx context.Context, id int64) (int64, error)
}

// HealthCheck is one dependency /healthz reports on. A failing Critical
// check makes /healthz answer 503; a failing other one only "degraded".
type HealthCheck struct {
	Name     string
	Critical bool
	Check    func(ctx context.Context) error
}

// Config holds a Server's dependencies.
type Config struct {
	Tasks  TaskService
	Logger *slog.Logger
	Health []HealthCheck
	// AllowedHosts lists the host names requests may carry in their Host
	// header, matched case-insensitively and without the port: a name or
	// IP address, "*" for any host, or ".example.com" for that domain and
	// its subdomains. Other requests are answered 400. It must not be
	// empty.
	AllowedHosts []string
}

// Server serves tasklist's pages. It is safe for concurrent use.
type Server struct {
	tasks  TaskService
	log    *slog.Logger
	health []HealthCheck
	hosts  []string // AllowedHosts, normalized by hostname
	pages  map[string]*template.Template
	static http.Handler
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
	s := &Server{tasks: cfg.Tasks, log: cfg.Logger, health: cfg.Health, pages: map[string]*template.Template{}}
	for _, h := range cfg.AllowedHosts {
		s.hosts = append(s.hosts, hostname(h))
	}
	for _, page := range []string{"index.html", "error.html"} {
		t, err := template.ParseFS(files, "templates/layout.html", "templates/"+page)
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", page, err)
		}
		s.pages[page] = t
	}
	static, err := fs.Sub(files, "static")
	if err != nil {
		return nil, fmt.Errorf("web: static files: %w", err)
	}
	s.static = http.StripPrefix("/static/", s.staticFiles(static))
	return s, nil
}

// Handler returns the application with all its middleware.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.index)
	mux.HandleFunc("POST /add", s.add)
	mux.HandleFunc("POST /remove", s.remove)
	mux.HandleFunc("POST /toggle", s.toggle)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /static/", staticCache(s.static))

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
