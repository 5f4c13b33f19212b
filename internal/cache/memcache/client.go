package memcache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/stats"
)

// server is one memcached server as a wire client speaks to it: plainServer
// (gomemcache) or binaryServer (SASL). Its methods return cache errors:
// ErrMiss, ErrNotStored, ErrTooLarge and ErrInvalid as the server answered,
// and a *serverError for anything else. Implementations are safe for
// concurrent use.
type server interface {
	get(ctx context.Context, key string) (cache.Item, error)
	// getMulti costs one round trip and returns the items found.
	getMulti(ctx context.Context, keys []string) ([]cache.Item, error)
	store(ctx context.Context, mode storeMode, item cache.Item, exp uint32) error
	delete(ctx context.Context, key string) error
	// ping makes a round trip (and, with SASL, authenticates if the
	// connection is new).
	ping(ctx context.Context) error
	// stats returns what the server's "stats" command reports.
	stats(ctx context.Context) (map[string]string, error)
	close() error
}

// storeMode says which storage command a store is.
type storeMode int

const (
	storeSet storeMode = iota // unconditional
	storeAdd                  // only if absent
	storeCAS                  // only if unchanged since item.CAS was read
)

// Client is a cache.Backend over a cluster of memcached servers: keys are
// placed with a consistent hash ring, down servers are skipped, and each
// server has its own counters. Build one with New. All its methods are
// safe for concurrent use.
type Client struct {
	name     string
	addrs    []string
	servers  []server
	counters []stats.Counter // per server (see cache.Backend's Stats)
	ring     *ring
	health   *health
	now      func() time.Time
	maxValue int
	volatile func() []string // Options.Volatile, never nil
	noteKeys []string        // by server: the key of its note (see notes.go)
	closed   atomic.Bool
}

var _ cache.Backend = (*Client)(nil)

// New returns a client for opts.Servers: authenticated with SASL over the
// binary protocol when opts.Username is set ("memcache+sasl"), otherwise
// unauthenticated through gomemcache ("memcache"). It does not contact the
// servers; call Verify for that. The error reports only invalid options.
// New is safe for concurrent use.
func New(opts Options) (*Client, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Client{
		name:     "memcache",
		addrs:    opts.Servers,
		servers:  make([]server, len(opts.Servers)),
		counters: make([]stats.Counter, len(opts.Servers)),
		ring:     newRing(opts.Servers),
		health:   newHealth(opts.Servers, opts.FailureThreshold, opts.Backoff, opts.DeferAfter, opts.Now, opts.Logger),
		now:      opts.Now,
		maxValue: opts.ItemSizeLimit - itemOverhead,
		volatile: opts.Volatile,
		noteKeys: make([]string, len(opts.Servers)),
	}
	if opts.Username != "" {
		c.name = "memcache+sasl"
	}
	for i, addr := range opts.Servers {
		c.noteKeys[i] = "memcache:deferred:" + addr
		if opts.Username != "" {
			c.servers[i] = newBinaryServer(addr, opts)
		} else {
			c.servers[i] = newPlainServer(addr, opts)
		}
	}
	return c, nil
}

// Verify makes a round trip to every server, authenticating where SASL is
// used, for an application to call at start-up. An error that wraps ErrAuth
// means the credentials are wrong, and the application should not start.
// Any other error means servers are unreachable: worth reporting, but the
// client already treats them as down and uses them again once they answer,
// so the application can run uncached meanwhile. The error names every
// failing server. Verify is safe for concurrent use.
func (c *Client) Verify(ctx context.Context) error {
	return c.ping(ctx, func(int) bool { return true })
}

// Ping reports whether every server answers, for health checks: it makes a
// round trip to each server that is up, and probes a server marked down
// whose backoff has passed, which may bring it back. A server still in its
// backoff is reported down without being contacted, so a health check
// never waits on a dead server's timeout. The error names every server
// that is down. Ping counts nothing in Stats.
func (c *Client) Ping(ctx context.Context) error {
	return c.ping(ctx, c.usable(ctx))
}

// ping makes a round trip to every server that contact allows, and reports
// the others down.
func (c *Client) ping(ctx context.Context, contact func(i int) bool) error {
	if c.closed.Load() {
		return fmt.Errorf("memcache: client is closed: %w", cache.ErrUnavailable)
	}
	errs := make([]error, len(c.servers))
	c.eachServer(func(i int) {
		if !contact(i) {
			errs[i] = wrapAt(c.addrs[i], fmt.Errorf("marked down: %w", cache.ErrUnavailable))
			return
		}
		errs[i] = c.servers[i].ping(ctx)
		c.observe(ctx, i, errs[i])
	})
	return errors.Join(errs...)
}

// Name returns "memcache+sasl" for SASL servers, else "memcache".
func (c *Client) Name() string { return c.name }

// MaxItemSize returns the largest value stored: the servers' item size limit
// less room for the key and the item header.
func (c *Client) MaxItemSize() int { return c.maxValue }

// Close closes all connections. Requests afterwards fail with
// cache.ErrUnavailable.
func (c *Client) Close() error {
	c.closed.Store(true)
	errs := make([]error, len(c.servers))
	for i, s := range c.servers {
		errs[i] = s.close()
	}
	return errors.Join(errs...)
}

// Get returns the item stored under key, or cache.ErrMiss. A key of
// Options.Volatile is read as GetMulti reads it, with the notes on the
// other servers (see notes.go).
func (c *Client) Get(ctx context.Context, key string) (cache.Item, error) {
	if len(c.servers) > 1 && c.isVolatile(key) { // with one server, no other holds notes
		// Read with the notes for the key's server (see notes.go).
		items, err := c.GetMulti(ctx, []string{key})
		if it, ok := items[key]; ok {
			return it, nil
		}
		if err == nil {
			err = cache.ErrMiss
		}
		return cache.Item{}, err
	}
	i, err := c.route(ctx, key)
	if err != nil {
		return cache.Item{}, err
	}
	it, err := c.servers[i].get(ctx, key)
	c.done(ctx, i, err)
	switch {
	case err == nil:
		c.counters[i].Hits.Add(1)
	case errors.Is(err, cache.ErrMiss):
		c.counters[i].Misses.Add(1)
	}
	return it, err
}

// GetMulti returns the items found among keys, asking each server involved
// once, all at the same time. If some servers fail, it returns what the
// others found together with a *cache.PartialError that lists the keys of
// the failed servers and wraps their errors, which name them; a server's
// items are all left out if it failed part way. An invalid key fails the
// whole call with cache.ErrInvalid.
//
// Keys of Options.Volatile from a server for which another client has
// noted that it holds deletes (see notes.go), or whose notes could not be
// read (another server is marked down, or failed), are left out as a
// failed server's are: they may be what those deletes were meant to
// remove.
func (c *Client) GetMulti(ctx context.Context, keys []string) (map[string]cache.Item, error) {
	for _, key := range keys {
		if err := c.check(key); err != nil {
			return map[string]cache.Item{}, err
		}
	}
	groups := make([][]string, len(c.servers))
	for _, key := range keys {
		i, err := c.route(ctx, key)
		if err != nil { // all servers are down, or the client is closed
			return map[string]cache.Item{}, &cache.PartialError{Unanswered: keys, Err: err}
		}
		groups[i] = append(groups[i], key)
	}
	notes, guards := c.noteReads(groups)
	for i, n := range notes {
		groups[i] = append(groups[i], n...) // after the group's own keys: see below
	}
	results := make([][]cache.Item, len(c.servers))
	errs := make([]error, len(c.servers))
	fetch := func(i int) {
		results[i], errs[i] = c.servers[i].getMulti(ctx, groups[i])
		c.done(ctx, i, errs[i])
	}
	var wg sync.WaitGroup
	last := -1 // the last group runs on this goroutine
	for i, g := range groups {
		if len(g) == 0 {
			continue
		}
		if j := last; j >= 0 {
			wg.Go(func() { fetch(j) })
		}
		last = i
	}
	if last >= 0 {
		fetch(last)
	}
	wg.Wait()
	all := make(map[string]cache.Item, len(keys))
	for i, items := range results {
		for _, it := range items {
			if errs[i] == nil {
				all[it.Key] = it
			}
		}
	}
	found := make(map[string]cache.Item, len(keys))
	var unanswered []string
	why := c.distrust(guards, errs, all)
	for i, g := range groups {
		if notes != nil {
			g = g[:len(g)-len(notes[i])] // the group's own keys
		}
		if why != nil && why[i] != nil {
			errs[i] = notSent(c.addrs[i], why[i])
			for _, key := range g {
				if c.isVolatile(key) {
					unanswered = append(unanswered, key)
				} else if it, ok := all[key]; ok {
					found[key] = it
				}
			}
			continue
		}
		if errs[i] != nil { // a failed server's keys are neither hits nor misses
			unanswered = append(unanswered, g...)
			continue
		}
		hits := 0
		for _, key := range g {
			if it, ok := all[key]; ok {
				found[key] = it
				hits++
			}
		}
		c.counters[i].Hits.Add(uint64(hits))
		c.counters[i].Misses.Add(uint64(len(g) - hits))
	}
	if unanswered != nil {
		return found, &cache.PartialError{Unanswered: unanswered, Err: errors.Join(errs...)}
	}
	return found, nil
}

// Set stores item unconditionally.
func (c *Client) Set(ctx context.Context, item cache.Item) error {
	return c.store(ctx, storeSet, item)
}

// Add stores item only if its key is absent, else cache.ErrNotStored.
func (c *Client) Add(ctx context.Context, item cache.Item) error {
	return c.store(ctx, storeAdd, item)
}

// CompareAndSwap stores item only if it is unchanged since the read that
// returned item.CAS: else cache.ErrNotStored, or cache.ErrMiss if it is
// gone.
func (c *Client) CompareAndSwap(ctx context.Context, item cache.Item) error {
	return c.store(ctx, storeCAS, item)
}

func (c *Client) store(ctx context.Context, mode storeMode, item cache.Item) error {
	if len(item.Value) > c.maxValue {
		return fmt.Errorf("memcache: value of %d bytes exceeds %d: %w", len(item.Value), c.maxValue, cache.ErrTooLarge)
	}
	exp, err := c.expiration(item.TTL)
	if err != nil {
		return err
	}
	if mode == storeCAS && item.CAS == 0 { // no read returns 0
		return fmt.Errorf("memcache: CompareAndSwap without a CAS token: %w", cache.ErrNotStored)
	}
	i, err := c.route(ctx, item.Key)
	if err != nil {
		return err
	}
	err = c.servers[i].store(ctx, mode, item, exp)
	c.done(ctx, i, err)
	if err == nil {
		c.counters[i].Sets.Add(1)
	}
	return err
}

// Delete removes key from every server, not only the one it hashes to.
// While a server is marked down — by this process or by another sharing the
// cluster, each with its own view — its keys are read and written on a
// stand-in, so a copy may sit on any server; an invalidation that missed one
// would let some instance serve stale data.
//
// A server known down — failing for Options.DeferAfter already, or
// refusing the credentials — is not waited for: the key is recorded, and
// deleted there before this process uses the server again (the probe that
// brings it back replays it, with Options.Volatile), so the delete is as
// good as done for this process. docs/caching.md says what another
// instance may read from such a server meanwhile.
//
// Before deferring a delete for a server, the client stores a note saying
// so on the other servers (see notes.go), which every client reads along
// with the volatile keys; without another server to hold it, a server is
// known down only once it has failed for Options.DeferAfter.
//
// Deleting an absent key is not an error. Any other failure of a server
// that is not deferred, such as a first timeout or a refused connection
// (the server may be running, and reachable by other instances), is
// returned (matching cache.ErrUnavailable) so that the caller can retry.
//
// A key removed from any server counts as one delete, on the first server
// that held it (see cache.Backend's Stats); an absent key counts none.
func (c *Client) Delete(ctx context.Context, key string) error {
	if err := c.check(key); err != nil {
		return err
	}
	errs := make([]error, len(c.servers))
	removed := make([]bool, len(c.servers))
	c.eachServer(func(i int) {
		if c.deferDelete(ctx, i, key, false) {
			return
		}
		err := c.servers[i].delete(ctx, key)
		if retryable(err) { // an idle connection the server closed: try a new one
			err = c.servers[i].delete(ctx, key)
		}
		c.done(ctx, i, err)
		switch {
		case err == nil:
			removed[i] = true
		case errors.Is(err, cache.ErrMiss):
		default:
			if errors.Is(err, cache.ErrRejected) {
				c.health.markDown(i, err) // retrying cannot help
			}
			if !c.deferDelete(ctx, i, key, true) { // not down (yet), or too much waiting
				errs[i] = err
			}
		}
	})
	if i := slices.Index(removed, true); i >= 0 {
		c.counters[i].Deletes.Add(1)
	}
	return errors.Join(errs...)
}

// route checks key and returns the server for it.
func (c *Client) route(ctx context.Context, key string) (int, error) {
	if err := c.check(key); err != nil {
		return 0, err
	}
	i := c.ring.pick(hashKey(key), c.usable(ctx))
	if i < 0 {
		return 0, fmt.Errorf("memcache: all %d servers are down: %w", len(c.servers), cache.ErrUnavailable)
	}
	return i, nil
}

// usable reports whether a request may go to server i: it is up, or it is
// down and this request's probe brought it back (see health.probe), after
// deleting there what it missed: the keys deleted while it was down, and
// Options.Volatile, which other instances may have deleted meanwhile.
func (c *Client) usable(ctx context.Context) func(i int) bool {
	return func(i int) bool {
		if c.health.up(i) {
			return true
		}
		return c.health.probe(i, c.volatile, func(keys []string) error { return c.replay(ctx, i, keys) })
	}
}

// replayInterval is how often a background replay tries to bring back a
// server with deferred deletes.
const replayInterval = 100 * time.Millisecond

// deferDelete records key for deletion on server i if it is marked down
// (see health.deferDelete), storing the note for i first when it is due,
// and reports whether it did; the first such key starts a background
// replay, so that the server gets the deletes as soon as it answers again,
// not only when a request of this process probes it.
func (c *Client) deferDelete(ctx context.Context, i int, key string, tried bool) bool {
	if c.health.needsNote(i, false) {
		c.note(ctx, i)
	}
	deferred, start := c.health.deferDelete(i, key, tried)
	if start {
		go c.keepReplaying(i)
	}
	return deferred
}

// keepReplaying tries every replayInterval to bring server i back by
// replaying its deferred deletes, until it is up or the client is closed,
// and renews the note for i (see notes.go) while deletes wait.
func (c *Client) keepReplaying(i int) {
	defer c.health.replayDone(i)
	ticker := time.NewTicker(replayInterval)
	defer ticker.Stop()
	for range ticker.C {
		if c.closed.Load() {
			return
		}
		if c.health.needsNote(i, true) {
			c.note(context.Background(), i) // each store is bounded by Options.Timeout
		}
		// Each delete is bounded by Options.Timeout.
		up := c.health.bringBack(i, c.volatile(), func(keys []string) error { return c.replay(context.Background(), i, keys) })
		if up {
			return
		}
	}
}

// replay deletes keys on server i; absent keys are fine. With no keys it
// pings the server, so that bringing a server back always takes an answer
// from it (see health.bringBack).
func (c *Client) replay(ctx context.Context, i int, keys []string) error {
	if len(keys) == 0 {
		return c.servers[i].ping(ctx)
	}
	for _, key := range keys {
		err := c.servers[i].delete(ctx, key)
		if err != nil && !errors.Is(err, cache.ErrMiss) {
			return err
		}
	}
	return nil
}

// retryable reports a failure worth one more try on a new connection: a
// broken connection, not a timeout (the server may be hung) or a refusal.
func retryable(err error) bool {
	var se *serverError
	var ne net.Error
	return errors.As(err, &se) && se.outcome == failed &&
		!errors.Is(err, syscall.ECONNREFUSED) && !(errors.As(err, &ne) && ne.Timeout())
}

// check refuses a key memcached cannot take, and any request once the
// client is closed.
func (c *Client) check(key string) error {
	if !cache.ValidKey(key) {
		// Keys stay out of errors: they may be session IDs.
		return fmt.Errorf("memcache: key of %d bytes is empty, too long or has unsafe bytes: %w", len(key), cache.ErrInvalid)
	}
	if c.closed.Load() {
		return fmt.Errorf("memcache: client is closed: %w", cache.ErrUnavailable)
	}
	return nil
}

// done records the outcome of a request for a key to server i in its
// health and error counter.
func (c *Client) done(ctx context.Context, i int, err error) {
	if err != nil && !errors.Is(err, cache.ErrMiss) && !errors.Is(err, cache.ErrNotStored) {
		c.counters[i].Errors.Add(1)
	}
	c.observe(ctx, i, err)
}

// observe records the outcome of a request to server i in its health. A
// request the caller cancelled says nothing about the server.
func (c *Client) observe(ctx context.Context, i int, err error) {
	if err == nil || errors.Is(err, cache.ErrMiss) || errors.Is(err, cache.ErrNotStored) {
		c.health.success(i)
		return
	}
	var se *serverError
	switch {
	case !errors.As(err, &se) || se.outcome == answered:
		c.health.success(i)
	case se.outcome == failed && !errors.Is(ctx.Err(), context.Canceled):
		c.health.failure(i, err)
	}
}

// expiration converts a TTL to memcached's exptime (see package cache): 0
// is forever, a positive TTL is rounded up to whole seconds, and one over
// 30 days becomes an absolute Unix time.
func (c *Client) expiration(ttl time.Duration) (uint32, error) {
	if ttl < 0 {
		return 0, fmt.Errorf("memcache: negative TTL %v: %w", ttl, cache.ErrInvalid)
	}
	secs := int64(ttl / time.Second)
	if ttl%time.Second != 0 {
		secs++
	}
	if secs <= int64(cache.MaxTTL/time.Second) {
		return uint32(secs), nil
	}
	// gomemcache sends exptime as an int32; both wires stop there (2038).
	return uint32(min(c.now().Unix()+secs, math.MaxInt32)), nil
}

// eachServer calls f for every server index at the same time and waits.
func (c *Client) eachServer(f func(i int)) {
	var wg sync.WaitGroup
	for i := range c.servers {
		wg.Go(func() { f(i) })
	}
	wg.Wait()
}
