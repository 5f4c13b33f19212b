package memcache

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
)

// pipelineInline is how many bytes of multi-get requests are written
// before the responses are read. Beyond it the requests are written while
// the responses are read: memcached stops reading requests while it cannot
// write responses, so writing everything first could leave both sides
// waiting on full socket buffers.
const pipelineInline = 16 << 10

// binaryServer speaks memcached's binary protocol to one server over a
// pool of connections, each authenticated with SASL when it is opened. It
// is safe for concurrent use.
type binaryServer struct {
	addr    string
	user    string
	timeout time.Duration
	pool    *pool
}

func newBinaryServer(addr string, opts Options) *binaryServer {
	s := &binaryServer{addr: addr, user: opts.Username, timeout: opts.Timeout}
	s.pool = newPool(opts.MaxConnsPerServer, func(ctx context.Context, deadline time.Time) (*conn, error) {
		ctx, cancel := context.WithDeadline(ctx, deadline)
		defer cancel()
		nc, err := opts.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		nc.SetDeadline(deadline)
		c := newConn(nc)
		if err := authenticate(c, opts.Username, opts.Password); err != nil {
			nc.Close()
			return nil, err
		}
		return c, nil
	})
	return s
}

// do runs fn on a pooled connection within the request's deadline: the
// earlier of ctx's and now plus the timeout. Cancelling ctx interrupts fn.
// fn returns a status for an error the server answered with, which leaves
// the connection in step; any other error closes the connection.
func (s *binaryServer) do(ctx context.Context, fn func(c *conn) error) error {
	deadline := time.Now().Add(s.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c, err := s.pool.get(ctx, deadline)
	var busy *poolBusyError
	switch {
	case err == nil:
	case errors.As(err, &busy), errors.Is(err, errPoolClosed), err == ctx.Err():
		return notSent(s.addr, err)
	default: // dialling or authenticating failed
		return unavailable(s.addr, err)
	}
	c.nc.SetDeadline(deadline)
	stop := func() bool { return true }
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })
	}
	err = fn(c)
	inStep := stop() // false: ctx cut the deadline short, maybe mid-message
	st, replied := err.(status)
	s.pool.put(c, inStep && (err == nil || replied))
	switch {
	case err == nil:
		return nil
	case replied:
		return s.statusError(st)
	case !inStep && ctx.Err() != nil:
		err = ctx.Err()
	}
	s.pool.drain() // the idle connections likely failed the same way
	return unavailable(s.addr, err)
}

// statusError is the cache error for a status the server answered with.
func (s *binaryServer) statusError(st status) error {
	switch st {
	case statusNotFound:
		return cache.ErrMiss
	case statusExists, statusNotStored:
		return cache.ErrNotStored
	case statusTooLarge:
		return wrapAt(s.addr, errors.Join(st, cache.ErrTooLarge))
	case statusInvalid:
		return wrapAt(s.addr, errors.Join(st, cache.ErrInvalid))
	case statusAuthError: // credentials revoked since the connection opened
		return unavailable(s.addr, &authError{user: s.user})
	default:
		return serverFault(s.addr, st)
	}
}

// errMalformed reports a response that does not fit its request.
var errMalformed = errors.New("malformed response")

func (s *binaryServer) get(ctx context.Context, key string) (cache.Item, error) {
	var it cache.Item
	err := s.do(ctx, func(c *conn) error {
		res, err := c.roundTrip(&request{op: opGet, key: key})
		switch {
		case err != nil:
			return err
		case res.status != statusOK:
			return res.status
		case len(res.extras) != 4: // flags
			return errMalformed
		}
		it = cache.Item{Key: key, Value: res.value, CAS: res.cas}
		return nil
	})
	return it, err
}

// getMulti sends a quiet get (getkq) for each key and a noop after them.
// The server answers only the keys it has, then the noop, which marks the
// end: one round trip for any number of keys.
func (s *binaryServer) getMulti(ctx context.Context, keys []string) ([]cache.Item, error) {
	var items []cache.Item
	err := s.do(ctx, func(c *conn) error {
		write := func() error {
			for i, key := range keys {
				if err := c.send(&request{op: opGetKQ, key: key, opaque: uint32(i)}); err != nil {
					return err
				}
			}
			if err := c.send(&request{op: opNoop, opaque: uint32(len(keys))}); err != nil {
				return err
			}
			return c.flush()
		}
		var written chan error
		if requestsLen(keys) > pipelineInline {
			written = make(chan error, 1)
			go func() { written <- write() }()
		} else if err := write(); err != nil {
			return err
		}
		refused := statusOK
		for {
			res, err := c.receive()
			switch {
			case err != nil:
				return err // the connection is closed, which ends write
			case res.op == opNoop:
				if written != nil {
					if err := <-written; err != nil {
						return err
					}
				}
				if refused != statusOK {
					return refused
				}
				return nil
			case res.op != opGetKQ || res.opaque >= uint32(len(keys)):
				return errMalformed
			case res.status != statusOK:
				refused = res.status
			default:
				items = append(items, cache.Item{Key: keys[res.opaque], Value: res.value, CAS: res.cas})
			}
		}
	})
	return items, err
}

// requestsLen is the size of the getkq requests for keys.
func requestsLen(keys []string) int {
	n := 0
	for _, k := range keys {
		n += headerLen + len(k)
	}
	return n
}

func (s *binaryServer) store(ctx context.Context, mode storeMode, item cache.Item, exp uint32) error {
	req := request{key: item.Key, value: item.Value, extrasLen: 8}
	// extras: flags (always 0), exptime
	binary.BigEndian.PutUint32(req.extras[4:], exp)
	switch mode {
	case storeSet:
		req.op = opSet
	case storeAdd:
		req.op = opAdd
	case storeCAS:
		// replace fails with "not found" on a gone item, which set with a
		// CAS token would store.
		req.op, req.cas = opReplace, item.CAS
	}
	return s.do(ctx, func(c *conn) error {
		res, err := c.roundTrip(&req)
		if err != nil {
			return err
		}
		return okOrStatus(res)
	})
}

func (s *binaryServer) delete(ctx context.Context, key string) error {
	return s.do(ctx, func(c *conn) error {
		res, err := c.roundTrip(&request{op: opDelete, key: key})
		if err != nil {
			return err
		}
		return okOrStatus(res)
	})
}

func (s *binaryServer) ping(ctx context.Context) error {
	return s.do(ctx, func(c *conn) error {
		res, err := c.roundTrip(&request{op: opNoop})
		if err != nil {
			return err
		}
		return okOrStatus(res)
	})
}

// stats runs the stat command, which answers with one response per
// statistic and an empty one at the end.
func (s *binaryServer) stats(ctx context.Context) (map[string]string, error) {
	m := map[string]string{}
	err := s.do(ctx, func(c *conn) error {
		if err := c.send(&request{op: opStat}); err != nil {
			return err
		}
		if err := c.flush(); err != nil {
			return err
		}
		for {
			res, err := c.receive()
			switch {
			case err != nil:
				return err
			case res.op != opStat:
				return errMalformed
			case res.status != statusOK:
				return res.status
			case len(res.key) == 0:
				return nil
			}
			m[string(res.key)] = string(res.value)
		}
	})
	return m, err
}

func (s *binaryServer) close() error {
	s.pool.close()
	return nil
}

// okOrStatus is nil for a successful response, else its status.
func okOrStatus(res response) error {
	if res.status != statusOK {
		return res.status
	}
	return nil
}
