package web_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/config"
	"github.com/tasklist/tasklist/internal/taskcache"
	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/tasks/taskstest"
	"github.com/tasklist/tasklist/internal/testenv"
	"github.com/tasklist/tasklist/internal/web"
)

// BenchmarkIndex shows what each caching layer saves on GET /, the list
// page, with 100 and 1000 tasks in SQLite (a temp file) and the default
// page size (web.DefaultPageSize: the page shows 100 rows). Layers: none
// (no cache at all: the page's rows read from the database and rendered),
// query (the whole list from the cache, the page cut out of it and
// rendered), query,fragment (the list fragment from the cache) and
// query,fragment,page (the whole page from the cache), each over
// the in-process cache (local) and a real memcached on 127.0.0.1
// (memcache; skipped when memcached is missing). The strategy is the
// default, version. Every case is warmed first, so the timed requests are
// hits of whatever is cached; the benchmark fails if one reached the
// database when the query cache is on.
//
// Besides ns/op and allocations it reports roundtrips/op, the requests
// sent to the cache backend per GET / (a multi-get is one), and
// queries/op, the list and page queries sent to the database. The machine may be
// shared: compare the sub-benchmarks of one run as ratios.
func BenchmarkIndex(b *testing.B) {
	backends := []struct {
		name string
		open backendOpener
	}{
		{"local", localBackend},
		{"memcache", func(tb testing.TB, prefix string, db interface{ Identity() string }) cache.Backend {
			return memcachedBackend(startMemcacheds(tb, 1), 0)(tb, prefix, db)
		}},
	}
	layerSets := []config.Layers{{Query: true}, {Query: true, Fragment: true}, everyLayer}
	for _, n := range []int{100, 1000} {
		dbURL := testenv.SQLiteURL(b, "bench"+strconv.Itoa(n)+".db")
		migrate(b, dbURL)
		seed := taskstest.Open(b, dbURL, tasks.Options{})
		for i := range n {
			if _, _, err := seed.Add(b.Context(), "task "+strconv.Itoa(i)); err != nil {
				b.Fatal(err)
			}
		}
		prefix := "tasks=" + strconv.Itoa(n) + "/"
		b.Run(prefix+"none", func(b *testing.B) {
			benchmarkIndex(b, stackOptions{dbURL: dbURL, layers: noLayer})
		})
		for _, bk := range backends {
			for _, l := range layerSets {
				b.Run(prefix+bk.name+"/"+l.String(), func(b *testing.B) {
					benchmarkIndex(b, stackOptions{
						dbURL:    dbURL,
						backend:  bk.open,
						prefix:   testenv.RandomName("bench") + ":",
						strategy: taskcache.Version,
						layers:   l,
					})
				})
			}
		}
	}
}

func benchmarkIndex(b *testing.B, o stackOptions) {
	s := newStack(b, o)
	// Warm up (twice: the second fills the in-process page copies), and
	// check the page while at it.
	for range 2 {
		w := httptest.NewRecorder()
		s.handler.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		if rows := pageRows(w.Body.String()); w.Code != http.StatusOK || len(rows) != web.DefaultPageSize {
			b.Fatalf("GET / = %d with %d rows, want 200 with %d", w.Code, len(rows), web.DefaultPageSize)
		}
	}
	get := func() {
		w := &discardResponse{header: http.Header{}}
		s.handler.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		if w.status != http.StatusOK || w.n == 0 {
			b.Fatalf("GET / = %d with %d bytes", w.status, w.n)
		}
	}
	var calls0 int64
	if s.backend != nil {
		calls0 = s.backend.calls.Load()
	}
	queries0 := s.reads()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		get()
	}
	b.StopTimer()
	queries := s.reads() - queries0
	if o.layers.Query && queries != 0 {
		b.Errorf("%d timed requests reached the database with the query cache on", queries)
	}
	b.ReportMetric(float64(queries)/float64(b.N), "queries/op")
	if s.backend != nil {
		b.ReportMetric(float64(s.backend.calls.Load()-calls0)/float64(b.N), "roundtrips/op")
	}
}

// discardResponse is a ResponseWriter that keeps only the status and the
// body's length, so that the benchmark does not time a recorder's buffer.
type discardResponse struct {
	header http.Header
	status int
	n      int
}

func (w *discardResponse) Header() http.Header { return w.header }

func (w *discardResponse) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *discardResponse) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += len(b)
	return len(b), nil
}
