// Package app builds the whole tasklist application from a configuration:
// the database, opened and migrated; the cache the configuration names; the
// task-list cache; the fragment and page caches; the visitors' sessions;
// the statistics dashboard; the web server with its health checks. cmd/tasklist serves what it builds, and the
// tests build the application through it too, so that what they test is
// wired as what runs.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/fill"
	"github.com/tasklist/tasklist/internal/config"
	"github.com/tasklist/tasklist/internal/dashboard"
	"github.com/tasklist/tasklist/internal/dbstats"
	"github.com/tasklist/tasklist/internal/pagecache"
	"github.com/tasklist/tasklist/internal/session"
	"github.com/tasklist/tasklist/internal/sqldb"
	"github.com/tasklist/tasklist/internal/stats"
	"github.com/tasklist/tasklist/internal/taskcache"
	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/web"
)

// Database is what a cache backend needs to know of the database its data
// comes from: its identity, which names the keys (see
// taskcache.VolatileKeysSent).
type Database interface{ Identity() string }

// Options are what New takes besides the configuration: what a program
// embedding the application, or a test, supplies itself. The zero value
// builds the application as cmd/tasklist runs it, without logs.
type Options struct {
	// Logger receives the application's logs; nil discards them.
	Logger *slog.Logger
	// OpenBackend opens the cache backend, for data of the database db;
	// the application wraps it in a cache.Cache with cfg's prefix and
	// timeout, and closes it with Close. Nil opens what cfg names:
	// MemCachier (SASL), a memcached cluster, or the in-process cache.
	// It is called only when a caching layer is on.
	OpenBackend func(ctx context.Context, cfg config.Config, db Database) (cache.Backend, error)
	// Now is the clock of the sessions' idle timeout and of the statistics
	// login's failure limit (web.Config.Now, dashboard.Config.Now); nil
	// means time.Now.
	Now func() time.Time
	// NoSessions builds the application without visitors' sessions: no
	// flash message after a write, no undo, nothing stored per visitor.
	// What is left is the task list and its caches alone, as a program
	// that keeps its visitors' state elsewhere would use them.
	NoSessions bool
	// StatsInterval is how often Run samples the statistics for the
	// dashboard's chart, and StatsSamples how many samples the chart
	// shows (defaults dashboard.DefaultInterval, dashboard.DefaultSamples).
	StatsInterval time.Duration
	StatsSamples  int
	// WrapSource, when set, is given the database store (counted and
	// timed by package dbstats) that the task-list cache reads and writes
	// through, and the cache is built on what it returns instead: a test
	// steps in there between a write's commit and its invalidation. It is
	// called only when a caching layer is on.
	WrapSource func(taskcache.Source) taskcache.Source
}

// App is the application New builds. Its methods are safe for concurrent
// use; Close must be called once it is no longer served.
type App struct {
	cfg      config.Config
	log      *slog.Logger
	db       *sqldb.DB
	store    *tasks.Store
	queries  *dbstats.Store
	cache    *cache.Cache     // nil with no caching layer on
	cached   *taskcache.Store // nil with no caching layer on
	sessions *scs.SessionManager
	stats    stats.Sources
	dash     *dashboard.Dashboard
	handler  http.Handler

	closeOnce sync.Once
	closeErr  error
}

// sessionCleanupInterval is how often Run deletes ended sessions from the
// database.
const sessionCleanupInterval = 10 * time.Minute

// New builds the application cfg describes: it opens the database and
// brings its tables up to date, opens the cache when a caching layer is on
// (wrong credentials stop it; unreachable servers do not: the application
// runs uncached until they answer), and wires the layers, sessions,
// dashboard and web server. Nothing runs in the background until Run.
func New(ctx context.Context, cfg config.Config, opts Options) (_ *App, err error) {
	if err := CheckNames(cfg); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &App{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if a.db, a.store, err = open(ctx, cfg, log); err != nil {
		return nil, err
	}
	// Every query is counted and timed, whichever layer asks for it.
	a.queries = dbstats.New(a.store)
	a.stats = stats.Sources{Layers: map[string]stats.Layer{}, Queries: a.queries}
	database := web.HealthCheck{Name: "database", Critical: true, Check: a.queries.Ping}
	if cfg.Layers.Any() {
		// While the database is down, what the caches hold of the last
		// version known is served: with the cache up, the instance is
		// degraded, not unavailable (docs/reliability.md says why).
		database.Fallback = "cache"
	}
	wc := web.Config{
		Tasks:        a.queries,
		Logger:       log,
		PageSize:     cfg.PageSize,
		Health:       []web.HealthCheck{database},
		SessionIdle:  cfg.SessionIdle,
		Now:          opts.Now,
		AllowedHosts: cfg.AllowedHosts,
	}
	// A lease must outlive the slow query it covers, and a page or
	// fragment render includes that query.
	lease := fill.LeaseTTL(cfg.SlowQuery)
	if cfg.Layers.Any() {
		if err := a.openCache(ctx, opts, lease, &wc); err != nil {
			return nil, err
		}
	} else {
		log.Info("caching is off (TASKLIST_CACHE_LAYERS=none)")
	}
	if !opts.NoSessions {
		m, st, err := sessionManager(cfg, a.cache, a.db, lease, log)
		if err != nil {
			return nil, err
		}
		a.sessions, wc.Sessions, a.stats.Layers["session"] = m, m, st
	}
	if err := a.openPageCaches(lease, &wc); err != nil {
		return nil, err
	}
	a.dash = dashboard.New(dashboard.Config{
		Sources:  a.stats,
		User:     cfg.StatsUser,
		Password: cfg.StatsPassword,
		Now:      opts.Now,
		Interval: opts.StatsInterval,
		Samples:  opts.StatsSamples,
		Logger:   log,
	})
	wc.Dashboard = a.dash
	server, err := web.New(wc)
	if err != nil {
		return nil, err
	}
	a.handler = server.Handler()
	return a, nil
}

// openCache opens the cache and the task-list cache, and sets in wc what
// the web server reads through them.
func (a *App) openCache(ctx context.Context, opts Options, lease time.Duration, wc *web.Config) error {
	openBackend := opts.OpenBackend
	if openBackend == nil {
		openBackend = func(ctx context.Context, cfg config.Config, db Database) (cache.Backend, error) {
			return OpenBackend(ctx, cfg, a.log, db)
		}
	}
	b, err := openBackend(ctx, a.cfg, a.store)
	if err != nil {
		return err
	}
	a.cache = cache.New(b, cache.Options{
		Prefix:     a.cfg.CachePrefix,
		GetTimeout: a.cfg.CacheTimeout,
		Logger:     a.log,
	})
	var src taskcache.Source = a.queries
	if opts.WrapSource != nil {
		src = opts.WrapSource(src)
	}
	a.cached, err = taskcache.New(src, a.cache, taskcache.Options{
		Strategy:    taskcache.Strategy(a.cfg.Invalidation),
		TTL:         a.cfg.CacheTTL,
		MaxAge:      a.cfg.CacheMaxAge,
		Uncached:    !a.cfg.Layers.Query,
		LeaseTTL:    lease,
		Unavailable: a.queries.Unavailable,
		Logger:      a.log,
	})
	if err != nil {
		return err
	}
	wc.Tasks = a.cached
	if a.cfg.Layers.Query {
		a.stats.Layers["query"] = a.cached
	}
	a.stats.Cache = a.cache
	wc.Versions = a.cached
	wc.Health = append(wc.Health, web.HealthCheck{Name: "cache", Check: cacheHealth(a.cache)})
	return nil
}

// openPageCaches builds the fragment and page caches a.cfg turns on, for
// the web server's templates, after the cache and the sessions: pages
// under sessions vary by the cookie too (web.SessionVary).
func (a *App) openPageCaches(lease time.Duration, wc *web.Config) error {
	if !a.cfg.Layers.Fragment && !a.cfg.Layers.Page {
		return nil
	}
	build, err := web.Build()
	if err != nil {
		return err
	}
	// Pages and fragments are keyed by version and never stale: their TTL
	// only lets old versions age out.
	o := pagecache.Options{Cache: a.cache, Versions: a.cached, Build: build, TTL: a.cfg.CacheMaxAge, LeaseTTL: lease}
	if a.cfg.Layers.Fragment {
		f, err := pagecache.NewFragments(o)
		if err != nil {
			return err
		}
		wc.Fragments, a.stats.Layers["fragment"] = f, f
	}
	if a.cfg.Layers.Page {
		var po pagecache.PagesOptions
		if wc.Sessions != nil {
			po.Vary = web.SessionVary
		}
		p, err := pagecache.NewPages(o, po)
		if err != nil {
			return err
		}
		wc.Pages, a.stats.Layers["page"] = p, p
	}
	return nil
}

// Migrate opens the database cfg names, brings the tables of the task
// store and of the sessions up to date, logging each migration it applies,
// and closes it. It is safe to run from several instances at once.
func Migrate(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	db, store, err := open(ctx, cfg, log)
	if err != nil {
		return err
	}
	return errors.Join(store.Close(), db.Close())
}

// open opens the database cfg names and migrates the task store's and
// the sessions' tables.
func open(ctx context.Context, cfg config.Config, log *slog.Logger) (*sqldb.DB, *tasks.Store, error) {
	db, err := sqldb.Open(ctx, cfg.DatabaseURL, sqldb.Options{Timeout: cfg.DBTimeout, MaxConns: cfg.DBMaxConns})
	if err != nil {
		return nil, nil, err
	}
	store := tasks.New(db, tasks.Options{SlowQuery: cfg.SlowQuery, MaxTasks: cfg.MaxTasks})
	err = store.Migrate(ctx, log)
	if err == nil {
		err = session.Migrate(ctx, db, log)
	}
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, store, nil
}

// Handler is the application's HTTP handler, with all its middleware.
func (a *App) Handler() http.Handler { return a.handler }

// Stats are where the dashboard's figures come from: every caching
// layer's counters, the cache's, the database queries.
func (a *App) Stats() stats.Sources { return a.stats }

// Tasks is the task store on the database, neither cached nor counted:
// what the database holds, for a caller that must see it as it is.
func (a *App) Tasks() *tasks.Store { return a.store }

// Queries counts the database queries by kind, as /stats shows them.
func (a *App) Queries() *dbstats.Store { return a.queries }

// Cached is the task-list cache; nil with no caching layer on. Run checks
// it against the database every TASKLIST_CACHE_TTL (taskcache.Store.Run).
func (a *App) Cached() *taskcache.Store { return a.cached }

// Cache is the cache client every layer uses; nil with no caching layer
// on.
func (a *App) Cache() *cache.Cache { return a.cache }

// Sessions is the visitors' session manager; nil with Options.NoSessions.
func (a *App) Sessions() *scs.SessionManager { return a.sessions }

// Run does the application's periodic work until ctx is done, and returns
// once all of it has stopped: it checks the task-list cache against the
// database (for the changes no write of tasklist's invalidated; see
// docs/caching.md), samples the statistics for the dashboard's chart, and
// deletes ended sessions from the database.
func (a *App) Run(ctx context.Context) {
	var wg sync.WaitGroup
	if a.cached != nil {
		wg.Go(func() { a.cached.Run(ctx) })
	}
	wg.Go(func() { a.dash.Sample(ctx) })
	if a.sessions != nil {
		wg.Go(func() { session.RunCleanup(ctx, a.db, sessionCleanupInterval, a.log) })
	}
	wg.Wait()
}

// Close closes the cache and the database; Run must have returned. The
// handler then answers as with both gone. Later calls do nothing and
// return the first one's error.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		var errs []error
		if a.cache != nil {
			errs = append(errs, a.cache.Close())
		}
		if a.db != nil {
			errs = append(errs, a.store.Close(), a.db.Close())
		}
		a.closeErr = errors.Join(errs...)
	})
	return a.closeErr
}

// CheckNames checks the configuration's names that the packages owning
// them define — the strategy and the session engine — as config checks the
// rest; a program reports its errors with config.Load's, so that every
// error of the configuration is reported at once. New checks them too.
func CheckNames(cfg config.Config) error {
	var errs []error
	if _, err := taskcache.ParseStrategy(cfg.Invalidation); err != nil {
		errs = append(errs, fmt.Errorf("config: TASKLIST_INVALIDATION=%q: %w", cfg.Invalidation, err))
	}
	if err := session.CheckEngine(cfg.SessionEngine); err != nil {
		errs = append(errs, fmt.Errorf("config: TASKLIST_SESSION_ENGINE=%q: %w", cfg.SessionEngine, err))
	}
	return errors.Join(errs...)
}
