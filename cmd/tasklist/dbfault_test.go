package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/testenv"
)

// response is what a client got: a status and body, or an error (a dropped
// connection, or no answer within the client's timeout).
type response struct {
	status  int
	body    string
	err     error
	elapsed time.Duration
}

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
	return response{status: resp.StatusCode, body: string(b), err: err, elapsed: time.Since(start)}
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
// in-process cache), the page cached before the stall is served meanwhile
// (200), until the failed add invalidates it; then GET / is a 503 too.
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
	base, stop, done := start(t, map[string]string{
		"TASKLIST_ADDR":             "127.0.0.1:0",
		"DATABASE_URL":              viaProxy(t, dbURL, proxy),
		"TASKLIST_DB_TIMEOUT":       "1s",
		"TASKLIST_CACHE_LAYERS":     layers,
		"TASKLIST_SHUTDOWN_TIMEOUT": "25s",
	}, &logs)
	addTask(t, base, "before the stall")

	proxy.Stall()
	expect503 := func(what string, r response, says string) {
		t.Helper()
		t.Logf("%s during the stall: %d after %v", what, r.status, r.elapsed.Round(time.Millisecond))
		if r.err != nil || r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, says) {
			t.Errorf("%s during the stall = %d, %v, want 503 saying %q; body:\n%s", what, r.status, r.err, says, r.body)
		}
	}
	if layers == "none" {
		expect503("GET /", do(http.MethodGet, base+"/", nil), "unavailable at the moment")
	} else if r := do(http.MethodGet, base+"/", nil); r.status != http.StatusOK || !strings.Contains(r.body, "before the stall") {
		t.Errorf("GET / of the cached page during the stall = %d, %v, want 200 with the task", r.status, r.err)
	}
	expect503("GET /healthz", do(http.MethodGet, base+"/healthz", nil), `"database":{"status":"down"}`)
	expect503("an add", do(http.MethodPost, base+"/add", url.Values{"name": {"never reached the database"}}), "was not saved")
	if layers != "none" { // the add invalidated the cached page
		expect503("GET / after the failed add", do(http.MethodGet, base+"/", nil), "unavailable at the moment")
	}

	if err := proxy.Forward(); err != nil {
		t.Fatal(err)
	}
	proxy.StallOn("commit")
	expect503("an add whose COMMIT went unanswered", do(http.MethodPost, base+"/add", url.Values{"name": {"answer lost"}}),
		"may or may not have been saved")
	if err := proxy.Forward(); err != nil {
		t.Fatal(err)
	}
	r := do(http.MethodGet, base+"/", nil)
	if r.status != http.StatusOK || !strings.Contains(r.body, "before the stall") || !strings.Contains(r.body, "answer lost") ||
		strings.Contains(r.body, "never reached the database") {
		t.Errorf("after the stall GET / = %d, %v, want 200 with the tasks added and the one that was not; body:\n%s", r.status, r.err, r.body)
	}

	// Requests in flight when the server is told to stop.
	proxy.Stall()
	var wg sync.WaitGroup
	results := make([]response, 6)
	for i := range results {
		wg.Go(func() {
			if i%2 == 0 {
				results[i] = do(http.MethodGet, base+"/", nil)
			} else {
				results[i] = do(http.MethodPost, base+"/add", url.Values{"name": {"during shutdown"}})
			}
		})
	}
	time.Sleep(200 * time.Millisecond) // let them reach the database
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
