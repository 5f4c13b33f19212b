package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/testenv"
)

// response is what a client got: a status, Server-Timing header and body,
// or an error (a dropped connection, or no answer within the client's
// timeout).
type response struct {
	status  int
	timing  string
	body    string
	err     error
	elapsed time.Duration
}

// dbUnavailable reports whether the response's Server-Timing says the
// database is unavailable.
func (r response) dbUnavailable() bool { return strings.Contains(r.timing, `db;desc="unavailable`) }

// patientClient waits far longer than any deadline of the app: a request
// it gives up on has hung.
var patientClient = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func do(method, u string, form url.Values) response {
	start := time.Now()
	var resp *http.Response
	var err error
	if method == http.MethodPost {
		resp, err = patientClient.PostForm(u, form)
	} else {
		resp, err = patientClient.Get(u)
	}
	if err != nil {
		return response{err: err, elapsed: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, timing: resp.Header.Get("Server-Timing"), body: string(b), err: err, elapsed: time.Since(start)}
}

// viaProxy returns rawURL with its host:port replaced by the proxy's.
func viaProxy(t *testing.T, rawURL string, p *testenv.Proxy) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.Addr()
	return u.String()
}

// serverOf returns the host:port of a database URL.
func serverOf(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// TestDatabaseStall runs serve against MariaDB and PostgreSQL through a TCP
// proxy that stops forwarding, as a hung database or network does. With
// TASKLIST_DB_TIMEOUT=1s: an uncached read and /healthz answer 503; an add
// that never reached the database answers 503 "not saved"; an add whose
// COMMIT reached the database but whose answer was lost answers 503 "may or
// may not have been saved" and is in the list afterwards; no request is
// dropped; requests in flight when the server is stopped end, and the
// shutdown finishes without using up its grace period; once the proxy
// forwards again everything works. With every cache layer on (the
// in-process cache), /healthz answers 200 "degraded", the database down and
// serving from the cache, and the page cached before the stall is served
// meanwhile (200), its Server-Timing saying the database is unavailable,
// also after the add that failed: it changed nothing, so it invalidated
// nothing. Once the database answers again, pages no longer say so.
func TestDatabaseStall(t *testing.T) {
	for _, db := range []struct {
		name  string
		fresh func(testing.TB) string
	}{{"mysql", testenv.MySQLURL}, {"postgres", testenv.PostgresURL}} {
		for _, layers := range []string{"none", "query,fragment,page"} {
			t.Run(db.name+"/"+layers, func(t *testing.T) {
				t.Parallel()
				testDatabaseStall(t, db.fresh(t), layers)
			})
		}
	}
}

func testDatabaseStall(t *testing.T, dbURL, layers string) {
	proxy := testenv.StartProxy(t, serverOf(t, dbURL))
	var logs testenv.LockedBuffer
	base, stop, done := startLabelled(t, t.Name(), map[string]string{
		"TASKLIST_ADDR":             "127.0.0.1:0",
		"DATABASE_URL":              viaProxy(t, dbURL, proxy),
		"TASKLIST_DB_TIMEOUT":       "1s",
		"TASKLIST_CACHE_LAYERS":     layers,
		"TASKLIST_SHUTDOWN_TIMEOUT": "25s",
	}, &logs)
	addTask(t, base, "before the stall")

	proxy.Stall()
	expect := func(what string, r response, status int, says string) {
		t.Helper()
		t.Logf("%s during the stall: %d after %v, Server-Timing %s", what, r.status, r.elapsed.Round(time.Millisecond), r.timing)
		if r.err != nil || r.status != status || !strings.Contains(r.body, says) || !r.dbUnavailable() {
			t.Errorf("%s during the stall = %d, %v, Server-Timing %s; want %d saying %q, the database unavailable; body:\n%s",
				what, r.status, r.err, r.timing, status, says, r.body)
		}
	}
	cachedPage := func(what string) {
		t.Helper()
		expect(what, do(http.MethodGet, base+"/", nil), http.StatusOK, "before the stall")
	}
	if layers == "none" {
		expect("GET /healthz", do(http.MethodGet, base+"/healthz", nil), http.StatusServiceUnavailable, `"database":{"status":"down"}`)
		expect("GET /", do(http.MethodGet, base+"/", nil), http.StatusServiceUnavailable, "unavailable at the moment")
	} else {
		expect("GET /healthz", do(http.MethodGet, base+"/healthz", nil), http.StatusOK, `"status":"degraded","serving":"cache","checks":{`)
		cachedPage("GET / of the page cached before")
	}
	expect("an add", do(http.MethodPost, base+"/add", url.Values{"name": {"never reached the database"}}), http.StatusServiceUnavailable, "was not saved")
	if layers != "none" { // the add changed nothing, and invalidated nothing
		cachedPage("GET / after the failed add")
	}

	if err := proxy.Forward(); err != nil {
		t.Fatal(err)
	}
	proxy.StallOn("commit")
	expect("an add whose COMMIT went unanswered", do(http.MethodPost, base+"/add", url.Values{"name": {"answer lost"}}),
		http.StatusServiceUnavailable, "may or may not have been saved")
	if err := proxy.Forward(); err != nil {
		t.Fatal(err)
	}
	// The add of unknown outcome is shown once the instance has checked the
	// cache against the database, which answers again.
	var r response
	testenv.WaitFor(t, "the add of unknown outcome shown after the stall", func() bool {
		r = do(http.MethodGet, base+"/", nil)
		return strings.Contains(r.body, "answer lost")
	})
	if r.status != http.StatusOK || !strings.Contains(r.body, "before the stall") || strings.Contains(r.body, "never reached the database") || r.dbUnavailable() {
		t.Errorf("after the stall GET / = %d, %v, Server-Timing %s; want 200 with the tasks added and not the one that was not, the database available; body:\n%s",
			r.status, r.err, r.timing, r.body)
	}

	// Requests in flight when the server is told to stop.
	proxy.Stall()
	var wg sync.WaitGroup
	var answered atomic.Int32
	results := make([]response, 6)
	for i := range results {
		wg.Go(func() {
			if i%2 == 0 {
				results[i] = do(http.MethodGet, base+"/", nil)
			} else {
				results[i] = do(http.MethodPost, base+"/add", url.Values{"name": {"during shutdown"}})
			}
			answered.Add(1)
		})
	}
	// The stop comes once each request has been answered (a cached page,
	// or the database's timeout) or waits in the server for the database.
	// Answers are counted first: a request that waits for the database has
	// no answer yet, so none is counted twice.
	testenv.WaitFor(t, "every request answered or waiting for the database", func() bool {
		n := int(answered.Load())
		return n+goroutinesIn(t, t.Name(), requestFrame, "database/sql.") >= len(results)
	})
	stop()
	wg.Wait()
	for i, r := range results {
		// A read may be served from the cache; a write needs the database.
		read := i%2 == 0 && r.status == http.StatusOK && layers != "none"
		if r.err != nil || r.status != http.StatusServiceUnavailable && !read {
			t.Errorf("request %d in flight at shutdown = %d, %v, want a 503 (or a cached page)", i, r.status, r.err)
		}
	}
	if err := <-done; err != nil {
		t.Errorf("run = %v, want a clean stop within the grace period", err)
	}
}

// TestDatabaseRefused runs three instances of serve on MariaDB, through a
// TCP proxy, sharing one memcached with every cache layer on, under steady
// reads and writes, while the proxy refuses connections (and cuts the open
// ones) until the load has met the fault (refusedAnswers answers, among
// them a /healthz serving from the cache and a 503 of an add), then
// forwards again. With TASKLIST_DB_TIMEOUT=1s: no request is dropped and
// none takes 10 s; GET / answers 200 (a cached page: failed writes
// invalidate nothing) or 503 (the version of a write just before the fault
// needs the database once), /healthz 200 (with the database down, serving
// from the cache), a write 303 or 503; the goroutines of the test process
// come back to about their number before the load; afterwards every
// instance serves pages and accepts writes, and serves exactly the tasks
// the database holds, including after writes whose commit failed. It logs
// how many of the pages served while refused said in Server-Timing that
// the database was unavailable.
// refusedAnswers is how many answers TestDatabaseRefused's load gets while
// the database refuses.
const refusedAnswers = 100

func TestDatabaseRefused(t *testing.T) {
	dbURL := testenv.MySQLURL(t)
	proxy := testenv.StartProxy(t, serverOf(t, dbURL))
	mc := testenv.StartMemcached(t, testenv.MemcachedOptions{})
	var bases []string
	for range 3 {
		var logs testenv.LockedBuffer
		base, stop, done := start(t, map[string]string{
			"TASKLIST_ADDR":         "127.0.0.1:0",
			"DATABASE_URL":          viaProxy(t, dbURL, proxy),
			"TASKLIST_DB_TIMEOUT":   "1s",
			"TASKLIST_CACHE_LAYERS": "query,fragment,page",
			"MEMCACHE_SERVERS":      mc.Addr(),
			// The fault is the database's: memcached must not look down
			// because a machine busy with other tests answers it late
			// (then, with the database down too, /healthz is rightly 503).
			"TASKLIST_CACHE_TIMEOUT": "2s",
			"TASKLIST_PAGE_SIZE":     "1000", // every task on one page
		}, &logs)
		t.Cleanup(func() {
			stop()
			if err := <-done; err != nil {
				t.Errorf("run = %v\n%s", err, logs.String())
			}
		})
		bases = append(bases, base)
	}
	addTask(t, bases[0], "before the fault")
	// phase is where the load is: before the fault, refused, or after it.
	const (
		before = iota
		refused
		after
	)
	var phase atomic.Int32
	var answers atomic.Int64 // answers of the current load
	var mu sync.Mutex
	var during []time.Duration // elapsed of the requests sent while refused
	var statuses = map[string]int{}
	var duringStatuses = map[string]int{} // of the answers while refused
	var names []string                    // every task a writer tried to add
	var unknown int                       // writes whose outcome is unknown: their COMMIT went unanswered
	var accepting [3]atomic.Bool          // an instance accepted a write after the fault
	note := func(what string, r response, ok ...int) {
		mu.Lock()
		defer mu.Unlock()
		answers.Add(1)
		switch {
		case strings.Contains(r.body, `"serving":"cache"`):
			what += " serving from the cache"
		case r.status == http.StatusOK && what == "GET /" && r.dbUnavailable():
			what += " (database unavailable)"
		}
		statuses[fmt.Sprintf("%s %d", what, r.status)]++
		if strings.Contains(r.body, "may or may not have been saved") {
			unknown++
		}
		if phase.Load() == refused {
			during = append(during, r.elapsed)
			duringStatuses[fmt.Sprintf("%s %d", what, r.status)]++
		}
		if r.err != nil || !slices.Contains(ok, r.status) || r.elapsed > 10*time.Second {
			t.Errorf("%s = %d, %v after %v, want one of %v within 10 s", what, r.status, r.err, r.elapsed, ok)
		}
	}
	// load sends steady reads and writes to every instance while fault
	// runs; run is its number, which names its tasks. A writer adds at most
	// maxAdds tasks per load, then reads, so that the list stays within one
	// page (TASKLIST_PAGE_SIZE).
	const maxAdds = 100
	load := func(run int, fault func()) {
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		defer func() {
			cancel()
			wg.Wait()
			// The clients' idle keep-alive connections are not the app's.
			patientClient.CloseIdleConnections()
			http.DefaultClient.CloseIdleConnections()
		}()
		answers.Store(0)
		for w := range 3 {
			wg.Go(func() {
				added := 0
				for n := 0; ctx.Err() == nil; n++ {
					if added == maxAdds {
						note("GET /", do(http.MethodGet, bases[n%3]+"/", nil), http.StatusOK, http.StatusServiceUnavailable)
						continue
					}
					name := fmt.Sprintf("load %d %d %d", run, w, n)
					mu.Lock()
					names = append(names, name)
					mu.Unlock()
					r := do(http.MethodPost, bases[n%3]+"/add", url.Values{"name": {name}})
					note("POST /add", r, http.StatusSeeOther, http.StatusServiceUnavailable)
					if r.status == http.StatusSeeOther {
						added++
						if phase.Load() == after {
							accepting[n%3].Store(true)
						}
					}
				}
			})
		}
		for r := range 3 {
			wg.Go(func() {
				for n := 0; ctx.Err() == nil; n++ {
					base := bases[(n+r)%3]
					note("GET /", do(http.MethodGet, base+"/", nil), http.StatusOK, http.StatusServiceUnavailable)
					if n%5 == 0 {
						note("GET /healthz", do(http.MethodGet, base+"/healthz", nil), http.StatusOK)
					}
				}
			})
		}
		fault()
	}
	steady := func(n int64) func() {
		return func() {
			testenv.WaitFor(t, fmt.Sprintf("%d answers of a steady load", n), func() bool { return answers.Load() >= n })
		}
	}

	// A warm-up without fault fills the pools: the goroutines after it are
	// the baseline.
	load(0, steady(200))
	baseline := runtime.NumGoroutine()
	load(1, func() {
		steady(60)()
		phase.Store(refused)
		proxy.Refuse()
		// The fault lasts until the load has met it: the instances said
		// the database is down, refused a write, and kept answering.
		testenv.WaitFor(t, "a /healthz serving from the cache, a 503 of an add, and "+strconv.Itoa(refusedAnswers)+" answers, while the database refused", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return duringStatuses["GET /healthz serving from the cache 200"] > 0 && duringStatuses["POST /add 503"] > 0 && len(during) >= refusedAnswers
		})
		if err := proxy.Forward(); err != nil {
			t.Error(err)
		}
		phase.Store(after)
		testenv.WaitFor(t, "every instance accepting a write of the load after the fault", func() bool {
			return accepting[0].Load() && accepting[1].Load() && accepting[2].Load()
		})
	})

	slices.Sort(during)
	if len(during) > 0 {
		t.Logf("%d requests while refused: p50 %v, p99 %v, slowest %v", len(during), during[len(during)/2], during[len(during)*99/100], during[len(during)-1])
	}
	t.Logf("answers: %v; while refused: %v", statuses, duringStatuses)
	// Failed writes change nothing and invalidate nothing; a write of
	// unknown outcome waits for the database to say. What reads cannot be
	// served from the cache is the version a write made just before the
	// fault, which needs the database once.
	t.Logf("%d writes of unknown outcome", unknown)

	// Recovery: writes accepted, pages served, every instance agrees with
	// the database.
	addTask(t, bases[1], "after the fault")
	inDB := storedNames(t, dbURL)
	for i, base := range bases {
		page := get(t, base+"/")
		for _, name := range append(names, "before the fault", "after the fault") {
			if got := strings.Contains(page, ">"+name+"<"); got != inDB[name] {
				t.Errorf("after the fault instance %d shows %q: %v, the database has it: %v", i, name, got, inDB[name])
			}
		}
	}

	// The goroutines of the failed requests end.
	testenv.WaitFor(t, fmt.Sprintf("the goroutines coming back near their %d after a load without fault", baseline), func() bool {
		return runtime.NumGoroutine() <= baseline+50
	})
}
