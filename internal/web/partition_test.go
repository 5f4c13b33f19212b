package web_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/memcache"
	"github.com/tasklist/tasklist/internal/config"
	"github.com/tasklist/tasklist/internal/taskcache"
	"github.com/tasklist/tasklist/internal/testenv"
)

// The options of TestOneSidedPartition: the memcached client's timeout, and
// the list's TTL (TASKLIST_CACHE_TTL).
const (
	partitionTimeout = 100 * time.Millisecond
	partitionTTL     = time.Second
)

// partitionBound is how soon after a write has answered every instance
// shows it while the writer cannot reach a server the others read (see
// docs/caching.md, "A one-sided partition"): the TTL, plus one of each of
// the cache's waits.
const partitionBound = partitionTTL + partitionTimeout + cache.DefaultGetTimeout + cache.DefaultWriteTimeout

// TestOneSidedPartition: instance A reaches the two memcached servers
// through proxies, instance B directly. A's way to one server is cut (its
// proxy refuses connections: A gets connection refused, B still reaches
// the server), the one that holds the list's version or the other, or to
// both. A POST /add on A must answer 303, and B must show the task within
// partitionBound; once A's way is back, both show it. With every layer,
// and with the query layer alone. B checks its cache against the database
// every TTL, as the app does.
//
// Before the fix (docs/caching.md), with the version's server cut, B never
// showed the task: A counted the refused delete as done. Now A notes its
// deferred delete on the other server, and B's first read shows the task;
// cut from both, A has nowhere to note it, and B's check finds the
// database ahead of the cache within the TTL.
func TestOneSidedPartition(t *testing.T) {
	for _, layers := range []config.Layers{everyLayer, {Query: true}} {
		for _, cut := range []partitionCut{versionsServerCut, otherServerCut, everyServerCut} {
			t.Run(layers.String()+"/"+cut.String(), func(t *testing.T) {
				oneSidedPartition(t, layers, cut)
			})
		}
	}
}

// partitionCut says which of A's ways to the servers TestOneSidedPartition
// cuts.
type partitionCut int

const (
	versionsServerCut partitionCut = iota // the way to the server holding the list's version
	otherServerCut                        // the way to the other server
	everyServerCut                        // the ways to both
)

func (c partitionCut) String() string {
	return [...]string{"version's server", "other server", "every server"}[c]
}

func oneSidedPartition(t *testing.T, layers config.Layers, which partitionCut) {
	dbURL := testenv.PostgresURL(t)
	migrate(t, dbURL)
	addrs := startMemcacheds(t, 2)
	proxies := map[string]*testenv.Proxy{}
	for _, a := range addrs {
		proxies[a] = testenv.StartProxy(t, a)
	}
	var dialer net.Dialer
	viaProxies := func(ctx context.Context, network, addr string) (net.Conn, error) {
		return dialer.DialContext(ctx, network, proxies[addr].Addr())
	}
	o := stackOptions{
		dbURL:    dbURL,
		prefix:   testenv.RandomName("partition") + ":",
		strategy: taskcache.Version,
		ttl:      partitionTTL,
		layers:   layers,
		pageSize: 1000,
	}
	mo := memcache.Options{Servers: addrs, Timeout: partitionTimeout, Backoff: memcache.DefaultBackoff}
	o.backend = memcachedClients(mo)
	b := newStack(t, o)
	go b.Cached().Run(t.Context())
	mo.DialContext = viaProxies
	o.backend = memcachedClients(mo)
	a := newStack(t, o)

	shows := func(s *stack, name string) bool {
		t.Helper()
		resp := do(s.handler, "GET", "/", nil)
		if resp.Code != http.StatusOK {
			t.Fatalf("GET / = %d:\n%s", resp.Code, resp.Body)
		}
		return slices.ContainsFunc(pageRows(resp.Body.String()), func(r pageRow) bool { return r.Name == name })
	}
	for _, s := range []*stack{a, b, a, b} { // the version and the pages cached
		shows(s, "")
	}
	versionAt := versionServer(t, addrs, o.prefix, a.Tasks())
	cut := []string{versionAt}
	switch which {
	case otherServerCut:
		cut = []string{addrs[1-slices.Index(addrs, versionAt)]}
	case everyServerCut:
		cut = addrs
	}
	for _, addr := range cut {
		proxies[addr].Refuse()
	}

	resp := do(a.handler, "POST", "/add", map[string][]string{"name": {"added while cut off"}}, sameOrigin...)
	if resp.Code != http.StatusSeeOther {
		t.Fatalf("POST /add on A = %d:\n%s", resp.Code, resp.Body)
	}
	answered := time.Now()
	polls := 0
	for !shows(b, "added while cut off") {
		polls++
		if time.Since(answered) > partitionBound {
			t.Fatalf("B does not show the task added on A %v after A answered (bound %v)", time.Since(answered).Round(time.Millisecond), partitionBound)
		}
		// Polling against a clock: how soon B shows the write (a TTL) is
		// what is tested.
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("B showed the task added on A within %v (bound %v), after %d reads that did not", time.Since(answered).Round(time.Millisecond), partitionBound, polls)
	if !shows(a, "added while cut off") {
		t.Error("A does not show its own write")
	}

	for _, addr := range cut {
		if err := proxies[addr].Forward(); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []*stack{a, b} {
		if !shows(s, "added while cut off") {
			t.Error("once A's way is back, an instance does not show the task")
		}
	}
}

// versionServer returns the address of the server that holds the list's
// version of the app with prefix, on the database db reads.
func versionServer(t *testing.T, addrs []string, prefix string, db interface{ Identity() string }) string {
	t.Helper()
	keys := taskcache.VolatileKeysSent(prefix, db)()
	i := slices.IndexFunc(keys, func(k string) bool { return strings.Contains(k, db.Identity()+":version") })
	key := keys[i]
	for _, addr := range addrs {
		mc, err := memcache.New(memcache.Options{Servers: []string{addr}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = mc.Get(t.Context(), key)
		mc.Close()
		if err == nil {
			return addr
		}
		if !errors.Is(err, cache.ErrMiss) {
			t.Fatal(err)
		}
	}
	t.Fatal("no server holds the list's version")
	return ""
}
