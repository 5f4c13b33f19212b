package web_test

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/cache/memcache"
	"github.com/tasklist/tasklist/internal/taskcache"
	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/tasks/taskstest"
	"github.com/tasklist/tasklist/internal/testenv"
)

// faultTimeout is the memcached client's per-request timeout in
// TestMemcachedFaults; maxFaultLatency the generous bound every request
// must be answered within while a server is sick.
const (
	faultTimeout    = 500 * time.Millisecond
	maxFaultLatency = 10 * time.Second
	quietReads      = 10 // GET / per instance in the recovery phase
	// faultRequests and faultWrites are how many requests, and of them
	// writes, a fault lasts for: it ends once that many have met it.
	faultRequests, faultWrites = 50, 5
)

// TestMemcachedFaults runs TestPageCoherence's load (three instances, every
// layer on, strategy version, SQLite and MariaDB, two memcached servers) while a
// memcached server fails, and checks what docs/reliability.md (Faults)
// promises: no 5xx (runPageCoherence fails on any answer but 200, 304 and
// 303), no stale read (its history checker), every request answered within
// maxFaultLatency while the fault lasts (p50 and p99 are logged), and, once
// the server is back, a quiet read phase whose page-cache hit ratio is high
// again. The faults: one server killed and restarted empty; both killed and
// restarted; one paused with SIGSTOP and resumed; a cluster member that
// accepts connections and never answers, for the whole run (no recovery to
// check there: the ratio is only logged); and, on SASL servers, one
// restarted with other credentials, then with the right ones again.
func TestMemcachedFaults(t *testing.T) {
	cases := []memcachedFaultCase{
		{name: "one killed", fault: func(s []*testenv.Memcached) func() {
			s[1].Stop()
			return s[1].Start
		}},
		{name: "both killed", fault: func(s []*testenv.Memcached) func() {
			s[0].Stop()
			s[1].Stop()
			return func() { s[0].Start(); s[1].Start() }
		}},
		{name: "one paused", fault: func(s []*testenv.Memcached) func() {
			s[1].Pause()
			return s[1].Resume
		}},
		{name: "silent member", silent: true},
		{name: "other credentials", sasl: true, fault: func(s []*testenv.Memcached) func() {
			s[1].Stop()
			s[1].UseCredentials(faultUser, "another-password")
			s[1].Start()
			return func() {
				s[1].Stop()
				s[1].UseCredentials(faultUser, faultPassword)
				s[1].Start()
			}
		}},
	}
	for _, db := range []string{"sqlite", "mysql"} {
		for _, c := range cases {
			t.Run(db+"/"+c.name, func(t *testing.T) { memcachedFault(t, testenv.Databases()[db](t), c) })
		}
	}
}

// memcachedFaultCase is a fault of TestMemcachedFaults.
type memcachedFaultCase struct {
	name string
	// fault breaks the servers and returns what mends them; nil for the
	// silent member, which is broken from the start.
	fault func(servers []*testenv.Memcached) (mend func())
	// silent adds a member that accepts connections and never answers.
	silent bool
	// sasl starts the servers with SASL, with user faultUser and password
	// faultPassword, and the clients use them.
	sasl bool
}

// The credentials of the SASL case of TestMemcachedFaults.
const faultUser, faultPassword = "tasklist", "correct-horse-battery"

// memcachedFault runs case c of TestMemcachedFaults on the database at
// dbURL.
func memcachedFault(t *testing.T, dbURL string, c memcachedFaultCase) {
	var so testenv.MemcachedOptions
	mo := memcache.Options{Timeout: faultTimeout}
	if c.sasl {
		so = testenv.MemcachedOptions{Username: faultUser, Password: faultPassword}
		mo.Username, mo.Password = faultUser, faultPassword
	}
	servers := []*testenv.Memcached{testenv.StartMemcached(t, so)}
	mo.Servers = []string{servers[0].Addr()}
	if c.silent {
		mo.Servers = append(mo.Servers, silentListener(t))
	} else {
		servers = append(servers, testenv.StartMemcached(t, so))
		mo.Servers = append(mo.Servers, servers[1].Addr())
	}
	migrate(t, dbURL)
	o := stackOptions{
		dbURL:    dbURL,
		backend:  memcachedClients(mo),
		prefix:   testenv.RandomName("faults") + ":",
		strategy: taskcache.Version,
		layers:   everyLayer,
		pageSize: 1000,
	}
	lat := &latencies{}
	var cluster []*stack
	for range 3 {
		s := newStack(t, o)
		s.handler = lat.wrap(s.handler)
		cluster = append(cluster, s)
	}
	if c.silent {
		lat.during.Store(true)
	}

	var wg sync.WaitGroup
	var mended atomic.Bool // the run goes on until the fault is over
	if c.fault != nil {
		wg.Go(func() {
			defer mended.Store(true)
			if !testenv.Await(t, fmt.Sprintf("a steady load of %d requests", faultRequests), func() bool { return lat.served.Load() >= faultRequests }) {
				return
			}
			lat.during.Store(true)
			mend := c.fault(servers)
			// The fault lasts until enough requests, writes among them,
			// have met it.
			testenv.Await(t, fmt.Sprintf("%d requests, %d of them writes, meeting the fault", faultRequests, faultWrites), func() bool {
				n, writes := lat.met()
				return n >= faultRequests && writes >= faultWrites
			})
			mend()
			lat.during.Store(false)
		})
	} else {
		mended.Store(true)
	}
	runPageCoherence(t, cluster, taskstest.Open(t, dbURL, tasks.Options{}), 0, mended.Load)
	wg.Wait()
	lat.during.Store(false)

	n, p50, p99, worst := lat.summary()
	t.Logf("%d requests during the fault: p50 %v, p99 %v, slowest %v", n, p50, p99, worst)
	if n == 0 {
		t.Error("no request was answered during the fault")
	}
	if worst > maxFaultLatency {
		t.Errorf("slowest request during the fault took %v, want at most %v", worst, maxFaultLatency)
	}

	// Recovery: a quiet read phase, with the list unchanged, is
	// served from the page cache again.
	before := pageCounts(cluster)
	for range quietReads {
		for i, s := range cluster {
			if resp := do(s.handler, "GET", "/", nil); resp.Code != http.StatusOK {
				t.Errorf("quiet read on instance %d = %d", i, resp.Code)
			}
		}
	}
	after := pageCounts(cluster)
	hits, misses := after[0]-before[0], after[1]-before[1]
	ratio := float64(hits) / float64(max(hits+misses, 1))
	t.Logf("quiet phase after the fault: page cache %d hits, %d misses (ratio %.2f)", hits, misses, ratio)
	if !c.silent && ratio < 0.5 {
		t.Errorf("page-cache hit ratio after recovery = %.2f (%d hits, %d misses), want at least 0.5", ratio, hits, misses)
	}
}

// pageCounts sums the page cache's hits and misses over the cluster, as
// /stats.json counts them (a page from process memory or a 304 is a hit).
func pageCounts(cluster []*stack) [2]uint64 {
	var c [2]uint64
	for _, s := range cluster {
		st := s.layer("page")
		c[0] += st.Hits
		c[1] += st.Misses
	}
	return c
}

// latencies records how long requests took that began or ended while
// during was set: those that met the fault, also when the fault ended
// before they did. It counts every request it served. It is safe for
// concurrent use.
type latencies struct {
	during atomic.Bool
	served atomic.Int64
	mu     sync.Mutex
	took   []time.Duration
	writes int // of the requests in took
}

// wrap times the requests h serves.
func (l *latencies) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start, began := time.Now(), l.during.Load()
		h.ServeHTTP(w, r)
		l.served.Add(1)
		if began || l.during.Load() { // the request overlapped the fault
			l.mu.Lock()
			l.took = append(l.took, time.Since(start))
			if r.Method == http.MethodPost {
				l.writes++
			}
			l.mu.Unlock()
		}
	})
}

// met returns how many requests met the fault, and how many of them were
// writes.
func (l *latencies) met() (n, writes int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.took), l.writes
}

// summary returns how many requests were timed, their median, 99th
// percentile and slowest.
func (l *latencies) summary() (n int, p50, p99, worst time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.took) == 0 {
		return 0, 0, 0, 0
	}
	s := slices.Sorted(slices.Values(l.took))
	return len(s), s[len(s)/2], s[len(s)*99/100], s[len(s)-1]
}

// silentListener listens on a loopback port, accepts connections and never
// answers (nor reads): a memcached member that is reachable and dead. It
// closes its connections when the test ends.
func silentListener(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}
