package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/config"
	"github.com/tasklist/tasklist/internal/session"
	"github.com/tasklist/tasklist/internal/taskcache"
	"github.com/tasklist/tasklist/internal/testenv"
)

// The tests of this file prove that a cache entry names the database and
// the state it was computed from (docs/invariants.md): a fresh database
// beside a warm cache, two apps on one cluster, a change made in SQL by
// hand, a restored dump, a form from another page or another database.

// seenRE finds each row's id and the seen token its forms carry.
var seenRE = regexp.MustCompile(`<tr data-task-id="(\d+)"[^>]*>[\s\S]*?name="seen" value="([A-Za-z0-9_-]+)"`)

// rowTokens maps the id of each row of a list page to its seen token.
func rowTokens(body string) map[string]string {
	out := map[string]string{}
	for _, m := range seenRE.FindAllStringSubmatch(body, -1) {
		out[m[1]] = m[2]
	}
	return out
}

// names is what a page shows of its tasks, "name (done)" for a done one.
func names(t *testing.T, h http.Handler) []string {
	t.Helper()
	w := do(h, "GET", "/", nil, "Accept-Encoding", "gzip")
	if w.Code != http.StatusOK {
		t.Fatalf("GET / = %d:\n%s", w.Code, w.Body)
	}
	out := []string{}
	for _, r := range pageRows(body(t, w)) {
		if r.Done {
			r.Name += " (done)"
		}
		out = append(out, r.Name)
	}
	return out
}

// post sends a same-origin form to h and returns the status.
func post(h http.Handler, path string, form url.Values) int {
	return do(h, "POST", path, form, sameOrigin...).Code
}

// layerSets are every combination of the caching layers.
func layerSets() []config.Layers {
	var out []config.Layers
	for bits := 1; bits < 8; bits++ {
		out = append(out, config.Layers{Query: bits&1 != 0, Fragment: bits&2 != 0, Page: bits&4 != 0})
	}
	return out
}

// TestFreshDatabaseBesideWarmCache: an app that starts on a new database,
// with the memcached an app on another database warmed under the same
// (default, empty) prefix, shows only its own tasks from its first request,
// under every strategy and layer combination, on every kind of database;
// a form from the other database's page changes nothing here (409), even
// for a task with the same id; the other app's pages stay its own; and the
// two databases' pages have different ETags.
func TestFreshDatabaseBesideWarmCache(t *testing.T) {
	servers := startMemcacheds(t, 1)
	for kind, newURL := range testenv.Databases() {
		t.Run(kind, func(t *testing.T) {
			for _, strategy := range taskcache.Strategies() {
				for _, layers := range layerSets() {
					t.Run(string(strategy)+"/"+layers.String(), func(t *testing.T) {
						testFreshDatabase(t, newURL, servers, strategy, layers)
					})
				}
			}
		})
	}
}

func testFreshDatabase(t *testing.T, newURL func(testing.TB) string, servers []string, strategy taskcache.Strategy, layers config.Layers) {
	app := func(dbURL string) *stack {
		return newStack(t, stackOptions{dbURL: dbURL, backend: memcachedBackend(servers, time.Second),
			strategy: strategy, layers: layers})
	}
	oldURL, newDB := newURL(t), newURL(t)
	migrate(t, oldURL)
	migrate(t, newDB)
	old := app(oldURL)
	for _, name := range []string{"old-1", "old-2"} {
		if code := post(old.handler, "/add", url.Values{"name": {name}}); code != http.StatusSeeOther {
			t.Fatalf("add %s = %d", name, code)
		}
	}
	// Warm every layer, and keep what a visitor of the old app holds.
	if got := names(t, old.handler); !slices.Equal(got, []string{"old-1", "old-2"}) {
		t.Fatalf("old app shows %v", got)
	}
	oldPage := do(old.handler, "GET", "/", nil)
	ghost := rowTokens(oldPage.Body.String())
	if len(ghost) != 2 {
		t.Fatalf("old page has forms for %v", ghost)
	}

	fresh := app(newDB)
	if got := names(t, fresh.handler); len(got) != 0 {
		t.Fatalf("first request on a new database shows %v, want no task", got)
	}
	if code := post(fresh.handler, "/add", url.Values{"name": {"new-1"}}); code != http.StatusSeeOther {
		t.Fatalf("add new-1 = %d", code)
	}
	// Expire may show its own empty list for its TTL; never another's.
	showsNew := func(got []string) bool {
		return slices.Equal(got, []string{"new-1"}) || strategy == taskcache.Expire && len(got) == 0
	}
	if got := names(t, fresh.handler); !showsNew(got) {
		t.Errorf("new database after its first add shows %v, want [new-1]", got)
	}
	// The ghost row "old-1" has id 1; so has "new-1" here.
	for id, seen := range ghost {
		for _, f := range []struct {
			path string
			form url.Values
		}{
			{"/remove", url.Values{"id": {id}, "seen": {seen}}},
			{"/toggle", url.Values{"id": {id}, "seen": {seen}, "done": {"1"}}},
		} {
			if code := post(fresh.handler, f.path, f.form); code != http.StatusConflict {
				t.Errorf("POST %s %v from the old database's page = %d, want 409", f.path, f.form, code)
			}
		}
	}
	if got := names(t, fresh.handler); !showsNew(got) {
		t.Errorf("after the old page's forms the new database shows %v, want [new-1]", got)
	}
	if got := names(t, old.handler); !slices.Equal(got, []string{"old-1", "old-2"}) {
		t.Errorf("the old app shows %v after the new one wrote", got)
	}
	if etag := oldPage.Header().Get("ETag"); etag != "" {
		if w := do(fresh.handler, "GET", "/", nil, "If-None-Match", etag); w.Code != http.StatusOK {
			t.Errorf("the old database's ETag %s on the new database = %d, want 200", etag, w.Code)
		}
	}
}

// TestTwoAppsOneCluster: two apps, each with its own database, share one
// memcached cluster with the default prefix, and stay apart.
func TestTwoAppsOneCluster(t *testing.T) {
	servers := startMemcacheds(t, 1)
	for kind, newURL := range testenv.Databases() {
		t.Run(kind, func(t *testing.T) {
			app := func() *stack {
				dbURL := newURL(t)
				migrate(t, dbURL)
				return newStack(t, stackOptions{dbURL: dbURL, backend: memcachedBackend(servers, time.Second), layers: everyLayer})
			}
			x, y := app(), app()
			for _, name := range []string{"x-1", "x-2"} {
				post(x.handler, "/add", url.Values{"name": {name}})
			}
			if got := names(t, y.handler); len(got) != 0 {
				t.Errorf("app y shows %v before it wrote, want nothing", got)
			}
			post(y.handler, "/add", url.Values{"name": {"y-1"}})
			if got := names(t, x.handler); !slices.Equal(got, []string{"x-1", "x-2"}) {
				t.Errorf("app x shows %v", got)
			}
			if got := names(t, y.handler); !slices.Equal(got, []string{"y-1"}) {
				t.Errorf("app y shows %v", got)
			}
		})
	}
}

// cluster is three instances of one app on one database.
func threeInstances(t *testing.T, dbURL string, strategy taskcache.Strategy, layers config.Layers) []*stack {
	servers := startMemcacheds(t, 1)
	var out []*stack
	for range 3 {
		out = append(out, newStack(t, stackOptions{dbURL: dbURL, backend: memcachedBackend(servers, time.Second),
			strategy: strategy, layers: layers}))
	}
	return out
}

// confirmAll runs one check against the database on each instance: what
// each does once per TASKLIST_CACHE_TTL.
func confirmAll(t *testing.T, cluster []*stack) {
	t.Helper()
	for _, in := range cluster {
		if err := in.Cached().Confirm(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHandEditsReachEveryInstance: a change made in SQL by hand (an UPDATE,
// an INSERT, a DELETE) is not seen by instances serving from the cache
// until their next check against the database, and is seen by all three
// after it, whatever the strategy; the check costs one query per instance
// and leaves an unchanged cache alone.
func TestHandEditsReachEveryInstance(t *testing.T) {
	for kind, newURL := range testenv.Databases() {
		t.Run(kind, func(t *testing.T) {
			for _, strategy := range taskcache.Strategies() {
				t.Run(string(strategy), func(t *testing.T) {
					dbURL := newURL(t)
					migrate(t, dbURL)
					cluster := threeInstances(t, dbURL, strategy, everyLayer)
					post(cluster[0].handler, "/add", url.Values{"name": {"by the app"}})
					edits := []struct {
						sql  string
						want []string
					}{
						{"UPDATE tasks SET name = 'renamed by hand'", []string{"renamed by hand"}},
						{"INSERT INTO tasks (name, done, created_at, updated_at) VALUES ('added by hand', TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
							[]string{"renamed by hand", "added by hand (done)"}},
						{"DELETE FROM tasks WHERE name = 'renamed by hand'", []string{"added by hand (done)"}},
					}
					for _, e := range edits {
						before := make([][]string, len(cluster))
						for i, in := range cluster {
							before[i] = names(t, in.handler) // warm
						}
						testenv.ExecSQL(t, dbURL, e.sql)
						if strategy != taskcache.Expire && slices.Equal(names(t, cluster[1].handler), e.want) {
							t.Fatalf("%s: shown before any check (the test does not reach its scenario)", e.sql)
						}
						confirmAll(t, cluster)
						for i, in := range cluster {
							if got := names(t, in.handler); !slices.Equal(got, e.want) {
								t.Errorf("%s: instance %d shows %v after its check, want %v (before: %v)", e.sql, i, got, e.want, before[i])
							}
						}
					}
					// Idle: each check is one query, and finds nothing to do.
					in := cluster[2]
					queries, heads := in.reads(), in.revisions()
					invalidations := in.layer("query").Deletes
					for range 5 {
						if err := in.Cached().Confirm(t.Context()); err != nil {
							t.Fatal(err)
						}
					}
					if q, h := in.reads()-queries, in.revisions()-heads; q != 0 || h != 5 {
						t.Errorf("5 checks of an unchanged cache ran %d list queries and %d version queries, want 0 and 5", q, h)
					}
					if n := in.layer("query").Deletes - invalidations; n != 0 {
						t.Errorf("5 checks of an unchanged cache invalidated %d times", n)
					}
				})
			}
		})
	}
}

// TestConfirmRuns: an instance checks by itself, every ConfirmEvery: a hand
// edit shows with nobody writing.
func TestConfirmRuns(t *testing.T) {
	dbURL := testenv.SQLiteURL(t, "confirm.db")
	migrate(t, dbURL)
	in := newStack(t, stackOptions{dbURL: dbURL, backend: memcachedBackend(startMemcacheds(t, 1), time.Second),
		layers: everyLayer, ttl: 100 * time.Millisecond})
	go in.Cached().Run(t.Context())
	post(in.handler, "/add", url.Values{"name": {"by the app"}})
	names(t, in.handler)
	testenv.ExecSQL(t, dbURL, "UPDATE tasks SET name = 'by hand'")
	testenv.WaitFor(t, "the hand edit shown, with checks every 100 ms,", func() bool {
		return slices.Equal(names(t, in.handler), []string{"by hand"})
	})
}

// TestRestoredDump: a dump restored (pg_dump/pg_restore, mysqldump/mysql)
// under three running instances is shown by each after its next check, and
// the writes after it are shown as they are: never a page of the abandoned
// history, whose revisions the new writes pass through again.
func TestRestoredDump(t *testing.T) {
	for _, kind := range []string{"postgres", "mysql"} {
		t.Run(kind, func(t *testing.T) {
			dbURL := testenv.Databases()[kind](t)
			dump, restore := dumpTools(t, kind, dbURL)
			migrate(t, dbURL)
			for _, strategy := range taskcache.Strategies() {
				t.Run(string(strategy), func(t *testing.T) {
					testenv.ExecSQL(t, dbURL, "DELETE FROM tasks")
					cluster := threeInstances(t, dbURL, strategy, everyLayer)
					var want []string
					add := func(name string) {
						t.Helper()
						if code := post(cluster[0].handler, "/add", url.Values{"name": {name}}); code != http.StatusSeeOther {
							t.Fatalf("add %s = %d", name, code)
						}
						want = append(want, name)
						for i, in := range cluster {
							if got := names(t, in.handler); !slices.Equal(got, want) && strategy != taskcache.Expire {
								t.Errorf("after adding %s instance %d shows %v, want %v", name, i, got, want)
							}
						}
					}
					for _, n := range []string{"t1", "t2", "t3"} {
						add(n)
					}
					file := filepath.Join(t.TempDir(), "dump")
					dump(file)
					for _, n := range []string{"t4", "t5", "t6"} {
						add(n)
					}
					confirmAll(t, cluster) // every page of t1–t6 is cached now
					for _, in := range cluster {
						names(t, in.handler)
					}
					restore(file)
					confirmAll(t, cluster)
					want = []string{"t1", "t2", "t3"}
					for i, in := range cluster {
						if got := names(t, in.handler); !slices.Equal(got, want) {
							t.Errorf("after the restore and a check, instance %d shows %v, want %v", i, got, want)
						}
					}
					for _, n := range []string{"r4", "r5", "r6", "r7"} {
						add(n) // Expire: add checks nothing; confirm below
						confirmAll(t, cluster)
						for i, in := range cluster {
							if got := names(t, in.handler); !slices.Equal(got, want) {
								t.Errorf("after adding %s, instance %d shows %v, want %v", n, i, got, want)
							}
						}
					}
				})
			}
		})
	}
}

// dumpTools returns how to dump the database at dbURL to a file and restore
// it from one, with the database's own tools.
func dumpTools(t *testing.T, kind, dbURL string) (dump, restore func(file string)) {
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) func(stdin string) {
		return func(stdin string) {
			t.Helper()
			path, err := exec.LookPath(name)
			if err != nil {
				testenv.Unavailable(t, name, "install the database's client tools")
			}
			cmd := exec.CommandContext(t.Context(), path, args...)
			if stdin != "" {
				cmd.Args = append(cmd.Args, stdin)
			}
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
			}
		}
	}
	db := strings.TrimPrefix(u.Path, "/")
	host, port := u.Hostname(), u.Port()
	user := u.User.Username()
	if kind == "postgres" {
		conn := []string{"-h", host, "-p", port, "-U", user, "-d", db}
		return func(file string) { run("pg_dump", append(conn, "-Fc", "-f")...)(file) },
			func(file string) {
				run("pg_restore", append(conn, "--clean", "--if-exists", "--single-transaction")...)(file)
			}
	}
	conn := []string{"-h", host, "-P", port, "-u", user}
	if p, ok := u.User.Password(); ok {
		conn = append(conn, "-p"+p)
	}
	return func(file string) {
			run("mysqldump", append(conn, "--single-transaction", "--triggers", "--result-file="+file, db)...)("")
		}, func(file string) {
			run("mysql", append(conn, db, "-e")...)("source " + file)
		}
}

// TestStaleDoneLeavesTheTaskDone: visitor A loads the page; visitor B marks
// the task done; A clicks Done on the older page: the task stays done (409,
// nothing changed), and so for Reopen, and for Delete of a task renamed
// since.
func TestStaleDoneLeavesTheTaskDone(t *testing.T) {
	dbURL := testenv.SQLiteURL(t, "stale.db")
	migrate(t, dbURL)
	cluster := threeInstances(t, dbURL, taskcache.Version, everyLayer)
	a, b := cluster[0].handler, cluster[1].handler
	post(a, "/add", url.Values{"name": {"milk"}})
	tokens := rowTokens(do(a, "GET", "/", nil).Body.String())
	if code := post(b, "/toggle", url.Values{"id": {"1"}, "seen": {tokens["1"]}, "done": {"1"}}); code != http.StatusSeeOther {
		t.Fatalf("B's Done = %d", code)
	}
	for _, f := range []url.Values{
		{"id": {"1"}, "seen": {tokens["1"]}, "done": {"1"}},
		{"id": {"1"}, "seen": {tokens["1"]}, "done": {"0"}},
		{"id": {"1"}, "seen": {tokens["1"]}},
	} {
		path := "/toggle"
		if !f.Has("done") {
			path = "/remove"
		}
		w := do(a, "POST", path, f, sameOrigin...)
		if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), `href="/"`) {
			t.Errorf("POST %s %v from A's older page = %d, want 409 linking back:\n%s", path, f, w.Code, w.Body)
		}
	}
	for i, in := range cluster {
		if got := names(t, in.handler); !slices.Equal(got, []string{"milk (done)"}) {
			t.Errorf("instance %d shows %v, want the task done", i, got)
		}
	}
}

// TestReadYourOwnWriteUnderExpire: under Expire, which serves the cached
// list for up to its TTL, the visitor who just wrote sees the list with
// their change on the page after it; others may not, within the TTL.
func TestReadYourOwnWriteUnderExpire(t *testing.T) {
	dir := t.TempDir()
	dbURL := "sqlite:" + filepath.Join(dir, "expire.db")
	migrate(t, dbURL)
	servers := startMemcacheds(t, 1)
	var cluster []*stack
	for range 2 {
		cluster = append(cluster, newStack(t, stackOptions{dbURL: dbURL, backend: memcachedBackend(servers, time.Second),
			strategy: taskcache.Expire, ttl: time.Hour, layers: everyLayer, sessions: session.Cache}))
	}
	var bases []string
	for _, in := range cluster {
		srv := httptest.NewServer(in.handler)
		t.Cleanup(srv.Close)
		bases = append(bases, srv.URL)
	}
	v := newVisitor(t)
	names(t, cluster[1].handler) // the empty list is cached for an hour
	for i, name := range []string{"milk", "eggs", "bread"} {
		resp, _ := v.do("POST", bases[i%2], "/add", url.Values{"name": {name}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("add %s = %d", name, resp.StatusCode)
		}
		_, page := v.do("GET", bases[(i+1)%2], "/", nil)
		if !strings.Contains(page, fmt.Sprintf("Added “%s”.", name)) {
			t.Fatalf("the page after adding %s has no flash:\n%s", name, page)
		}
		if got := pageRows(page); len(got) != i+1 || got[i].Name != name {
			t.Errorf("the page after adding %s shows %v: the visitor's own write is missing", name, got)
		}
	}
}
