package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/app"
	"github.com/tasklist/tasklist/internal/stats"
	"github.com/tasklist/tasklist/internal/testenv"
)

// TestStatsFollowTheTutorial reloads the task page as MemCachier's tutorial
// does and watches the counters through /stats.json, with each caching
// layer alone and with all three, on the in-process cache, a plain
// memcached and a SASL one: the first load misses and sets, the next ones
// hit, in exactly the layer that served them. Each response says what
// served it in Server-Timing and in its log line, and /metrics shows the
// same counts. With memcached, the server's own figures come from its
// stats, and the server is shown down once it is stopped.
func TestStatsFollowTheTutorial(t *testing.T) {
	type delta = map[string]stats.Counts
	miss1 := stats.Counts{Misses: 1, Sets: 1}
	hit1 := stats.Counts{Hits: 1}
	layerCases := []struct {
		layers string
		// first and next are what the first load and each later one add
		// to the layers' counters.
		first, next delta
		// timing is the start of Server-Timing on the first and next loads.
		firstTiming, nextTiming string
	}{
		{"query", delta{"query": miss1}, delta{"query": hit1},
			`cache;desc="query miss", db;desc="2 queries"`, `cache;desc="query hit", db;desc="0 queries"`},
		// A list fragment, and the row of the one task in it.
		{"fragment", delta{"fragment": {Misses: 2, Sets: 2}}, delta{"fragment": hit1},
			`cache;desc="fragment miss", db;desc="2 queries"`, `cache;desc="fragment hit", db;desc="0 queries"`},
		{"page", delta{"page": miss1}, delta{"page": hit1},
			`cache;desc="page miss", db;desc="2 queries"`, `cache;desc="page hit", db;desc="0 queries"`},
		// The page is made once for its version: the query cache is asked
		// whether it holds the list, which it does not, and the page reads
		// its own rows, filling no list.
		{"query,fragment,page", delta{"page": miss1, "fragment": {Misses: 2, Sets: 2}, "query": {Misses: 1}}, delta{"page": hit1},
			`cache;desc="page miss, fragment miss, query miss", db;desc="2 queries"`, `cache;desc="page hit", db;desc="0 queries"`},
	}
	for _, backend := range []string{"local", "memcached", "memcachier"} {
		t.Run(backend, func(t *testing.T) {
			for _, lc := range layerCases {
				t.Run(lc.layers, func(t *testing.T) {
					env := map[string]string{
						"TASKLIST_ADDR":         "127.0.0.1:0",
						"DATABASE_URL":          testenv.SQLiteURL(t, "stats.db"),
						"TASKLIST_CACHE_LAYERS": lc.layers,
						"TASKLIST_LOG_FORMAT":   "json",
						// Generous: the test is about counts, not timeouts.
						"TASKLIST_CACHE_TIMEOUT": "10s",
					}
					var mc *testenv.Memcached
					switch backend {
					case "memcached":
						mc = testenv.StartMemcached(t, testenv.MemcachedOptions{})
						env["MEMCACHE_SERVERS"] = mc.Addr()
					case "memcachier":
						mc = testenv.StartMemcached(t, testenv.MemcachedOptions{Username: "tasklist", Password: "sasl-password"})
						env["MEMCACHIER_SERVERS"], env["MEMCACHIER_USERNAME"], env["MEMCACHIER_PASSWORD"] = mc.Addr(), "tasklist", "sasl-password"
					}
					var logs testenv.LockedBuffer
					base, stop, done := start(t, env, &logs)
					defer func() {
						stop()
						<-done
					}()
					postNoFollow(t, base+"/add", url.Values{"name": {"Buy milk"}})

					before := readStats(t, base)
					for load, want := range []delta{lc.first, lc.next, lc.next} {
						resp, _ := fetchOK(t, base+"/")
						wantTiming := lc.firstTiming
						if load > 0 {
							wantTiming = lc.nextTiming
						}
						if got := resp.Header.Get("Server-Timing"); !strings.HasPrefix(got, wantTiming) {
							t.Errorf("load %d: Server-Timing %q, want it to start %q", load+1, got, wantTiming)
						}
						after := readStats(t, base)
						if diff := cmp.Diff(want, layerDeltas(before, after)); diff != "" {
							t.Errorf("load %d: counters added (-want +got):\n%s", load+1, diff)
						}
						before = after
					}
					checkReport(t, before, backend, lc.layers, mc)
					wantLog := regexp.MustCompile(`"path":"/","status":200,.*"cache":"` + regexp.QuoteMeta(strings.TrimSuffix(strings.TrimPrefix(lc.nextTiming, `cache;desc="`), `", db;desc="0 queries"`)) + `","db_queries":0`)
					if !wantLog.MatchString(logs.String()) {
						t.Errorf("no request log line matches %s:\n%s", wantLog, logs.String())
					}
					checkMetrics(t, base, before)

					if mc != nil {
						mc.Stop()
						if r := readStats(t, base); len(r.Servers) != 1 || r.Servers[0].Up {
							t.Errorf("servers after memcached stopped: %+v, want it down", r.Servers)
						}
						if _, page := fetchOK(t, base+"/stats"); !regexp.MustCompile(`data-server="` + regexp.QuoteMeta(mc.Addr()) + `"[^>]*>\s*<div[^>]*>\s*<span[^>]*>[^<]*</span>\s*<span class="badge text-bg-danger state">down</span>`).MatchString(page) {
							t.Errorf("/stats does not show %s down:\n%s", mc.Addr(), page)
						}
					}
				})
			}
		})
	}
}

// checkReport checks the figures of a report taken after three loads that
// are not layer counters: the layers on, the servers, the database.
func checkReport(t *testing.T, r stats.Report, backend, layers string, mc *testenv.Memcached) {
	t.Helper()
	for _, name := range stats.Layers {
		// Sessions are always on; the caching layers as configured.
		if on := name == "session" || strings.Contains(layers, name); r.Layers[name].On != on {
			t.Errorf("layer %s on = %v, want %v", name, r.Layers[name].On, on)
		}
	}
	var sum stats.Counts
	for _, l := range r.Layers {
		sum = sum.Add(l.Counts)
	}
	if sum != r.Total.Counts {
		t.Errorf("total %+v, want the sum of the layers %+v", r.Total.Counts, sum)
	}
	wantBackend := map[string]string{"local": "local", "memcached": "memcache", "memcachier": "memcache+sasl"}[backend]
	if r.Backend != wantBackend || len(r.Servers) != 1 {
		t.Fatalf("backend %q with servers %+v, want %q with one server", r.Backend, r.Servers, wantBackend)
	}
	s := r.Servers[0]
	wantAddr := "local"
	if mc != nil {
		wantAddr = mc.Addr()
		if s.LimitBytes != 64<<20 || s.CurrConnections == 0 || s.Bytes == 0 {
			t.Errorf("server %+v: want memcached's 64 MiB limit, connections and bytes", s)
		}
	}
	// The server's own counts include every key this process read and
	// stored; the client's counts for it are the same, as it is alone.
	if s.Addr != wantAddr || !s.Up || s.Items == 0 || s.GetHits == 0 || s.GetMisses == 0 || s.CmdSet == 0 ||
		s.GetHits != s.Client.Hits || s.GetMisses != s.Client.Misses || s.CmdSet != s.Client.Sets {
		t.Errorf("server %+v: want %s up, holding items, its own get_hits, get_misses and cmd_set equal to the client's counts", s, wantAddr)
	}
	queries := map[string]uint64{}
	for _, q := range r.Database {
		queries[q.Kind] = q.Count
	}
	// One add; one revision and one list (or page) query on the first load
	// only: the list when the query cache is alone, else the page's own
	// rows.
	listKind := "page"
	if layers == "query" {
		listKind = "list"
	}
	want := map[string]uint64{"list": 0, "page": 0, "revision": 1, "add": 1, "toggle": 0, "remove": 0, "restore": 0}
	want[listKind] = 1
	if diff := cmp.Diff(want, queries); diff != "" {
		t.Errorf("database queries (-want +got):\n%s", diff)
	}
}

// checkMetrics checks that /metrics shows the report's layer counters, the
// three page loads and the database queries, all named tasklist_*.
func checkMetrics(t *testing.T, base string, r stats.Report) {
	t.Helper()
	_, body := fetchOK(t, base+"/metrics")
	for _, name := range stats.Layers {
		l := r.Layers[name]
		for _, m := range []struct {
			op, result string
			v          uint64
		}{{"get", "hit", l.Hits}, {"get", "miss", l.Misses}, {"set", "ok", l.Sets}, {"delete", "ok", l.Deletes}, {"any", "error", l.Errors}} {
			line := fmt.Sprintf("tasklist_cache_operations_total{layer=%q,operation=%q,result=%q} %d\n", name, m.op, m.result, m.v)
			if !strings.Contains(body, line) {
				t.Errorf("/metrics lacks %q", line)
			}
		}
	}
	for _, line := range []string{
		`tasklist_http_requests_total{code="200",route="GET /{$}"} 3` + "\n",
		`tasklist_http_request_duration_seconds_count{route="GET /{$}"} 3` + "\n",
		`tasklist_http_requests_total{code="303",route="POST /add"} 1` + "\n",
		`tasklist_db_queries_total{kind="add"} 1` + "\n",
		`tasklist_cache_server_up{addr="` + r.Servers[0].Addr + `"} 1` + "\n",
		"tasklist_go_goroutines ",
		"tasklist_process_resident_memory_bytes ",
	} {
		if !strings.Contains(body, line) {
			t.Errorf("/metrics lacks %q", line)
		}
	}
	for line := range strings.Lines(body) {
		if !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "tasklist_") {
			t.Errorf("/metrics has a metric not named tasklist_*: %q", line)
		}
	}
}

// layerDeltas is what each layer's counters rose by from a to b; layers
// that did not change are left out.
func layerDeltas(a, b stats.Report) map[string]stats.Counts {
	out := map[string]stats.Counts{}
	for name, l := range b.Layers {
		p := a.Layers[name]
		d := stats.Counts{Hits: l.Hits - p.Hits, Misses: l.Misses - p.Misses, Sets: l.Sets - p.Sets, Deletes: l.Deletes - p.Deletes, Errors: l.Errors - p.Errors}
		if d != (stats.Counts{}) {
			out[name] = d
		}
	}
	return out
}

func readStats(t *testing.T, base string) stats.Report {
	t.Helper()
	var r stats.Report
	_, body := fetchOK(t, base+"/stats.json")
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("/stats.json: %v", err)
	}
	return r
}

// fetchOK is fetch, failing unless the status is 200.
func fetchOK(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	resp, body := fetch(t, u)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", u, resp.StatusCode, body)
	}
	return resp, body
}

// postNoFollow posts form to u and checks the 303, without following it:
// the page load it would make is the test's to make. It returns the
// session cookie the answer set, if any; the test's later requests do not
// send it.
func postNoFollow(t *testing.T, u string, form url.Values) *http.Cookie {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST %s: status %d, want 303", u, resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == app.SessionCookie {
			return c
		}
	}
	return nil
}

// TestStatsHideSecrets runs the whole program with every secret it takes
// (a database password, which PostgreSQL's trust authentication ignores, a
// MemCachier password, a statistics password) and a visitor's session:
// /stats, /stats.json and /metrics, answered with the right credentials,
// hold none of them nor the session's token, and the log holds none of
// the passwords.
func TestStatsHideSecrets(t *testing.T) {
	const dbPassword, cachePassword, statsPassword = "db-secret-1234", "cache-secret-5678", "stats-secret-9012"
	u, err := url.Parse(testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), dbPassword)
	mc := testenv.StartMemcached(t, testenv.MemcachedOptions{Username: "tasklist", Password: cachePassword})
	var logs testenv.LockedBuffer
	base, stop, done := start(t, map[string]string{
		"TASKLIST_ADDR":           "127.0.0.1:0",
		"DATABASE_URL":            u.String(),
		"MEMCACHIER_SERVERS":      mc.Addr(),
		"MEMCACHIER_USERNAME":     "tasklist",
		"MEMCACHIER_PASSWORD":     cachePassword,
		"TASKLIST_STATS_PASSWORD": statsPassword,
		"TASKLIST_LOG_LEVEL":      "debug",
	}, &logs)
	cookie := postNoFollow(t, base+"/add", url.Values{"name": {"a task"}})
	if cookie == nil {
		t.Fatal("POST /add set no session cookie")
	}
	fetchOK(t, base+"/")
	for _, route := range []string{"/stats", "/stats.json", "/metrics"} {
		req, err := http.NewRequest("GET", base+route, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth("admin", statsPassword)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), mc.Addr()) {
			t.Errorf("GET %s: status %d, want 200 showing %s", route, resp.StatusCode, mc.Addr())
		}
		for _, secret := range []string{dbPassword, cachePassword, statsPassword, cookie.Value} {
			if strings.Contains(string(b), secret) {
				t.Errorf("GET %s reveals %q", route, secret)
			}
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{dbPassword, cachePassword, statsPassword} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log reveals %q:\n%s", secret, logs.String())
		}
	}
}
