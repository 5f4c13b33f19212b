package taskcache_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/memcache"
	"github.com/tasklist/tasklist/internal/testenv"
)

// TestSickServer: one of two memcached servers stops answering (SIGSTOP),
// or is restarted with other SASL credentials, while one of three instances
// writes and the others read. A stalled server costs the first write the
// requests that mark it down (with the other server to hold the writer's
// note; without one it would cost the full invalidation retry,
// InvalidateTimeout, 3 s), and no further write waits for it; a rejection of
// the credentials is never retried. So at most one write (none for the
// credentials) may end with an invalidation failure, not each.
// Every read must show every write that answered before it, during the
// fault and after the server is back, and at the end every instance serves
// the database's list. Each server in turn is the sick one.
func TestSickServer(t *testing.T) {
	const user, password = "tasklist", "correct-horse-battery"
	faults := []struct {
		name         string
		opts         testenv.MemcachedOptions
		break_, heal func(m *testenv.Memcached)
		mayGiveUp    uint64
	}{
		{"stalled", testenv.MemcachedOptions{}, (*testenv.Memcached).Pause, (*testenv.Memcached).Resume, 1},
		{"other credentials", testenv.MemcachedOptions{Username: user, Password: password},
			func(m *testenv.Memcached) {
				m.Stop()
				m.UseCredentials(user, "another-password")
				m.Start()
			},
			func(m *testenv.Memcached) {
				m.Stop()
				m.UseCredentials(user, password)
				m.Start()
			}, 0},
	}
	for _, f := range faults {
		for _, strategy := range strategies {
			t.Run(f.name+"/"+string(strategy), func(t *testing.T) {
				ms := []*testenv.Memcached{testenv.StartMemcached(t, f.opts), testenv.StartMemcached(t, f.opts)}
				mo := memcache.Options{Servers: []string{ms[0].Addr(), ms[1].Addr()}, Timeout: 100 * time.Millisecond}
				if f.opts.Username != "" {
					mo.Username, mo.Password = user, password
				}
				cluster := newClusterWith(t, 3, testenv.SQLiteURL(t, "sick.db"), mo, cache.Options{}, strategy, 0)
				for sick := range ms {
					runSickServer(t, cluster, func() { f.break_(ms[sick]) }, func() { f.heal(ms[sick]) }, f.mayGiveUp)
				}
			})
		}
	}
}

// runSickServer breaks a server, writes on cluster[0] and reads on the
// others after each write, heals the server and reads again.
func runSickServer(t *testing.T, cluster []instance, breakIt, heal func(), mayGiveUp uint64) {
	t.Helper()
	var floor int64 // the revision of the last write that answered
	read := func(when string) {
		t.Helper()
		for i, in := range cluster {
			snap, err := in.List(t.Context())
			if err != nil {
				t.Fatalf("%s: instance %d: List: %v", when, i, err)
			}
			if snap.Revision < floor {
				t.Errorf("%s: instance %d read revision %d after revision %d had answered", when, i, snap.Revision, floor)
			}
		}
	}
	read("before the fault")
	breakIt()
	// An invalidation that gave up says so in the log.
	gaveUp := func() uint64 { return uint64(strings.Count(cluster[0].log.String(), `msg="cache invalidation failed`)) }
	before := gaveUp()
	var took []time.Duration
	for range 8 {
		start := time.Now()
		_, rev, err := cluster[0].Add(t.Context(), "written while a server is sick")
		if err != nil {
			t.Fatal(err)
		}
		took = append(took, time.Since(start))
		floor = rev.Revision
		read("during the fault")
	}
	slices.Sort(took)
	t.Logf("8 writes during the fault: median %v, slowest %v", took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
	if n := gaveUp() - before; n > mayGiveUp {
		t.Errorf("%d of 8 writes gave up on their invalidation (waited it out, or retried a rejection); want at most %d", n, mayGiveUp)
	}
	heal()
	// Reads go on until the writer uses the server again: its replay has
	// delivered the deletes it deferred there.
	testenv.WaitFor(t, "the writer using the healed server again", func() bool {
		read("after the server is back")
		servers, _ := cluster[0].mc.Stats(t.Context())
		for _, s := range servers {
			if !s.Up {
				return false
			}
		}
		return true
	})
	read("after the server is back")
	final, err := cluster[0].src.Store.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for i, in := range cluster {
		snap, err := in.List(t.Context())
		if err != nil || snap.Revision != final.Revision {
			t.Errorf("instance %d serves revision %d (%v), database is at %d", i, snap.Revision, err, final.Revision)
		}
	}
}
