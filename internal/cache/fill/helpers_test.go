package fill_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/fill"
	"github.com/tasklist/tasklist/internal/cache/local"
	"github.com/tasklist/tasklist/internal/cache/memcache"
	"github.com/tasklist/tasklist/internal/stats"
	"github.com/tasklist/tasklist/internal/testenv"
)

// waitLimit bounds every wait of a test for something another goroutine
// does; past it the test fails rather than hangs. It is not a timing
// assertion: every wait ends long before it unless the code is broken.
const waitLimit = 5 * time.Second

// source is what the tests fill from: a versioned value in memory. A write
// bumps the version; a load reads it. Hooks hold a load at a chosen moment.
// It is safe for concurrent use.
type source struct {
	version atomic.Int64
	loads   atomic.Int64
	// size, when set before the first load, pads every value to that many
	// bytes.
	size int
	// before runs at the start of a load, before it reads the version;
	// after runs once it has read it, before it returns.
	before, after atomic.Pointer[func()]
	// fail, when set, is the error of the next load.
	fail atomic.Pointer[error]
	// readAt, when set, is the read time the loads report.
	readAt atomic.Pointer[time.Time]
}

var errLoad = errors.New("source: load failed")

// value is the value of version v.
func value(v int64) []byte { return []byte("v" + strconv.FormatInt(v, 10)) }

func (s *source) load(context.Context) ([]byte, time.Time, error) {
	s.loads.Add(1)
	runHook(&s.before)
	if err := s.fail.Swap(nil); err != nil {
		return nil, time.Time{}, *err
	}
	v := value(s.version.Load())
	runHook(&s.after)
	if len(v) < s.size {
		v = append(v, bytes.Repeat([]byte{'.'}, s.size-len(v))...)
	}
	var readAt time.Time
	if at := s.readAt.Load(); at != nil {
		readAt = *at
	}
	return v, readAt, nil
}

// hook returns f for a source's before or after, or faults' beforeWrite.
func hook(f func()) *func() { return &f }

func runHook(h *atomic.Pointer[func()]) {
	if f := h.Load(); f != nil {
		(*f)()
	}
}

// write changes the value, as a write to the database does, and returns
// the new version.
func (s *source) write() int64 { return s.version.Add(1) }

// spec returns the Spec that fills key from s.
func (s *source) spec(key string) fill.Spec {
	return fill.Spec{Key: key, TTL: time.Hour, Load: s.load}
}

// stored returns the data of the value that c holds at key, read as a
// Group frames it (see frame.go: 'v', the read time, the data), and false
// when it holds none: the key is absent, or holds a lease or something
// unreadable, or the cache failed.
func stored(t *testing.T, c *cache.Cache, key string) ([]byte, bool) {
	t.Helper()
	it, err := c.Get(t.Context(), key)
	if err != nil || len(it.Value) < fill.Overhead || it.Value[0] != 'v' {
		return nil, false
	}
	return it.Value[fill.Overhead:], true
}

// gate holds one caller of its wait, the one after skip others have passed,
// until open. It is safe for concurrent use.
type gate struct {
	skip     atomic.Int64
	fired    atomic.Bool
	reached  chan struct{} // closed once a caller is held
	opened   chan struct{}
	openOnce sync.Once
}

// newGate returns a gate that holds the caller after skip; the test opens it
// when it ends, so that nothing stays held.
func newGate(t *testing.T, skip int) *gate {
	g := &gate{reached: make(chan struct{}), opened: make(chan struct{})}
	g.skip.Store(int64(skip))
	t.Cleanup(g.open)
	return g
}

func (g *gate) wait() {
	if g.skip.Add(-1) >= 0 || !g.fired.CompareAndSwap(false, true) {
		return
	}
	close(g.reached)
	<-g.opened
}

func (g *gate) open() { g.openOnce.Do(func() { close(g.opened) }) }

// held waits until a caller is held at g.
func (g *gate) held(t *testing.T, what string) {
	t.Helper()
	select {
	case <-g.reached:
	case <-time.After(waitLimit):
		t.Fatalf("%s did not happen within %v", what, waitLimit)
	}
}

// faults wraps the backend of one instance to hold or fail its calls at
// chosen moments. It is safe for concurrent use.
type faults struct {
	cache.Backend
	// down fails every call, as an unreachable server does.
	down atomic.Bool
	// failCAS fails the next CompareAndSwap.
	failCAS atomic.Bool
	// lateAdd makes the next Add reach the server, then answer a timeout,
	// as a reply that comes too late does.
	lateAdd atomic.Bool
	// beforeWrite runs before each Set and Add; afterGet and afterCAS
	// after each call of theirs.
	beforeWrite atomic.Pointer[func()]
	afterGet    atomic.Pointer[func(cache.Item, error)]
	afterCAS    atomic.Pointer[func(error)]
	// gets counts calls of Get.
	gets atomic.Int64
	// shared is set when the backend is shared with other instances (the
	// in-process one), so that Close leaves it open.
	shared bool
}

var errInjected = errors.New("injected: connection reset by peer")

func (f *faults) Get(ctx context.Context, key string) (cache.Item, error) {
	f.gets.Add(1)
	if f.down.Load() {
		return cache.Item{}, errInjected
	}
	it, err := f.Backend.Get(ctx, key)
	if h := f.afterGet.Load(); h != nil {
		(*h)(it, err)
	}
	return it, err
}

func (f *faults) GetMulti(ctx context.Context, keys []string) (map[string]cache.Item, error) {
	if f.down.Load() {
		return nil, errInjected
	}
	return f.Backend.GetMulti(ctx, keys)
}

func (f *faults) Set(ctx context.Context, it cache.Item) error {
	if f.down.Load() {
		return errInjected
	}
	runHook(&f.beforeWrite)
	return f.Backend.Set(ctx, it)
}

func (f *faults) Add(ctx context.Context, it cache.Item) error {
	if f.down.Load() {
		return errInjected
	}
	runHook(&f.beforeWrite)
	err := f.Backend.Add(ctx, it)
	if err == nil && f.lateAdd.Swap(false) {
		return context.DeadlineExceeded
	}
	return err
}

func (f *faults) CompareAndSwap(ctx context.Context, it cache.Item) error {
	if f.down.Load() || f.failCAS.Swap(false) {
		return errInjected
	}
	err := f.Backend.CompareAndSwap(ctx, it)
	if h := f.afterCAS.Load(); h != nil {
		(*h)(err)
	}
	return err
}

func (f *faults) Delete(ctx context.Context, key string) error {
	if f.down.Load() {
		return errInjected
	}
	return f.Backend.Delete(ctx, key)
}

func (f *faults) Close() error {
	if f.shared {
		return nil
	}
	return f.Backend.Close()
}

// holdGet makes f hold the first Get, after skip, whose answer matches.
func holdGet(t *testing.T, f *faults, skip int, match func(cache.Item, error) bool) *gate {
	g := newGate(t, skip)
	h := func(it cache.Item, err error) {
		if match(it, err) {
			g.wait()
		}
	}
	f.afterGet.Store(&h)
	return g
}

// holdStored returns a hook for afterCAS that holds the first call that
// stored.
func holdStored(t *testing.T) (*gate, *func(error)) {
	g := newGate(t, 0)
	h := func(err error) {
		if err == nil {
			g.wait()
		}
	}
	return g, &h
}

// isFramedValue reports whether a Get found a value frame: neither a lease
// (one byte) nor a miss.
func isFramedValue(it cache.Item, err error) bool {
	return err == nil && len(it.Value) > 1 && it.Value[0] == 'v'
}

// env is one backend under test: the in-process cache or real memcached
// servers, shared by the instances a test makes.
type env struct {
	t       *testing.T
	name    string
	prefix  string
	timeout time.Duration
	servers []*testenv.Memcached // nil for the in-process backend
	local   *local.Backend       // nil for memcached

	mu     sync.Mutex
	faults []*faults
}

// envOptions configure eachBackend.
type envOptions struct {
	// servers is the number of memcached servers (default 1).
	servers int
	// clock is the in-process backend's clock (nil: the real one).
	clock func() time.Time
	// timeout bounds every cache call (default waitLimit: these tests are
	// about races, not timeouts, and run under -race on busy machines).
	timeout time.Duration
}

// eachBackend runs f once against the in-process backend and once against
// real memcached servers.
func eachBackend(t *testing.T, o envOptions, f func(t *testing.T, e *env)) {
	if o.timeout == 0 {
		o.timeout = waitLimit
	}
	t.Run("local", func(t *testing.T) {
		b, err := local.New(local.Options{Clock: o.clock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		f(t, &env{t: t, name: "local", prefix: "fill:", timeout: o.timeout, local: b})
	})
	t.Run("memcached", func(t *testing.T) {
		e := &env{t: t, name: "memcached", prefix: testenv.RandomName("fill") + ":", timeout: o.timeout}
		for range max(o.servers, 1) {
			e.servers = append(e.servers, testenv.StartMemcached(t, testenv.MemcachedOptions{}))
		}
		f(t, e)
	})
}

// instance is one app instance: its own client of the shared backend,
// wrapped in faults, its cache and its Group.
type instance struct {
	c *cache.Cache
	f *faults
	g *fill.Group
	// counts is the Group's Counter.
	counts *stats.Counter
}

// instance makes one more instance with a Group configured by opts, and a
// Counter of its own.
func (e *env) instance(opts fill.Options) instance {
	e.t.Helper()
	f := &faults{Backend: e.local, shared: true}
	if e.local == nil {
		var addrs []string
		for _, s := range e.servers {
			addrs = append(addrs, s.Addr())
		}
		mc, err := memcache.New(memcache.Options{Servers: addrs, Timeout: e.timeout, Backoff: 100 * time.Millisecond})
		if err != nil {
			e.t.Fatal(err)
		}
		f = &faults{Backend: mc}
	}
	c := cache.New(f, cache.Options{Prefix: e.prefix, GetTimeout: e.timeout, WriteTimeout: e.timeout})
	e.t.Cleanup(func() { c.Close() })
	e.mu.Lock()
	e.faults = append(e.faults, f)
	e.mu.Unlock()
	opts.Counter = new(stats.Counter)
	return instance{c: c, f: f, g: fill.New(c, opts), counts: opts.Counter}
}

// stop makes the backend unreachable: the memcached servers are stopped;
// the in-process backend, which cannot stop, fails every call of every
// instance.
func (e *env) stop() {
	for _, s := range e.servers {
		s.Stop()
	}
	if e.local != nil {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, f := range e.faults {
			f.down.Store(true)
		}
	}
}

// pause makes the memcached servers stop answering, until the test ends.
func (e *env) pause(t *testing.T) {
	for _, s := range e.servers {
		s.Pause()
		t.Cleanup(s.Resume)
	}
}

// call is a Get running in a goroutine of its own.
type call struct {
	done chan struct{}
	res  fill.Result
	err  error
}

func goGet(ctx context.Context, g *fill.Group, spec fill.Spec) *call {
	c := &call{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		c.res, c.err = g.Get(ctx, spec)
	}()
	return c
}

func (c *call) finished() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// result waits for the call and returns what it got.
func (c *call) result(t *testing.T) (fill.Result, error) {
	t.Helper()
	select {
	case <-c.done:
		return c.res, c.err
	case <-time.After(waitLimit):
		t.Fatalf("Get did not return within %v", waitLimit)
		return fill.Result{}, nil
	}
}

// want checks that the call got value want with outcome o.
func (c *call) want(t *testing.T, what string, want []byte, o fill.Outcome) {
	t.Helper()
	r, err := c.result(t)
	if err != nil || !bytes.Equal(r.Data, want) || r.Outcome != o {
		t.Errorf("%s: Get = %q (%v), %v; want %q (%v)", what, r.Data, r.Outcome, err, want, o)
	}
}

// wantData checks that the call got value want, whatever its outcome.
func (c *call) wantData(t *testing.T, what string, want []byte) {
	t.Helper()
	r, err := c.result(t)
	if err != nil || !bytes.Equal(r.Data, want) {
		t.Errorf("%s: Get = %q, %v; want %q", what, r.Data, err, want)
	}
}

// waitOnLease starts a Get on holder and holds its load, lease taken; then
// starts a Get on waiter and returns once waiter's flight has looked at
// that lease and waits for its next look. Opening load lets the holder go
// on.
func waitOnLease(t *testing.T, waiter, holder instance, src *source, spec fill.Spec) (waiting, holding *call, load *gate) {
	t.Helper()
	load = newGate(t, 0)
	src.before.Store(hook(load.wait))
	holding = goGet(t.Context(), holder.g, spec)
	load.held(t, "the lease holder's load")
	waiting = goGet(t.Context(), waiter.g, spec)
	testenv.WaitFor(t, "a look at the lease", func() bool { return goroutines(inLeaseWait, true) > 0 })
	return waiting, holding, load
}

// Functions whose frames tell what a goroutine of the fill is doing.
const (
	inMiss      = "fill.(*Group).miss("     // a request, waiting for another's flight when blocked in select
	inFly       = "fill.(*Group).fly("      // a flight, run by the request that started it
	inLeaseWait = "fill.(*leaseWait).wait(" // a flight, between two looks at another's lease when blocked in select
)

// goroutines counts the goroutines with fn on their stack, only those
// blocked in a select when selecting is set (see testenv.Goroutines): how
// the late-joiner, stampede and lease tests see a request join a flight or
// a flight wait for another's lease.
func goroutines(fn string, selecting bool) int { return len(testenv.Goroutines(fn, selecting)) }

// waiting reports whether n requests wait for flights: each either flies
// one itself or, blocked in a select, waits for one another request flies.
func waiting(n int) func() bool {
	return func() bool {
		k := 0
		for _, g := range testenv.Goroutines(inMiss, false) {
			header, _, _ := strings.Cut(g, "\n")
			if strings.Contains(g, inFly) || strings.Contains(header, "[select") {
				k++
			}
		}
		return k >= n
	}
}
