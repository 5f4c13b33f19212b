package memcache

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	gomemcache "github.com/bradfitz/gomemcache/memcache"

	"github.com/tasklist/tasklist/internal/cache"
)

// plainServer speaks to one unauthenticated server through gomemcache. Our
// ring chooses the server, so each gomemcache client has exactly one: that
// way every error is known to be that server's, which the health tracking
// needs. It is safe for concurrent use.
type plainServer struct {
	addr    string
	timeout time.Duration
	dial    func(ctx context.Context, network, address string) (net.Conn, error)
	mc      *gomemcache.Client
}

func newPlainServer(addr string, opts Options) *plainServer {
	mc := gomemcache.NewFromSelector(oneServer{tcpAddr(addr)})
	mc.Timeout = opts.Timeout
	mc.MaxIdleConns = opts.MaxConnsPerServer
	mc.DialContext = opts.DialContext
	return &plainServer{addr: addr, timeout: opts.Timeout, dial: opts.DialContext, mc: mc}
}

func (s *plainServer) get(ctx context.Context, key string) (cache.Item, error) {
	if err := ctx.Err(); err != nil {
		return cache.Item{}, notSent(s.addr, err)
	}
	it, err := s.mc.Get(key)
	if err != nil {
		return cache.Item{}, s.mapError(err)
	}
	return fromGomemcache(it), nil
}

func (s *plainServer) getMulti(ctx context.Context, keys []string) ([]cache.Item, error) {
	if err := ctx.Err(); err != nil {
		return nil, notSent(s.addr, err)
	}
	m, err := s.mc.GetMulti(keys) // one "gets" for all keys: one server
	items := make([]cache.Item, 0, len(m))
	for _, it := range m {
		items = append(items, fromGomemcache(it))
	}
	return items, s.mapError(err)
}

func (s *plainServer) store(ctx context.Context, mode storeMode, item cache.Item, exp uint32) error {
	if err := ctx.Err(); err != nil {
		return notSent(s.addr, err)
	}
	it := &gomemcache.Item{Key: item.Key, Value: item.Value, Expiration: int32(exp), CasID: item.CAS}
	var err error
	switch mode {
	case storeSet:
		err = s.mc.Set(it)
	case storeAdd:
		err = s.mc.Add(it)
	case storeCAS:
		err = s.mc.CompareAndSwap(it)
	}
	return s.mapError(err)
}

func (s *plainServer) delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return notSent(s.addr, err)
	}
	return s.mapError(s.mc.Delete(key))
}

func (s *plainServer) ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return notSent(s.addr, err)
	}
	return s.mapError(s.mc.Ping())
}

func (s *plainServer) close() error { return s.mc.Close() }

// stats runs the text protocol's "stats" on a connection of its own, as
// gomemcache has no such call.
func (s *plainServer) stats(ctx context.Context) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	nc, err := s.dial(ctx, "tcp", s.addr)
	if err != nil {
		return nil, unavailable(s.addr, err)
	}
	defer nc.Close()
	deadline, _ := ctx.Deadline()
	nc.SetDeadline(deadline)
	if _, err := io.WriteString(nc, "stats\r\n"); err != nil {
		return nil, unavailable(s.addr, err)
	}
	m := map[string]string{}
	r := bufio.NewReader(nc)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, unavailable(s.addr, err)
		}
		line = strings.TrimSuffix(line, "\r\n")
		if line == "END" {
			return m, nil
		}
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "STAT" {
			return nil, serverFault(s.addr, fmt.Errorf("unexpected stats line %q", line))
		}
		m[f[1]] = f[2]
	}
}

// mapError turns a gomemcache error into a cache error. gomemcache reports
// server replies it has no error for, such as SERVER_ERROR and
// CLIENT_ERROR, only as text.
func (s *plainServer) mapError(err error) error {
	var timeout *gomemcache.ConnectTimeoutError
	var netErr net.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gomemcache.ErrCacheMiss):
		return cache.ErrMiss
	case errors.Is(err, gomemcache.ErrNotStored), errors.Is(err, gomemcache.ErrCASConflict):
		return cache.ErrNotStored
	case errors.Is(err, gomemcache.ErrMalformedKey):
		return wrapAt(s.addr, cache.ErrInvalid)
	case strings.Contains(err.Error(), "object too large"):
		return wrapAt(s.addr, cache.ErrTooLarge)
	case errors.As(err, &timeout), errors.As(err, &netErr),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		// The idle connections are likely broken the same way (the server
		// restarted, say): drop them rather than fail on each in turn.
		s.mc.Close()
		return unavailable(s.addr, err)
	default:
		return serverFault(s.addr, err)
	}
}

func fromGomemcache(it *gomemcache.Item) cache.Item {
	return cache.Item{Key: it.Key, Value: it.Value, CAS: it.CasID}
}

// oneServer is a gomemcache.ServerSelector for a single server.
type oneServer struct{ addr net.Addr }

func (s oneServer) PickServer(string) (net.Addr, error) { return s.addr, nil }
func (s oneServer) Each(f func(net.Addr) error) error   { return f(s.addr) }

// tcpAddr is a host:port that is resolved each time it is dialled, unlike
// gomemcache.ServerList, which resolves its servers once.
type tcpAddr string

func (a tcpAddr) Network() string { return "tcp" }
func (a tcpAddr) String() string  { return string(a) }
