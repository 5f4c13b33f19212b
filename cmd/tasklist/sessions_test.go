package main

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/session"
	"github.com/tasklist/tasklist/internal/sqldb"
	"github.com/tasklist/tasklist/internal/testenv"
)

// floodPosts is how many writes that change nothing TestSessionFlood sends
// to each setup: TASKLIST_SESSION_FLOOD, or 400.
func floodPosts(t *testing.T) int {
	v := os.Getenv("TASKLIST_SESSION_FLOOD")
	if v == "" {
		return 400
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 100_000 {
		t.Fatalf("TASKLIST_SESSION_FLOOD=%q: want a count from 1 to 100000", v)
	}
	return n
}

// TestSessionFlood runs the whole program with each session engine (the
// database ones on SQLite, MariaDB and PostgreSQL) over memcached, and
// sends it writes that change nothing from clients without a session: an
// undo with nothing to undo, a toggle and a remove of a task that does not
// exist, an empty name. Afterwards no session is stored (no row, no
// session set), memcached evicted nothing and the page cached before the
// flood is still a hit. It reports the rows, the time taken and the cache's
// items.
func TestSessionFlood(t *testing.T) {
	n := floodPosts(t)
	dbs := testenv.Databases()
	type setup struct{ engine, db string }
	setups := []setup{{session.Cache, "sqlite"}}
	for _, db := range []string{"sqlite", "mysql", "postgres"} {
		setups = append(setups, setup{session.DB, db}, setup{session.CachedDB, db})
	}
	noop := []struct {
		path   string
		form   url.Values
		status int
	}{
		{"/undo", url.Values{"id": {"1"}}, http.StatusConflict},
		{"/toggle", url.Values{"id": {"999999999"}, "done": {"1"}}, http.StatusNotFound},
		{"/remove", url.Values{"id": {"999999999"}}, http.StatusNotFound},
		{"/add", url.Values{"name": {" "}}, http.StatusBadRequest},
	}
	for _, su := range setups {
		t.Run(su.engine+"/"+su.db, func(t *testing.T) {
			dbURL := dbs[su.db](t)
			mc := testenv.StartMemcached(t, testenv.MemcachedOptions{})
			base, stop, done := start(t, map[string]string{
				"TASKLIST_ADDR":           "127.0.0.1:0",
				"DATABASE_URL":            dbURL,
				"MEMCACHE_SERVERS":        mc.Addr(),
				"TASKLIST_SESSION_ENGINE": su.engine,
				"TASKLIST_CACHE_TIMEOUT":  "10s",
				"TASKLIST_LOG_LEVEL":      "warn",
			}, &testenv.LockedBuffer{})
			defer func() {
				stop()
				<-done
			}()
			postNoFollow(t, base+"/add", url.Values{"name": {"kept"}})
			fetchOK(t, base+"/") // the page, cached
			before := readStats(t, base)

			start := time.Now()
			client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			var (
				wg       sync.WaitGroup
				mu       sync.Mutex
				problems []string
			)
			workers := 2 * runtime.GOMAXPROCS(0)
			for w := range workers {
				wg.Go(func() {
					for i := w; i < n; i += workers {
						p := noop[i%len(noop)]
						resp, err := client.PostForm(base+p.path, p.form)
						problem := ""
						switch {
						case err != nil:
							problem = err.Error()
						case resp.StatusCode != p.status || resp.Header.Get("Set-Cookie") != "":
							problem = fmt.Sprintf("POST %s = %d, Set-Cookie %q", p.path, resp.StatusCode, resp.Header.Get("Set-Cookie"))
						}
						if resp != nil {
							resp.Body.Close()
						}
						if problem != "" {
							mu.Lock()
							if problems = append(problems, problem); len(problems) > 5 {
								mu.Unlock()
								return
							}
							mu.Unlock()
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			if len(problems) > 0 {
				t.Errorf("%d+ bad answers, first: %s", len(problems), strings.Join(problems, "; "))
			}

			after := readStats(t, base)
			if sets := after.Layers["session"].Sets - before.Layers["session"].Sets; sets != 0 {
				t.Errorf("%d sessions stored by %d writes that changed nothing", sets, n)
			}
			rows := -1
			if su.engine != session.Cache {
				rows = sessionRows(t, dbURL)
				if rows != 1 { // the add's, before the flood
					t.Errorf("%d session rows after the flood, want 1 (the add's)", rows)
				}
			}
			if len(after.Servers) != 1 || after.Servers[0].Evictions != 0 {
				t.Errorf("memcached after the flood: %+v, want no eviction", after.Servers)
			}
			if resp, _ := fetchOK(t, base+"/"); !strings.Contains(resp.Header.Get("Server-Timing"), "page hit") {
				t.Errorf("the page cached before the flood: Server-Timing %q, want a page hit", resp.Header.Get("Server-Timing"))
			}
			t.Logf("%d no-op POSTs in %v: %d session rows (-1: no table in use), %d sessions stored; memcached items %d before, %d after, %d evictions",
				n, elapsed.Round(time.Millisecond), rows, after.Layers["session"].Sets-before.Layers["session"].Sets,
				before.Servers[0].Items, after.Servers[0].Items, after.Servers[0].Evictions)
		})
	}
}

// sessionRows counts the rows of the sessions table in the database at
// dbURL.
func sessionRows(t *testing.T, dbURL string) int {
	t.Helper()
	db, err := sqldb.Open(t.Context(), dbURL, sqldb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM tasklist_sessions").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
