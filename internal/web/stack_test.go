package web_test

import (
	"cmp"
	"compress/gzip"
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/app"
	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/local"
	"github.com/tasklist/tasklist/internal/cache/memcache"
	"github.com/tasklist/tasklist/internal/config"
	"github.com/tasklist/tasklist/internal/stats"
	"github.com/tasklist/tasklist/internal/taskcache"
	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/tasks/taskstest"
	"github.com/tasklist/tasklist/internal/testenv"
)

// The layer sets the tests use most.
var (
	noLayer    = config.Layers{}
	everyLayer = config.Layers{Query: true, Fragment: true, Page: true}
)

// stackOptions describe one app instance, built by app.New as cmd/tasklist
// builds it: its own database pool and, with any layer on, its own cache
// client, query cache and web server. Zero fields keep the configuration's
// defaults.
type stackOptions struct {
	// dbURL is the database (migrated by app.New); empty: a fresh SQLite
	// file.
	dbURL string
	// backend opens this instance's cache client for keys under prefix;
	// nil: the in-process cache. Unused with no layer.
	backend  backendOpener
	prefix   string // the key prefix: one per app, shared by its instances
	strategy taskcache.Strategy
	ttl      time.Duration // the staleness bound under Expire
	layers   config.Layers
	slow     time.Duration // the simulated slow list query
	pageSize int
	maxTasks int // unlimited when zero
	// sessions is the session engine (session.Cache, ...); empty: no
	// sessions. sessionIdle is their idle timeout.
	sessions    string
	sessionIdle time.Duration
	// now is the app's clock (nil: time.Now).
	now func() time.Time
	// hosts are the allowed hosts (default example.com and 127.0.0.1:
	// httptest.NewRequest's and httptest.Server's).
	hosts []string
	// statsUser, statsPassword, statsInterval and statsSamples set the
	// statistics routes and their sampling.
	statsUser, statsPassword string
	statsInterval            time.Duration
	statsSamples             int
	// run starts the app's periodic work (app.App.Run) until the test
	// ends: the cache's check against the database every ttl, and the
	// statistics' sampling. Tests that count queries leave it off.
	run bool
	// log receives the app's logs (default: warnings and errors, in the
	// test's output).
	log *slog.Logger
	// wrapSource wraps the database side of the task-list cache
	// (app.Options.WrapSource).
	wrapSource func(taskcache.Source) taskcache.Source
}

// stack is one app instance.
type stack struct {
	*app.App
	handler http.Handler
	backend *countingBackend // nil with no layer on
}

// newStack builds one app instance with app.New, closed when tb ends.
func newStack(tb testing.TB, o stackOptions) *stack {
	tb.Helper()
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		tb.Fatal(err)
	}
	cfg.DatabaseURL = cmp.Or(o.dbURL, testenv.SQLiteURL(tb, "tasks.db"))
	cfg.CachePrefix = o.prefix
	cfg.Invalidation = string(cmp.Or(o.strategy, taskcache.Version))
	cfg.CacheTTL = cmp.Or(o.ttl, cfg.CacheTTL)
	cfg.Layers = o.layers
	cfg.SlowQuery = o.slow
	cfg.PageSize = cmp.Or(o.pageSize, cfg.PageSize)
	cfg.MaxTasks = o.maxTasks
	cfg.SessionIdle = cmp.Or(o.sessionIdle, cfg.SessionIdle)
	cfg.SessionEngine = cmp.Or(o.sessions, cfg.SessionEngine)
	cfg.AllowedHosts = o.hosts
	if o.hosts == nil {
		cfg.AllowedHosts = []string{"example.com", "127.0.0.1"}
	}
	cfg.StatsUser = cmp.Or(o.statsUser, cfg.StatsUser)
	cfg.StatsPassword = o.statsPassword
	s := &stack{}
	opts := app.Options{
		Logger:        cmp.Or(o.log, slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))),
		Now:           o.now,
		NoSessions:    o.sessions == "",
		StatsInterval: o.statsInterval,
		StatsSamples:  o.statsSamples,
		WrapSource:    o.wrapSource,
		OpenBackend: func(_ context.Context, cfg config.Config, db app.Database) (cache.Backend, error) {
			open := o.backend
			if open == nil {
				open = localBackend
			}
			s.backend = &countingBackend{Backend: open(tb, cfg.CachePrefix, db)}
			return s.backend.counted(), nil
		},
	}
	if s.App, err = app.New(tb.Context(), cfg, opts); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	s.handler = s.Handler()
	if o.run {
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.Run(ctx)
		}()
		tb.Cleanup(func() {
			stop()
			<-done
		})
	}
	return s
}

// queries counts the queries of kind (dbstats's names: "list", "page",
// "revision", ...) that reached the database.
func (s *stack) queries(kind string) int64 {
	for _, q := range s.Queries().QueryStats() {
		if q.Kind == kind {
			return int64(q.Count)
		}
	}
	panic("no query kind " + kind)
}

// layer returns the counters of the caching layer name ("query",
// "fragment", "page", "session") as /stats shows them: zeros when it is
// off.
func (s *stack) layer(name string) stats.Counts {
	if l, ok := s.Stats().Layers[name]; ok {
		return l.Counts()
	}
	return stats.Counts{}
}

// lists, revisions and reads count the list, revision, and list or page
// queries.
func (s *stack) lists() int64     { return s.queries("list") }
func (s *stack) revisions() int64 { return s.queries("revision") }
func (s *stack) reads() int64     { return s.queries("list") + s.queries("page") }

// migrate creates the schema of the database at dbURL before any instance
// opens it (app.New migrates too; migrations are safe to run at once).
func migrate(tb testing.TB, dbURL string) {
	tb.Helper()
	taskstest.Open(tb, dbURL, tasks.Options{})
}

// backendOpener opens an instance's cache client for keys under prefix, of
// data from the database db reads (whose identity names the keys that
// memcache.Options.Volatile lists).
type backendOpener func(tb testing.TB, prefix string, db interface{ Identity() string }) cache.Backend

// memcachedBackend returns an opener of clients of the memcached servers
// at addrs; timeout bounds one request.
func memcachedBackend(addrs []string, timeout time.Duration) backendOpener {
	return memcachedClients(memcache.Options{Servers: addrs, Timeout: timeout})
}

// memcachedClients returns an opener of memcached clients with options mo
// (servers, credentials, timeout), set up as cmd/tasklist sets them up
// (Volatile) but, unless mo sets one, with a shorter Backoff, for short
// tests.
func memcachedClients(mo memcache.Options) backendOpener {
	return func(tb testing.TB, prefix string, db interface{ Identity() string }) cache.Backend {
		mo := mo
		mo.Backoff = cmp.Or(mo.Backoff, 200*time.Millisecond)
		mo.Volatile = taskcache.VolatileKeysSent(prefix, db)
		mc, err := memcache.New(mo)
		if err != nil {
			tb.Fatal(err)
		}
		return mc
	}
}

// fixedBackend returns an opener that gives every instance b itself:
// instances built with it share one cache, and the test reaches into b.
func fixedBackend(b cache.Backend) backendOpener {
	return func(testing.TB, string, interface{ Identity() string }) cache.Backend { return b }
}

// localBackend opens an in-process cache; it is a backendOpener.
func localBackend(tb testing.TB, _ string, _ interface{ Identity() string }) cache.Backend {
	l, err := local.New(local.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// startMemcacheds starts n memcached servers and returns their addresses.
func startMemcacheds(tb testing.TB, n int) []string {
	var addrs []string
	for range n {
		addrs = append(addrs, testenv.StartMemcached(tb, testenv.MemcachedOptions{}).Addr())
	}
	return addrs
}

// pageRow is what a list page shows of one task.
type pageRow struct {
	ID   int64
	Name string
	Done bool
}

// pageRows reads the task rows of a list page, in page order.
func pageRows(body string) []pageRow {
	rows := []pageRow{}
	for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		rows = append(rows, pageRow{ID: id, Name: html.UnescapeString(m[3]), Done: m[2] != ""})
	}
	return rows
}

// snapshotRows is what a page showing all of snap must show.
func snapshotRows(snap tasks.Snapshot) []pageRow {
	rows := []pageRow{}
	for _, t := range snap.Tasks {
		rows = append(rows, pageRow{ID: t.ID, Name: t.Name, Done: t.Done})
	}
	return rows
}

// body returns a response's body, gunzipped if it is gzip-encoded.
func body(tb testing.TB, w *httptest.ResponseRecorder) string {
	tb.Helper()
	if w.Header().Get("Content-Encoding") != "gzip" {
		return w.Body.String()
	}
	zr, err := gzip.NewReader(w.Body)
	if err != nil {
		tb.Fatalf("gzip body: %v", err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatalf("gzip body: %v", err)
	}
	return string(b)
}
