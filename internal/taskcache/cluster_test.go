package taskcache_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/fill"
	"github.com/tasklist/tasklist/internal/cache/memcache"
	"github.com/tasklist/tasklist/internal/taskcache"
	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/testenv"
)

// instance is one app instance: its own database pool, memcached client,
// cache and query cache, as a separate process would have.
type instance struct {
	*taskcache.Store
	src *source
	mc  *memcache.Client
	log *testenv.LockedBuffer // the store's log
}

// newCluster starts n instances sharing the database at dbURL and the
// memcached servers, with one key prefix (they are one app). timeout bounds
// each memcached request; the cache's own timeouts are its defaults.
func newCluster(t *testing.T, n int, dbURL string, servers []string, strategy taskcache.Strategy, slow, timeout time.Duration) []instance {
	t.Helper()
	return newClusterWith(t, n, dbURL, memcache.Options{Servers: servers, Timeout: timeout}, cache.Options{}, strategy, slow)
}

// newClusterWith is newCluster with the memcached options given whole
// (servers, credentials, timeout), and the cache's (its Prefix is set
// here); Backoff and Volatile are set as the app sets them (Backoff
// shorter, for short tests).
func newClusterWith(t *testing.T, n int, dbURL string, mo memcache.Options, co cache.Options, strategy taskcache.Strategy, slow time.Duration) []instance {
	t.Helper()
	newSource(t, dbURL, 0) // migrates once, before the instances start
	prefix := testenv.RandomName("cluster") + ":"
	mo.Backoff = 200 * time.Millisecond
	out := make([]instance, n)
	for i := range out {
		src := newSource(t, dbURL, slow)
		mo.Volatile = taskcache.VolatileKeysSent(prefix, src)
		mc, err := memcache.New(mo)
		if err != nil {
			t.Fatal(err)
		}
		co.Prefix = prefix
		c := cache.New(mc, co)
		t.Cleanup(func() { c.Close() })
		log := new(testenv.LockedBuffer)
		out[i] = instance{newStore(t, src, c, taskcache.Options{
			Strategy: strategy,
			LeaseTTL: fill.LeaseTTL(slow),
			Logger:   slog.New(slog.NewTextHandler(log, nil)),
		}), src, mc, log}
	}
	return out
}

func startServers(t *testing.T, n int) ([]*testenv.Memcached, []string) {
	var ms []*testenv.Memcached
	var addrs []string
	for range n {
		m := testenv.StartMemcached(t, testenv.MemcachedOptions{})
		ms = append(ms, m)
		addrs = append(addrs, m.Addr())
	}
	return ms, addrs
}

// TestStampedeAcrossInstances: 200 concurrent requests spread over three
// instances on a cold cache, with a 1s query, run the query exactly once.
func TestStampedeAcrossInstances(t *testing.T) {
	_, servers := startServers(t, 2)
	for _, strategy := range []taskcache.Strategy{taskcache.Delete, taskcache.Version, taskcache.Update, taskcache.Expire} {
		t.Run(string(strategy), func(t *testing.T) {
			dbURL := testenv.SQLiteURL(t, "stampede.db")
			// Generous timeouts, the memcached client's and the cache's
			// (whose defaults, 100 ms for a read, ran out under a loaded
			// -race run, and the read that timed out bypassed the cache
			// and ran the query a second time): this test is about leases,
			// not about timeouts, which read the database by design.
			const timeout = 5 * time.Second
			cluster := newClusterWith(t, 3, dbURL, memcache.Options{Servers: servers, Timeout: timeout},
				cache.Options{GetTimeout: timeout, WriteTimeout: timeout}, strategy, time.Second)
			if _, _, err := cluster[0].src.Store.Add(t.Context(), "the task"); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for i := range 200 {
				wg.Go(func() {
					snap, err := cluster[i%3].List(t.Context())
					if err != nil || len(snap.Tasks) != 1 || snap.Tasks[0].Name != "the task" {
						t.Errorf("List = %v, %v", names(snap), err)
					}
				})
			}
			wg.Wait()
			var queries int64
			var bypasses uint64
			for _, in := range cluster {
				queries += in.src.queries.Load()
				bypasses += in.Counts().Errors // no write: every error is a bypass
			}
			if queries != 1 {
				t.Errorf("200 cold requests over 3 instances ran the slow query %d times (%d bypassing the cache), want 1", queries, bypasses)
			}
		})
	}
}

// TestCoherence runs randomized writers and readers on three instances that
// share a two-server memcached cluster and one database while one memcached
// server is restarted and, later, memcached stops answering, each fault
// lasting while a given number of writes and reads answer. Every read must include every write that had
// answered before the read began (no stale read), and the database must end
// with exactly the writes made (no lost write).
func TestCoherence(t *testing.T) {
	ms, servers := startServers(t, 2)
	databases := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return testenv.SQLiteURL(t, "coherence.db") },
		"mysql":    func(t *testing.T) string { return testenv.MySQLURL(t) },
		"postgres": func(t *testing.T) string { return testenv.PostgresURL(t) },
	}
	for _, db := range []string{"sqlite", "mysql", "postgres"} {
		for _, strategy := range strategies {
			t.Run(db+"/"+string(strategy), func(t *testing.T) {
				// A short timeout, so that load and faults mark servers down.
				cluster := newCluster(t, 3, databases[db](t), servers, strategy, 0, 100*time.Millisecond)
				runCoherence(t, cluster, nil, ms)
			})
		}
	}
}

// ownTasks is what one writer knows it did: its tasks and their done flags.
type ownTasks map[int64]bool

// runCoherence runs the randomized load and faults of TestCoherence on
// cluster; writersOnly are instances that write too but are not read from
// (under Expire a read may be stale by design).
func runCoherence(t *testing.T, cluster, writersOnly []instance, ms []*testenv.Memcached) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	var answered atomic.Int64 // the highest revision whose write has answered
	noteAnswered := func(rev int64) {
		for cur := answered.Load(); rev > cur && !answered.CompareAndSwap(cur, rev); cur = answered.Load() {
		}
	}
	var reads, stale, writes atomic.Int64
	var staleMu sync.Mutex
	var staleExamples []string

	var wg sync.WaitGroup
	writers := append(slices.Clone(cluster), writersOnly...)
	owned := make([]ownTasks, 2*len(writers))
	for w := range owned {
		owned[w] = ownTasks{}
		in := writers[w%len(writers)]
		wg.Go(func() { writer(t, ctx, in, owned[w], noteAnswered, &writes) })
	}
	for r := range 3 * len(cluster) {
		in := cluster[r%len(cluster)]
		wg.Go(func() {
			for ctx.Err() == nil {
				floor := answered.Load()
				snap, err := in.List(ctx)
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("List: %v", err)
					}
					return
				}
				reads.Add(1)
				if snap.Revision < floor {
					stale.Add(1)
					staleMu.Lock()
					if len(staleExamples) < 5 {
						staleExamples = append(staleExamples, fmt.Sprintf("instance %d read revision %d after revision %d had answered", r%len(cluster), snap.Revision, floor))
					}
					staleMu.Unlock()
				}
			}
		})
	}
	// Faults, each begun and ended by the traffic: once the load is steady,
	// one memcached server is restarted, down while writes and reads go on;
	// then every server stops answering (SIGSTOP) while reads go on. The run
	// ends after more traffic.
	wg.Go(func() {
		defer cancel()
		// traffic waits until w more writes and r more reads have answered.
		traffic := func(what string, w, r int64) bool {
			w, r = writes.Load()+w, reads.Load()+r
			return testenv.Await(t, fmt.Sprintf("the load reaching %d writes and %d reads %s", w, r, what), func() bool {
				return writes.Load() >= w && reads.Load() >= r
			})
		}
		if !traffic("before the faults", 20, 60) {
			return
		}
		ms[0].Stop()
		ok := traffic("while a server is down", 5, 15)
		ms[0].Start()
		if !ok || !traffic("after the restart", 10, 30) {
			return
		}
		for _, m := range ms {
			m.Pause()
		}
		ok = traffic("while every server is paused", 0, 10)
		for _, m := range ms {
			m.Resume()
		}
		if ok {
			traffic("after the pause", 10, 30)
		}
	})
	wg.Wait()

	t.Logf("%d writes, %d reads, %d stale", writes.Load(), reads.Load(), stale.Load())
	if stale.Load() > 0 {
		t.Errorf("%d of %d reads were stale, e.g. %v", stale.Load(), reads.Load(), staleExamples)
	}
	if writes.Load() < 10 || reads.Load() < 10 {
		t.Errorf("too little traffic to mean anything: %d writes, %d reads", writes.Load(), reads.Load())
	}

	// No lost write: the database holds exactly what the writers did.
	want := ownTasks{}
	for _, o := range owned {
		for id, done := range o {
			want[id] = done
		}
	}
	final, err := cluster[0].src.Store.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := ownTasks{}
	for _, task := range final.Tasks {
		got[task.ID] = task.Done
	}
	if len(got) != len(want) {
		t.Errorf("database has %d tasks, writers made %d", len(got), len(want))
	}
	for id, done := range want {
		if g, ok := got[id]; !ok || g != done {
			t.Errorf("task %d: database has (present %v, done %v), writer made done=%v", id, ok, g, done)
		}
	}
	// Once quiet, every instance serves exactly the database's list.
	for i, in := range cluster {
		snap, err := in.List(t.Context())
		if err != nil || snap.Revision != final.Revision || !slices.Equal(names(snap), names(final)) {
			t.Errorf("instance %d serves revision %d (%v), database is at %d", i, snap.Revision, err, final.Revision)
		}
	}
}

// writer adds, toggles and removes its own tasks until ctx ends.
func writer(t *testing.T, ctx context.Context, in instance, own ownTasks, answered func(int64), writes *atomic.Int64) {
	for ctx.Err() == nil {
		ids := make([]int64, 0, len(own))
		for id := range own {
			ids = append(ids, id)
		}
		var (
			v   tasks.Version
			err error
		)
		// Writes run to completion even when the run ends meanwhile.
		wctx := context.WithoutCancel(ctx)
		switch op := rand.IntN(4); {
		case op < 2 || len(ids) == 0:
			var task tasks.Task
			task, v, err = in.Add(wctx, "task")
			if err == nil {
				own[task.ID] = false
			}
		case op == 2:
			id := ids[rand.IntN(len(ids))]
			var task tasks.Task
			task, v, err = in.SetDone(wctx, id, !own[id], "")
			if err == nil {
				own[id] = task.Done
			}
		default:
			id := ids[rand.IntN(len(ids))]
			_, v, err = in.Remove(wctx, id, "")
			if err == nil {
				delete(own, id)
			}
		}
		if err != nil {
			t.Errorf("write: %v", err)
			return
		}
		writes.Add(1)
		answered(v.Revision)
	}
}
