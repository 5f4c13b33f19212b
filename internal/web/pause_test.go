package web_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/cache/memcache"
	"github.com/tasklist/tasklist/internal/config"
	"github.com/tasklist/tasklist/internal/taskcache"
	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/tasks/taskstest"
	"github.com/tasklist/tasklist/internal/testenv"
)

// pauseRunEnv names the variable that sets how long each combination of
// TestServerPauses runs (a Go duration); a minute or more runs the schedule of issuePauses.
const pauseRunEnv = "TASKLIST_TEST_PAUSE_RUN"

// defaultPauseRun is how long each combination of TestServerPauses runs in
// the suite.
const defaultPauseRun = 7500 * time.Millisecond

// pauseTasks is how many tasks the writers of TestServerPauses toggle.
const pauseTasks = 6

// TestServerPauses: three instances on one database and two memcached
// servers, with the app's default cache settings. Two writers toggle six
// shared tasks through random instances (never one task twice at once),
// four readers GET / from random instances, and every two to three seconds
// one of the servers is paused with SIGSTOP for 1, 3 or 8 s, then resumed
// with SIGCONT (in the suite's shorter run: see suitePauses). Every read must show each task in the state of its last
// toggle answered before the read began (or of one in flight); at the end
// every instance serves the database's list. It runs on PostgreSQL and
// MariaDB, with every layer and with the query layer alone.
//
// Before the fixes described in docs/caching.md ("A paused server"), every
// such run of 90 s found stale reads, as page hits, just after a server
// resumed.
func TestServerPauses(t *testing.T) {
	run := defaultPauseRun
	if v := os.Getenv(pauseRunEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s=%q: %v", pauseRunEnv, v, err)
		}
		run = d
	}
	sched := suitePauses
	if run >= time.Minute {
		sched = issuePauses
	}
	for _, db := range []string{"postgres", "mysql"} {
		for _, layers := range []config.Layers{everyLayer, {Query: true}} {
			t.Run(db+"/"+layers.String(), func(t *testing.T) {
				serverPauses(t, testenv.Databases()[db](t), layers, run, sched)
			})
		}
	}
}

// A pause schedule gives the nth pause of a run: how long to wait before
// it, how long it lasts, and which server it stops.
type pauseSchedule func(n int) (gap, length time.Duration, which pausedServer)

// pausedServer says which server a pause stops.
type pausedServer int

const (
	anyServer      pausedServer = iota // one at random
	versionsServer                     // the one that holds the list's version
)

// issuePauses pauses a server at random every 2 to 3 s, for 1, 3 or 8 s.
func issuePauses(int) (gap, length time.Duration, which pausedServer) {
	return time.Duration(2000+rand.IntN(1000)) * time.Millisecond,
		[]time.Duration{time.Second, 3 * time.Second, 8 * time.Second}[rand.IntN(3)], anyServer
}

// suitePauses fits a short run (defaultPauseRun): it pauses the server
// that holds the list's version for 1 s, 0.2 s into the run and again 2.6 s
// after it resumed. The instances mark the server down during a pause and
// keep it down after it (until a probe, memcache.DefaultBackoff later), and
// the run goes on past memcache.DefaultDeferAfter from each pause: the
// moment when, before the fix, writers began deferring their deletes for a
// server that answered again, each instance bringing it back at its own
// moment.
func suitePauses(n int) (gap, length time.Duration, which pausedServer) {
	gap = 2600 * time.Millisecond
	if n == 0 {
		gap = 200 * time.Millisecond
	}
	return gap, time.Second, versionsServer
}

// serverPauses runs one combination of TestServerPauses for run.
func serverPauses(t *testing.T, dbURL string, layers config.Layers, run time.Duration, sched pauseSchedule) {
	servers := []*testenv.Memcached{
		testenv.StartMemcached(t, testenv.MemcachedOptions{}),
		testenv.StartMemcached(t, testenv.MemcachedOptions{}),
	}
	addrs := []string{servers[0].Addr(), servers[1].Addr()}
	migrate(t, dbURL)
	db := taskstest.Open(t, dbURL, tasks.Options{})
	h := &history{writes: map[string][]write{}}
	ids := make([]int64, pauseTasks)
	names := make([]string, pauseTasks)
	for i := range ids {
		names[i] = "task " + strconv.Itoa(i)
		task, _, err := db.Add(t.Context(), names[i])
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = task.ID
		h.answer(names[i], h.send(names[i], taskState{present: true}))
	}
	// The app's defaults (TASKLIST_CACHE_TIMEOUT, the client's backoff).
	o := stackOptions{
		dbURL: dbURL,
		backend: memcachedClients(memcache.Options{
			Servers: addrs,
			Timeout: 100 * time.Millisecond,
			Backoff: memcache.DefaultBackoff,
		}),
		prefix:   testenv.RandomName("pauses") + ":",
		strategy: taskcache.Version,
		layers:   layers,
		pageSize: 1000,
	}
	var cluster []*stack
	for range 3 {
		cluster = append(cluster, newStack(t, o))
	}

	do(cluster[0].handler, "GET", "/", nil) // the version cached
	versionAt := slices.Index(addrs, versionServer(t, addrs, o.prefix, cluster[0].Tasks()))

	ctx, cancel := context.WithTimeout(t.Context(), run)
	defer cancel()
	var resumed atomic.Int64 // when a server was last resumed, in UnixNano
	var reads, writes, pauses atomic.Int64
	var badMu sync.Mutex
	var bad []string
	var wg sync.WaitGroup

	wg.Go(func() { // the pauses
		for n := 0; ctx.Err() == nil; n++ {
			gap, length, which := sched(n)
			if !sleepUntil(ctx, gap) {
				return
			}
			m := servers[rand.IntN(len(servers))]
			if which == versionsServer {
				m = servers[versionAt]
			}
			m.Pause()
			pauses.Add(1)
			sleepUntil(ctx, length)
			m.Resume()
			resumed.Store(time.Now().UnixNano())
		}
	})

	var locks [pauseTasks]sync.Mutex // one toggle of a task at a time
	var done [pauseTasks]bool        // under locks[i]: the state last set
	for range 2 {
		wg.Go(func() {
			tick := time.NewTicker(33 * time.Millisecond) // about 60 toggles/s in all
			defer tick.Stop()
			for ctx.Err() == nil {
				select {
				case <-tick.C:
				case <-ctx.Done():
					return
				}
				i := rand.IntN(pauseTasks)
				if !locks[i].TryLock() {
					continue
				}
				next := !done[i]
				sent := h.send(names[i], taskState{present: true, done: next})
				in := rand.IntN(len(cluster))
				// Writes run to completion even when the run ends meanwhile.
				resp := toggle(cluster[in], ids[i], next)
				if resp.Code != http.StatusSeeOther {
					locks[i].Unlock()
					t.Errorf("POST /toggle task %d on instance %d = %d:\n%s", ids[i], in, resp.Code, resp.Body)
					return
				}
				h.answer(names[i], sent)
				done[i] = next
				locks[i].Unlock()
				writes.Add(1)
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				in := rand.IntN(len(cluster))
				began, start := h.clock.Add(1), time.Now()
				resp := do(cluster[in].handler, "GET", "/", nil)
				ended := h.clock.Add(1)
				if resp.Code != http.StatusOK {
					t.Errorf("GET / on instance %d = %d:\n%s", in, resp.Code, resp.Body)
					return
				}
				reads.Add(1)
				seen := map[string]taskState{}
				for _, r := range pageRows(resp.Body.String()) {
					seen[r.Name] = taskState{present: true, done: r.Done}
				}
				if problems := h.check(began, ended, start, 0, seen); len(problems) > 0 {
					since := "no resume yet"
					if r := resumed.Load(); r != 0 {
						since = time.Duration(start.UnixNano()-r).Round(time.Millisecond).String() + " after a resume"
					}
					badMu.Lock()
					bad = append(bad, fmt.Sprintf("instance %d, %s, Server-Timing %q: %v", in, since, resp.Header().Get("Server-Timing"), problems))
					badMu.Unlock()
				}
			}
		})
	}
	wg.Wait()

	t.Logf("%d toggles, %d reads, %d pauses, %d stale reads", writes.Load(), reads.Load(), pauses.Load(), len(bad))
	if len(bad) > 0 {
		t.Errorf("%d of %d reads were stale, e.g.:\n%s", len(bad), reads.Load(), strings.Join(bad[:min(len(bad), 8)], "\n"))
	}
	if writes.Load() < minTraffic || reads.Load() < minTraffic {
		t.Errorf("too little traffic to mean anything: %d toggles, %d reads", writes.Load(), reads.Load())
	}
	final, err := db.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range cluster {
		resp := do(s.handler, "GET", "/", nil)
		if diff := cmp.Diff(snapshotRows(final), pageRows(resp.Body.String())); diff != "" {
			t.Errorf("at the end, instance %d serves a list that is not the database's (-want +got):\n%s", i, diff)
		}
	}
}

// toggle posts the toggle form for task id on instance s, asking for the
// task to be done or not. The form carries the state to set, so that it
// means the same to a server that flips the task: the writers of
// TestServerPauses toggle a task only from the state they set last.
func toggle(s *stack, id int64, done bool) *httptest.ResponseRecorder {
	form := url.Values{"id": {strconv.FormatInt(id, 10)}, "done": {"0"}}
	if done {
		form.Set("done", "1")
	}
	return do(s.handler, "POST", "/toggle", form, sameOrigin...)
}

// sleepUntil waits d, or until ctx ends; it reports whether d passed.
func sleepUntil(ctx context.Context, d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}
