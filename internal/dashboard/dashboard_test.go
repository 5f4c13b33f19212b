package dashboard_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/cachetest"
	"github.com/tasklist/tasklist/internal/cache/local"
	"github.com/tasklist/tasklist/internal/dashboard"
	"github.com/tasklist/tasklist/internal/dbstats"
	"github.com/tasklist/tasklist/internal/loginlimit"
	"github.com/tasklist/tasklist/internal/stats"
	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/tasks/taskstest"
	"github.com/tasklist/tasklist/internal/testenv"
)

// newSources returns statistics sources of real components: the query
// layer's counter, with 3 hits and 1 miss; the in-process cache, holding
// one item; and the counted task store on a fresh SQLite database, which
// has answered one list query. The counter is returned to count more.
func newSources(t *testing.T) (stats.Sources, *stats.Counter) {
	t.Helper()
	store := taskstest.Open(t, testenv.SQLiteURL(t, "tasks.db"), tasks.Options{})
	queries := dbstats.New(store)
	if _, err := queries.List(t.Context()); err != nil {
		t.Fatal(err)
	}
	b, err := local.New(local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := cache.New(b, cache.Options{})
	t.Cleanup(func() { c.Close() })
	if err := c.Set(t.Context(), cache.Item{Key: "k", Value: []byte("v"), TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	query := new(stats.Counter)
	query.Hits.Add(3)
	query.Misses.Add(1)
	return stats.Sources{Layers: map[string]stats.Layer{"query": query}, Cache: c, Queries: queries}, query
}

// routes are the dashboard's three handlers by path; the page's render
// writes "page".
func routes(d *dashboard.Dashboard) map[string]http.Handler {
	return map[string]http.Handler{
		"/stats": d.Page(func(w http.ResponseWriter, _ *http.Request, _ dashboard.View) {
			w.Write([]byte("page"))
		}),
		"/stats.json": d.JSON(),
		"/metrics":    d.Metrics(),
	}
}

// request asks h for path from the address remote (as "host:port"), with
// basic auth when user or password is set, and header's pairs.
func request(h http.Handler, path, remote, user, password string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", path, nil)
	r.RemoteAddr = remote
	if user != "" || password != "" {
		r.SetBasicAuth(user, password)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestAccess: without a password, the three routes answer connections from
// loopback only (a forwarded header names no connection); with one, they
// answer the configured user and password only, from anywhere. No answer
// may be stored.
func TestAccess(t *testing.T) {
	for _, tc := range []struct {
		name           string
		user, password string // the configuration's
		remote         string
		authUser       string
		authPassword   string
		header         []string
		want           int
	}{
		{name: "no password, IPv4 loopback", remote: "127.0.0.1:5000", want: http.StatusOK},
		{name: "no password, other IPv4 loopback", remote: "127.8.9.10:5000", want: http.StatusOK},
		{name: "no password, IPv6 loopback", remote: "[::1]:5000", want: http.StatusOK},
		{name: "no password, IPv4 loopback mapped into IPv6", remote: "[::ffff:127.0.0.1]:5000", want: http.StatusOK},
		{name: "no password, remote", remote: "192.0.2.1:5000", want: http.StatusForbidden},
		{name: "no password, remote claiming loopback", remote: "192.0.2.1:5000", header: []string{"X-Forwarded-For", "127.0.0.1"}, want: http.StatusForbidden},
		{name: "no password, unreadable address", remote: "somewhere", want: http.StatusForbidden},
		{name: "password, loopback without credentials", password: "right", remote: "127.0.0.1:5000", want: http.StatusUnauthorized},
		{name: "password, right", password: "right", remote: "192.0.2.1:5000", authUser: dashboard.DefaultUser, authPassword: "right", want: http.StatusOK},
		{name: "password, wrong", password: "right", remote: "192.0.2.1:5000", authUser: dashboard.DefaultUser, authPassword: "wrong", want: http.StatusUnauthorized},
		{name: "password, a longer one", password: "right", remote: "192.0.2.1:5000", authUser: dashboard.DefaultUser, authPassword: "rightright", want: http.StatusUnauthorized},
		{name: "password, wrong user", password: "right", remote: "192.0.2.1:5000", authUser: "root", authPassword: "right", want: http.StatusUnauthorized},
		{name: "user and password, right", user: "ops", password: "right", remote: "192.0.2.1:5000", authUser: "ops", authPassword: "right", want: http.StatusOK},
		{name: "user and password, the default user", user: "ops", password: "right", remote: "192.0.2.1:5000", authUser: dashboard.DefaultUser, authPassword: "right", want: http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, _ := newSources(t)
			d := dashboard.New(dashboard.Config{Sources: src, User: tc.user, Password: tc.password})
			for path, h := range routes(d) {
				w := request(h, path, tc.remote, tc.authUser, tc.authPassword, tc.header...)
				if w.Code != tc.want {
					t.Errorf("%s = %d, want %d: %s", path, w.Code, tc.want, w.Body)
				}
				if got := w.Header().Get("Cache-Control"); got != "no-store" {
					t.Errorf("%s: Cache-Control %q, want no-store", path, got)
				}
				switch w.Code {
				case http.StatusForbidden:
					if !strings.Contains(w.Body.String(), "TASKLIST_STATS_PASSWORD") {
						t.Errorf("%s: the refusal does not say how to read the statistics from elsewhere: %s", path, w.Body)
					}
				case http.StatusUnauthorized:
					if got := w.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, "Basic ") {
						t.Errorf("%s: WWW-Authenticate %q, want a basic-auth challenge", path, got)
					}
				}
			}
		})
	}
}

// TestLoginLimit: wrong passwords are limited per client, on the clock of
// Config.Now: behind the proxy on this machine the client is the last
// address of X-Forwarded-For, whatever the client wrote before it; a
// request without credentials is no guess.
func TestLoginLimit(t *testing.T) {
	src, _ := newSources(t)
	clock := cachetest.NewClock()
	h := dashboard.New(dashboard.Config{Sources: src, Password: "right", Now: clock.Now}).JSON()
	viaProxy := func(xff, password string) *httptest.ResponseRecorder {
		user := dashboard.DefaultUser
		if password == "" {
			user = ""
		}
		return request(h, "/stats.json", "127.0.0.1:6000", user, password, "X-Forwarded-For", xff)
	}
	const attacker, other = "192.0.2.1", "198.51.100.7"
	for range loginlimit.DefaultMax + 3 {
		if w := viaProxy(attacker, ""); w.Code != http.StatusUnauthorized {
			t.Fatalf("without credentials = %d, want 401", w.Code)
		}
	}
	for i := range loginlimit.DefaultMax {
		if w := viaProxy("203.0.113.1, "+attacker, "wrong"); w.Code != http.StatusUnauthorized {
			t.Fatalf("wrong password %d = %d, want 401", i+1, w.Code)
		}
	}
	w := viaProxy(attacker, "right")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "60" {
		t.Errorf("the right password from the limited client = %d, Retry-After %q; want 429, 60", w.Code, w.Header().Get("Retry-After"))
	}
	if w := viaProxy(attacker+", "+other, "right"); w.Code != http.StatusOK {
		t.Errorf("the right password from another client, the limited one's address written before it = %d, want 200", w.Code)
	}
	clock.Advance(time.Minute)
	if w := viaProxy(attacker, "right"); w.Code != http.StatusOK {
		t.Errorf("a minute later, the right password = %d, want 200", w.Code)
	}
}

// TestJSON: /stats.json is stats.Report, read from the sources at the
// request: each layer's counters, on or off, their total, the cache, its
// server, the database's queries by kind.
func TestJSON(t *testing.T) {
	src, query := newSources(t)
	h := dashboard.New(dashboard.Config{Sources: src}).JSON()
	report := func() stats.Report {
		t.Helper()
		w := request(h, "/stats.json", "127.0.0.1:5000", "", "")
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q, want application/json", ct)
		}
		var r stats.Report
		if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
			t.Fatalf("%v: %s", err, w.Body)
		}
		return r
	}
	r := report()
	if q := r.Layers["query"]; q.Counts != (stats.Counts{Hits: 3, Misses: 1}) || !q.On || q.HitRatio != 0.75 {
		t.Errorf("query layer %+v, want 3 hits, 1 miss, on, hit ratio 0.75", q)
	}
	for _, name := range []string{"fragment", "page", "session"} {
		if l, ok := r.Layers[name]; !ok || l.On || l.Counts != (stats.Counts{}) {
			t.Errorf("layer %s: %+v (listed %v), want listed, off, zeros", name, l, ok)
		}
	}
	if r.Total.Counts != (stats.Counts{Hits: 3, Misses: 1}) {
		t.Errorf("total %+v, want the query layer's", r.Total.Counts)
	}
	if r.Backend != "local" || r.Cache == nil || r.Cache.Sets != 1 {
		t.Errorf("backend %q, cache %+v; want local, with the one set", r.Backend, r.Cache)
	}
	if len(r.Servers) != 1 || r.Servers[0].Addr != "local" || !r.Servers[0].Up || r.Servers[0].CmdSet != 1 {
		t.Errorf("servers %+v, want local, up, one set", r.Servers)
	}
	lists := -1
	for _, q := range r.Database {
		if q.Kind == "list" {
			lists = int(q.Count)
		}
	}
	if lists != 1 {
		t.Errorf("database %+v: %d list queries, want 1", r.Database, lists)
	}

	query.Hits.Add(1)
	if got := report().Layers["query"].Hits; got != 4 {
		t.Errorf("after one more hit, the report says %d hits, want 4", got)
	}
}

// TestPage: the page's View shows the layers in stats.Layers's order, each
// with its hit ratio (a dash before any lookup), the total, the cache
// server's memory and uptime, each kind of database query, and the window
// its chart spans: the samples kept.
func TestPage(t *testing.T) {
	src, _ := newSources(t)
	d := dashboard.New(dashboard.Config{Sources: src, Interval: time.Second, Samples: 5})
	var v dashboard.View
	h := d.Page(func(w http.ResponseWriter, _ *http.Request, view dashboard.View) { v = view })
	if w := request(h, "/stats", "127.0.0.1:5000", "", ""); w.Code != http.StatusOK {
		t.Fatalf("/stats = %d", w.Code)
	}
	var names, ratios []string
	for _, l := range v.Layers {
		names, ratios = append(names, l.Name), append(ratios, l.Ratio)
	}
	if got, want := strings.Join(names, " "), strings.Join(stats.Layers, " "); got != want {
		t.Errorf("layers %s, want %s", got, want)
	}
	if got, want := strings.Join(ratios, " "), "75.0% — — —"; got != want {
		t.Errorf("hit ratios %s, want %s", got, want)
	}
	if v.Total.Name != "Total" || v.Total.Ratio != "75.0%" {
		t.Errorf("total %q %q, want Total 75.0%%", v.Total.Name, v.Total.Ratio)
	}
	if v.Backend != "local" || v.RefreshSeconds != 5 || v.Window != "4s" || v.Chart.Window != 4*time.Second {
		t.Errorf("backend %q, refresh %d s, window %q (chart %v); want local, 5, 4s", v.Backend, v.RefreshSeconds, v.Window, v.Chart.Window)
	}
	if len(v.Servers) != 1 || !strings.HasSuffix(v.Servers[0].Memory, " of 64.0 MiB") || v.Servers[0].Uptime != "—" {
		t.Errorf("servers %+v, want local's memory of 64.0 MiB, uptime unknown", v.Servers)
	}
	if len(v.Queries) != len(src.Queries.QueryStats()) {
		t.Errorf("%d query rows, want one per kind: %+v", len(v.Queries), v.Queries)
	}
	for _, q := range v.Queries {
		if want := q.Query.Time.Round(time.Microsecond).String(); q.Time != want {
			t.Errorf("query %s: time %q, want %q", q.Kind, q.Time, want)
		}
	}
}

// TestMetrics: /metrics exports the sources' counters as they are at the
// scrape, and the requests given to ObserveRequest, by route and status.
func TestMetrics(t *testing.T) {
	src, _ := newSources(t)
	d := dashboard.New(dashboard.Config{Sources: src})
	d.ObserveRequest("GET /{$}", http.StatusOK, 3*time.Millisecond)
	d.ObserveRequest("GET /{$}", http.StatusOK, 4*time.Millisecond)
	d.ObserveRequest("", http.StatusNotFound, time.Millisecond)
	w := request(d.Metrics(), "/metrics", "127.0.0.1:5000", "", "")
	if w.Code != http.StatusOK {
		t.Fatalf("/metrics = %d", w.Code)
	}
	body := w.Body.String()
	for _, line := range []string{
		`tasklist_cache_operations_total{layer="query",operation="get",result="hit"} 3`,
		`tasklist_cache_operations_total{layer="query",operation="get",result="miss"} 1`,
		`tasklist_cache_operations_total{layer="page",operation="get",result="hit"} 0`,
		`tasklist_cache_server_up{addr="local"} 1`,
		`tasklist_cache_server_cmd_set_total{addr="local"} 1`,
		`tasklist_db_queries_total{kind="list"} 1`,
		`tasklist_db_query_errors_total{kind="list"} 0`,
		`tasklist_http_requests_total{code="200",route="GET /{$}"} 2`,
		`tasklist_http_requests_total{code="404",route="unmatched"} 1`,
		`tasklist_http_request_duration_seconds_count{route="GET /{$}"} 2`,
	} {
		if !strings.Contains(body, "\n"+line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}

// TestSample: Sample records the layers' totals every Config.Interval
// until its context ends, and the chart's rates come from them.
func TestSample(t *testing.T) {
	src, query := newSources(t)
	d := dashboard.New(dashboard.Config{Sources: src, Interval: 5 * time.Millisecond, Samples: 1000})
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Sample(ctx)
	}()
	h := d.JSON()
	rates := func() []stats.Rate {
		var r stats.Report
		if err := json.Unmarshal(request(h, "/stats.json", "127.0.0.1:5000", "", "").Body.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		return r.Rates
	}
	testenv.WaitFor(t, "a rate from two samples", func() bool { return len(rates()) > 0 })
	query.Hits.Add(100)
	testenv.WaitFor(t, "a rate of hits after 100 more", func() bool {
		return slices.ContainsFunc(rates(), func(r stats.Rate) bool { return r.Hits > 0 })
	})
	stop()
	testenv.WaitFor(t, "Sample to return once its context ended", func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	})
}
