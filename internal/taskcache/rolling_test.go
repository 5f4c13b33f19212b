package taskcache_test

import (
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/fill"
	"github.com/tasklist/tasklist/internal/cache/memcache"
	"github.com/tasklist/tasklist/internal/taskcache"
	"github.com/tasklist/tasklist/internal/testenv"
)

// TestRollingChange: during a rolling change, instances with every strategy,
// and one with the query cache off (TASKLIST_CACHE_LAYERS without query),
// share one memcached cluster and database, and all of them write. The
// load and faults of TestCoherence run on them: no read on an instance
// whose strategy invalidates may be stale, whichever instance wrote — each
// strategy reads keys that the others' writes must delete too (before,
// version and expire writers left tasks:all to delete and update readers,
// and expire writers left tasks:version to everyone). The expire instance
// writes but is not checked: its reads may be stale for its TTL by design.
func TestRollingChange(t *testing.T) {
	ms, servers := startServers(t, 2)
	dbURL := testenv.SQLiteURL(t, "rolling.db")
	newSource(t, dbURL, 0) // migrates once
	prefix := testenv.RandomName("rolling") + ":"
	newInstance := func(opts taskcache.Options) instance {
		src := newSource(t, dbURL, 0)
		mc, err := memcache.New(memcache.Options{Servers: servers, Timeout: 100 * time.Millisecond, Backoff: 200 * time.Millisecond,
			Volatile: taskcache.VolatileKeysSent(prefix, src)})
		if err != nil {
			t.Fatal(err)
		}
		c := cache.New(mc, cache.Options{Prefix: prefix})
		t.Cleanup(func() { c.Close() })
		opts.LeaseTTL = fill.LeaseTTL(0)
		return instance{Store: newStore(t, src, c, opts), src: src, mc: mc}
	}
	var checked []instance
	for _, strategy := range strategies {
		checked = append(checked, newInstance(taskcache.Options{Strategy: strategy}))
	}
	checked = append(checked, newInstance(taskcache.Options{Strategy: taskcache.Version, Uncached: true}))
	expire := newInstance(taskcache.Options{Strategy: taskcache.Expire, TTL: time.Hour})
	runCoherence(t, checked, []instance{expire}, ms)
}
