package web_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/config"
	"github.com/tasklist/tasklist/internal/taskcache"
	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/tasks/taskstest"
	"github.com/tasklist/tasklist/internal/testenv"
)

// One combination of TestPageCoherence runs for coherenceRun, longer if
// it has not seen minTraffic writes and reads by then, but never longer
// than maxCoherenceRun (SQLite's writers are slow under a loaded -race run).
const (
	coherenceRun    = 1500 * time.Millisecond
	maxCoherenceRun = 5 * coherenceRun
	minTraffic      = 20
)

// expireTTL is the staleness bound of the expire runs.
const expireTTL = time.Second

// TestPageCoherence is the cross-instance check of internal/taskcache's
// TestCoherence over HTTP, through every caching layer: three app instances
// (each with its own database pool, memcached client, cache, query cache
// and web server, as three processes would have) share one database and
// two memcached servers. Writers POST /add, /toggle and /remove to random
// instances while readers GET / from random instances, sometimes asking for
// gzip and sometimes revalidating with the ETag of an earlier answer (from
// any instance). Every read must show every write that had been answered
// before the read began — an added task with the done flag last set, a
// removed task gone — and, once the writers stop, every instance must serve
// exactly the database's list.
//
// The matrix covers each dimension without multiplying them all: every
// layer set under every strategy on SQLite; all layers on under every
// strategy, and the fragment and page caches without the query cache under
// delete and update, on MariaDB and PostgreSQL. With no layer there is no
// cache and no strategy, so it runs once. Under expire, which is stale by
// design, a read must show every write answered more than the TTL before it
// began, and the instances must agree with the database once the TTL has
// passed. Under load this test caught pages of version N built from a
// cached list older than N (see TestDerivedCachesAfterVersionLoss).
//
// The check can fail, as seen when it was written: with the version delete
// taken out of taskcache's invalidate (writes under "version" then leave
// the version, and with it the page, fragment and list keys, where they
// were), every version-strategy run with a layer reported stale reads and
// instances serving old lists at the end; with the version taken out of the
// page's ETag, the page runs reported stale 304 answers; with the in-process
// page copies served whatever version was asked, the page runs reported
// stale reads and old lists at the end.
func TestPageCoherence(t *testing.T) {
	servers := startMemcacheds(t, 2)
	databases := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return testenv.SQLiteURL(t, "coherence.db") },
		"mysql":    func(t *testing.T) string { return testenv.MySQLURL(t) },
		"postgres": func(t *testing.T) string { return testenv.PostgresURL(t) },
	}
	strategies := []taskcache.Strategy{taskcache.Delete, taskcache.Version, taskcache.Update, taskcache.Expire}
	type combo struct {
		db       string
		layers   config.Layers
		strategy taskcache.Strategy
	}
	combos := []combo{{"sqlite", noLayer, ""}}
	for _, l := range []config.Layers{{Query: true}, {Fragment: true}, {Page: true}, everyLayer} {
		for _, s := range strategies {
			combos = append(combos, combo{"sqlite", l, s})
		}
	}
	for _, db := range []string{"mysql", "postgres"} {
		for _, s := range strategies {
			combos = append(combos, combo{db, everyLayer, s})
		}
		for _, s := range []taskcache.Strategy{taskcache.Delete, taskcache.Update} {
			combos = append(combos, combo{db, config.Layers{Fragment: true, Page: true}, s})
		}
	}
	for _, c := range combos {
		name := c.db + "/" + c.layers.String()
		if c.strategy != "" {
			name += "/" + string(c.strategy)
		}
		t.Run(name, func(t *testing.T) {
			dbURL := databases[c.db](t)
			migrate(t, dbURL)
			o := stackOptions{
				dbURL:    dbURL,
				backend:  memcachedBackend(servers, 500*time.Millisecond),
				prefix:   testenv.RandomName("coherence") + ":",
				strategy: c.strategy,
				ttl:      expireTTL,
				layers:   c.layers,
				pageSize: 1000,
			}
			var cluster []*stack
			for range 3 {
				cluster = append(cluster, newStack(t, o))
			}
			var lag time.Duration
			if c.strategy == taskcache.Expire {
				lag = expireTTL
			}
			runPageCoherence(t, cluster, taskstest.Open(t, dbURL, tasks.Options{}), lag, nil)
		})
	}
}

// taskState is what a read may show of one task.
type taskState struct{ present, done bool }

// doneValue is the toggle form's field "done" that sets done.
func doneValue(done bool) string {
	if done {
		return "1"
	}
	return "0"
}

func (s taskState) String() string {
	switch {
	case !s.present:
		return "absent"
	case s.done:
		return "done"
	}
	return "not done"
}

// write is one write to a task: when it was sent and answered, on the
// history's clock, and the state it leaves the task in.
type write struct {
	sent, answered uint64 // answered is 0 until it has
	answeredAt     time.Time
	state          taskState
}

// history is every write the writers made, by task name (each unique and
// written by one writer only), on one clock of sends, answers and reads.
// It is safe for concurrent use.
type history struct {
	clock  atomic.Uint64
	mu     sync.Mutex
	writes map[string][]write
}

// send notes a write about to be sent and returns its index.
func (h *history) send(name string, s taskState) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.writes[name] = append(h.writes[name], write{sent: h.clock.Add(1), state: s})
	return len(h.writes[name]) - 1
}

// answer notes that write i of the task has been answered.
func (h *history) answer(name string, i int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.writes[name][i].answered = h.clock.Add(1)
	h.writes[name][i].answeredAt = time.Now()
}

// check returns what is wrong with a read that began at clock began (wall
// time start) and ended at clock ended and showed seen. A task must show
// the state of its last write answered before the read began (before start
// less lag, when lag is positive), or that of a later write sent before
// the read ended; a task never written must not show.
func (h *history) check(began, ended uint64, start time.Time, lag time.Duration, seen map[string]taskState) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var bad []string
	for name, ws := range h.writes {
		last := -1
		for i, w := range ws {
			if w.answered != 0 && (lag == 0 && w.answered < began || lag > 0 && w.answeredAt.Before(start.Add(-lag))) {
				last = i
			}
		}
		allowed := []taskState{{}} // never added
		if last >= 0 {
			allowed = []taskState{ws[last].state}
		}
		for _, w := range ws[last+1:] {
			if w.sent < ended {
				allowed = append(allowed, w.state)
			}
		}
		if got := seen[name]; !slices.Contains(allowed, got) {
			bad = append(bad, fmt.Sprintf("task %q shows %v, want one of %v", name, got, allowed))
		}
	}
	for name := range seen {
		if _, ok := h.writes[name]; !ok {
			bad = append(bad, fmt.Sprintf("task %q shows, but was never added", name))
		}
	}
	return bad
}

// runPageCoherence runs writers and readers against cluster (see
// coherenceRun), then checks the end state against the database db. lag
// is the staleness allowed: the TTL under expire, else 0. When until is
// not nil, the run also lasts until it holds (a fault injected meanwhile is
// over); such a fault's waits are bounded by testenv's, two at most, which
// extend maxCoherenceRun.
func runPageCoherence(t *testing.T, cluster []*stack, db *tasks.Store, lag time.Duration, until func() bool) {
	limit := maxCoherenceRun
	if until != nil {
		limit += 2 * testenv.WaitLimit
	} else {
		until = func() bool { return true }
	}
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	h := &history{writes: map[string][]write{}}
	var reads, revalidated, writes atomic.Int64
	var badMu sync.Mutex
	var bad []string
	var wg sync.WaitGroup
	wg.Go(func() { // ends the run once it is long enough
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for start := time.Now(); ; {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
			if time.Since(start) >= coherenceRun && writes.Load() >= minTraffic && reads.Load() >= minTraffic && until() {
				cancel()
				return
			}
		}
	})
	for w := range 2 * len(cluster) {
		wg.Go(func() { pageWriter(t, ctx, cluster, db, h, w, &writes) })
	}
	for range 3 * len(cluster) {
		wg.Go(func() {
			etags := map[string]string{} // ETag -> the page it came with
			for ctx.Err() == nil {
				var header []string
				gz := rand.IntN(2) == 0
				if gz {
					header = append(header, "Accept-Encoding", "gzip")
				}
				var inm string
				for etag := range etags { // a random earlier answer, from any instance
					if rand.IntN(2) == 0 {
						inm = etag
						header = append(header, "If-None-Match", etag)
					}
					break
				}
				i := rand.IntN(len(cluster))
				began, start := h.clock.Add(1), time.Now()
				resp := do(cluster[i].handler, "GET", "/", nil, header...)
				ended := h.clock.Add(1)
				var page string
				switch resp.Code {
				case http.StatusOK:
					page = body(t, resp)
					if etag := resp.Header().Get("ETag"); etag != "" {
						clear(etags) // keep one: the newest
						etags[etag] = page
					}
				case http.StatusNotModified:
					page = etags[inm]
					revalidated.Add(1)
				default:
					t.Errorf("GET / on instance %d = %d:\n%s", i, resp.Code, resp.Body)
					return
				}
				reads.Add(1)
				seen := map[string]taskState{}
				for _, r := range pageRows(page) {
					seen[r.Name] = taskState{present: true, done: r.Done}
				}
				if problems := h.check(began, ended, start, lag, seen); len(problems) > 0 {
					badMu.Lock()
					bad = append(bad, fmt.Sprintf("instance %d (status %d, If-None-Match %q): %v", i, resp.Code, inm, problems))
					badMu.Unlock()
				}
			}
		})
	}
	wg.Wait()

	t.Logf("%d writes, %d reads (%d answered 304)", writes.Load(), reads.Load(), revalidated.Load())
	if len(bad) > 0 {
		t.Errorf("%d of %d reads were stale or wrong, e.g.:\n%s", len(bad), reads.Load(), strings.Join(bad[:min(len(bad), 5)], "\n"))
	}
	if writes.Load() < minTraffic || reads.Load() < minTraffic {
		t.Errorf("too little traffic to mean anything: %d writes, %d reads", writes.Load(), reads.Load())
	}

	// Once quiet (and, under expire, once the TTL has passed), every
	// instance serves exactly the database's list.
	time.Sleep(lag) // the clock is what is tested: under expire, the TTL must pass (else lag is 0)
	final, err := db.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := snapshotRows(final)
	for i, s := range cluster {
		resp := do(s.handler, "GET", "/", nil)
		if diff := cmp.Diff(want, pageRows(resp.Body.String())); resp.Code != http.StatusOK || diff != "" {
			t.Errorf("at the end, instance %d serves (status %d) a list that is not the database's (-want +got):\n%s", i, resp.Code, diff)
		}
	}
}

// pageWriter is writer w: until ctx ends it adds tasks of its own (at most
// 20 at a time), toggles and removes them, on random instances, through the
// app's forms, noting each write in h. It looks the id of a task it added
// up in the database db.
func pageWriter(t *testing.T, ctx context.Context, cluster []*stack, db *tasks.Store, h *history, w int, writes *atomic.Int64) {
	own := map[string]int64{} // the writer's tasks that exist: name -> id
	done := map[string]bool{}
	for n := 0; ctx.Err() == nil; n++ {
		names := slices.Sorted(maps.Keys(own))
		var (
			name, path string
			form       url.Values
			next       taskState
		)
		switch op := rand.IntN(4); {
		case len(names) == 0 || op < 2 && len(names) < 20:
			name, path = fmt.Sprintf("writer %d task %d", w, n), "/add"
			form, next = url.Values{"name": {name}}, taskState{present: true}
		case op == 2:
			name, path = names[rand.IntN(len(names))], "/toggle"
			form, next = url.Values{"id": {strconv.FormatInt(own[name], 10)}, "done": {doneValue(!done[name])}}, taskState{present: true, done: !done[name]}
		default:
			name, path = names[rand.IntN(len(names))], "/remove"
			form = url.Values{"id": {strconv.FormatInt(own[name], 10)}}
		}
		i := rand.IntN(len(cluster))
		sent := h.send(name, next)
		// Writes run to completion even when the run ends meanwhile: do's
		// requests are not bound to ctx.
		resp := do(cluster[i].handler, "POST", path, form, sameOrigin...)
		if resp.Code != http.StatusSeeOther {
			t.Errorf("POST %s %v on instance %d = %d:\n%s", path, form, i, resp.Code, resp.Body)
			return
		}
		h.answer(name, sent)
		writes.Add(1)
		switch {
		case path == "/add":
			id, err := taskID(ctx, db, name)
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("looking up task %q: %v", name, err)
				}
				return
			}
			own[name], done[name] = id, false
		case !next.present:
			delete(own, name)
			delete(done, name)
		default:
			done[name] = next.done
		}
	}
}

// taskID returns the id of the task named name in the database.
func taskID(ctx context.Context, db *tasks.Store, name string) (int64, error) {
	snap, err := db.List(ctx)
	if err != nil {
		return 0, err
	}
	for _, task := range snap.Tasks {
		if task.Name == name {
			return task.ID, nil
		}
	}
	return 0, fmt.Errorf("no task named %q in the database", name)
}
