package memcache

import (
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/cache/cachetest"
	"github.com/tasklist/tasklist/internal/testenv"
)

const testUser, testPassword = "tasklist", "correct-horse-battery"

// kind is one of the two backends, with the servers it speaks to.
type kind struct {
	name   string
	server testenv.MemcachedOptions
}

var kinds = []kind{
	{"plain", testenv.MemcachedOptions{}},
	{"sasl", testenv.MemcachedOptions{Username: testUser, Password: testPassword}},
}

// testTimeout is the request timeout of tests that are not about timeouts:
// generous, as the tests run in parallel under -race on busy machines.
const testTimeout = 10 * time.Second

// options returns Options for servers of this kind.
func (k kind) options(servers []*testenv.Memcached) Options {
	opts := Options{Username: k.server.Username, Password: k.server.Password, Timeout: testTimeout}
	for _, s := range servers {
		opts.Servers = append(opts.Servers, s.Addr())
	}
	return opts
}

// clocked returns Options for servers on a manual clock, with a one-minute
// backoff and the given failure threshold, and the clock.
func (k kind) clocked(servers []*testenv.Memcached, threshold int) (Options, *cachetest.Clock) {
	clock := cachetest.NewClock()
	opts := k.options(servers)
	opts.Now, opts.Backoff, opts.FailureThreshold = clock.Now, time.Minute, threshold
	return opts, clock
}

// start starts n servers of this kind.
func (k kind) start(t *testing.T, n int) []*testenv.Memcached {
	t.Helper()
	servers := make([]*testenv.Memcached, n)
	for i := range servers {
		servers[i] = testenv.StartMemcached(t, k.server)
	}
	return servers
}

// eachKind runs f as a parallel subtest for each backend.
func eachKind(t *testing.T, f func(t *testing.T, k kind)) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			f(t, k)
		})
	}
}

func newClient(t testing.TB, opts Options) *Client {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// keysOn returns n keys under prefix that the ring places on server i when
// all servers are up.
func keysOn(c *Client, i, n int, prefix string) []string {
	var keys []string
	for j := 0; len(keys) < n; j++ {
		k := prefix + strconv.Itoa(j)
		if c.ring.pick(hashKey(k), allUsable) == i {
			keys = append(keys, k)
		}
	}
	return keys
}

// wire counts, per server address, connections opened and round trips: a
// round trip starts with the first write after a read (or the first write
// on a connection).
type wire struct {
	mu     sync.Mutex
	dials  map[string]int
	trips  map[string]int
	dialer net.Dialer
}

func newWire() *wire { return &wire{dials: map[string]int{}, trips: map[string]int{}} }

func (w *wire) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	nc, err := w.dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	w.dials[addr]++
	w.mu.Unlock()
	return &countingConn{Conn: nc, w: w, addr: addr}, nil
}

// counts returns a copy of the dial and round-trip counts and resets them.
func (w *wire) counts() (dials, trips map[string]int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	dials, trips = w.dials, w.trips
	w.dials, w.trips = map[string]int{}, map[string]int{}
	return dials, trips
}

type countingConn struct {
	net.Conn
	w       *wire
	addr    string
	writing atomic.Bool
}

func (c *countingConn) Write(p []byte) (int, error) {
	if !c.writing.Swap(true) {
		c.w.mu.Lock()
		c.w.trips[c.addr]++
		c.w.mu.Unlock()
	}
	return c.Conn.Write(p)
}

func (c *countingConn) Read(p []byte) (int, error) {
	c.writing.Store(false)
	return c.Conn.Read(p)
}
