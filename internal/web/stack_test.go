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
	"sync/atomic"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/fill"
	"github.com/tasklist/tasklist/internal/cache/local"
	"github.com/tasklist/tasklist/internal/cache/memcache"
	"github.com/tasklist/tasklist/internal/config"
	"github.com/tasklist/tasklist/internal/taskcache"
	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/testenv"
	"github.com/tasklist/tasklist/internal/web"
)

// The layer sets the tests use most.
var (
	noLayer    = config.Layers{}
	everyLayer = config.Layers{Query: true, Fragment: true, Page: true}
)

// stackOptions describe one app instance as cmd/tasklist wires it (see
// its webConfig): its own database pool and, with any layer on, its own
// cache client, query cache and web server.
type stackOptions struct {
	dbURL string
	// backend opens this instance's cache client for keys under prefix;
	// unused with no layer.
	backend  backendOpener
	prefix   string // the key prefix: one per app, shared by its instances
	strategy taskcache.Strategy
	ttl      time.Duration // the staleness bound under Expire (default 5s)
	layers   config.Layers
	slow     time.Duration // the simulated slow list query
	pageSize int
	// configure, when set, completes the web server's configuration with
	// the instance's cache (sessions, for instance); unused with no layer.
	configure func(cfg *web.Config, c *cache.Cache)
}

// stack is one app instance.
type stack struct {
	handler http.Handler
	server  *web.Server
	src     *querySource
	backend *countingBackend // nil with no layer on
	cached  *taskcache.Store // nil with no layer on
}

// querySource is the real task store, counting the queries of the list
// or of a page's rows (countingSource counts the list and revision ones;
// a page reads its own rows when the query cache is off).
type querySource struct {
	*countingSource
	pages atomic.Int64
}

func (s *querySource) Page(ctx context.Context, after int64, n int) (tasks.Page, error) {
	s.pages.Add(1)
	return s.Store.Page(ctx, after, n)
}

// queries is how many list and page queries reached the database.
func (s *querySource) queries() int64 { return s.lists.Load() + s.pages.Load() }

// migrate creates the schema of the database at dbURL, once, before any
// instance opens it.
func migrate(tb testing.TB, dbURL string) {
	tb.Helper()
	openStore(tb, dbURL, 0, true)
}

func openStore(tb testing.TB, dbURL string, slow time.Duration, migrate bool) *tasks.Store {
	tb.Helper()
	st, err := tasks.Open(tb.Context(), dbURL, tasks.Options{SlowQuery: slow})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if migrate {
		if err := st.Migrate(tb.Context(), slog.New(slog.DiscardHandler)); err != nil {
			tb.Fatal(err)
		}
	}
	return st
}

// newStack starts one app instance over a migrated database.
func newStack(tb testing.TB, o stackOptions) *stack {
	tb.Helper()
	s := &stack{src: &querySource{countingSource: &countingSource{Store: openStore(tb, o.dbURL, o.slow, false)}}}
	cfg := web.Config{Tasks: s.src, Logger: slog.New(slog.DiscardHandler), PageSize: o.pageSize,
		AllowedHosts: []string{"example.com", "127.0.0.1"}} // httptest.NewRequest's, httptest.Server's
	if o.layers.Any() {
		s.backend = &countingBackend{Backend: o.backend(tb, o.prefix, s.src)}
		c := cache.New(s.backend.counted(), cache.Options{Prefix: o.prefix})
		tb.Cleanup(func() { c.Close() })
		lease := fill.LeaseTTL(o.slow)
		store, err := taskcache.New(s.src, c, taskcache.Options{
			Strategy: o.strategy,
			TTL:      o.ttl,
			Uncached: !o.layers.Query,
			LeaseTTL: lease,
		})
		if err != nil {
			tb.Fatal(err)
		}
		s.cached = store
		cfg.Tasks, cfg.Cache, cfg.Versions = store, c, store
		cfg.Fragments, cfg.Pages, cfg.LeaseTTL = o.layers.Fragment, o.layers.Page, lease
		if o.configure != nil {
			o.configure(&cfg, c)
		}
	}
	srv, err := web.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	s.server, s.handler = srv, srv.Handler()
	return s
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

// localBackend opens an in-process cache.
func localBackend(tb testing.TB) cache.Backend {
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
