package memcache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// pool is a bounded set of binary protocol connections to one server. At
// most cap(slots) connections exist at once, lent to one request each;
// returned ones wait in idle for the next request, so a busy application
// keeps its connections open (and authenticated) instead of churning them.
// It is safe for concurrent use.
type pool struct {
	// open dials and prepares (authenticates) a new connection, giving up
	// at deadline.
	open  func(ctx context.Context, deadline time.Time) (*conn, error)
	slots chan struct{} // one token per connection in use or idle

	mu     sync.Mutex
	idle   []*conn // most recently used last
	closed bool
}

func newPool(size int, open func(ctx context.Context, deadline time.Time) (*conn, error)) *pool {
	return &pool{open: open, slots: make(chan struct{}, size)}
}

// errPoolClosed reports a request after close.
var errPoolClosed = errors.New("client is closed")

// get lends a connection: an idle one, or a new one if fewer than the
// maximum exist, or else the first one returned before deadline.
func (p *pool) get(ctx context.Context, deadline time.Time) (*conn, error) {
	select {
	case p.slots <- struct{}{}:
	default:
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
			return nil, &poolBusyError{size: cap(p.slots)}
		}
	}
	p.mu.Lock()
	closed := p.closed
	var c *conn
	if n := len(p.idle); n > 0 && !closed {
		c = p.idle[n-1]
		p.idle = p.idle[:n-1]
	}
	p.mu.Unlock()
	if closed {
		<-p.slots
		return nil, errPoolClosed
	}
	if c != nil {
		return c, nil
	}
	c, err := p.open(ctx, deadline)
	if err != nil {
		<-p.slots
		return nil, err
	}
	return c, nil
}

// put takes back a lent connection: into idle if reuse is set, the
// connection in step with the server and the pool open; else it is closed.
func (p *pool) put(c *conn, reuse bool) {
	p.mu.Lock()
	if reuse && !p.closed {
		p.idle = append(p.idle, c)
		c = nil
	}
	p.mu.Unlock()
	if c != nil {
		c.nc.Close()
	}
	<-p.slots
}

// drain closes the idle connections, after a failure that they likely
// share (the server restarted, say).
func (p *pool) drain() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		c.nc.Close()
	}
}

// close closes the idle connections, and the lent ones as they come back.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.drain()
}

// poolBusyError reports that all of a server's connections stayed in use
// until the request's deadline.
type poolBusyError struct{ size int }

func (e *poolBusyError) Error() string {
	return fmt.Sprintf("all %d connections stayed busy until the deadline", e.size)
}
