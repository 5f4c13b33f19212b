package memcache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"
)

// Defaults for the zero values of Options.
const (
	DefaultTimeout           = 500 * time.Millisecond
	DefaultMaxConnsPerServer = 64
	DefaultItemSizeLimit     = 1 << 20
	DefaultFailureThreshold  = 2
	DefaultBackoff           = 5 * time.Second
	DefaultDeferAfter        = 3 * time.Second
	// DefaultPort is used for a server given without a port.
	DefaultPort = "11211"
)

// itemOverhead is room for the key (up to 250 bytes) and memcached's item
// header within a server's item size limit: with -I 1m memcached 1.6
// stores values up to 1048267 bytes under a 250-byte key.
const itemOverhead = 512

// Options configures New, which reads it once; only Servers is required.
// Options holds a password: its String method leaves it out, so printing
// Options is safe.
type Options struct {
	// Servers lists the memcached servers as host:port; a missing port
	// means 11211. Host names are resolved when a connection is opened.
	Servers []string
	// Username and Password, when Username is set, authenticate every
	// connection with SASL PLAIN over memcached's binary protocol, as
	// MemCachier requires. Without a username the servers are spoken to
	// unauthenticated through gomemcache.
	Username, Password string
	// Timeout bounds each request to a server: connecting, writing and
	// reading. With SASL an earlier deadline of the request's context wins
	// and cancelling the context ends the request; gomemcache has no
	// context, so unauthenticated requests only check it before they start.
	// Zero means DefaultTimeout.
	Timeout time.Duration
	// MaxConnsPerServer sizes the connection pools so that this many
	// requests can run against one server at once without opening and
	// closing connections. With SASL it is the most connections opened to
	// a server (further requests wait for one); unauthenticated, it is the
	// number of idle connections kept (gomemcache keeps 2 by default,
	// which churns connections under load). Zero means
	// DefaultMaxConnsPerServer.
	MaxConnsPerServer int
	// ItemSizeLimit is the servers' item size limit (memcached -I; 1 MiB on
	// MemCachier). Zero means DefaultItemSizeLimit. Values larger than
	// MaxItemSize, which leaves room for the key, are refused with
	// cache.ErrTooLarge without being sent.
	ItemSizeLimit int
	// FailureThreshold is how many failures in a row mark a server down.
	// Zero means DefaultFailureThreshold.
	FailureThreshold int
	// Backoff is how long a down server is skipped before one request
	// probes it again. Zero means DefaultBackoff.
	Backoff time.Duration
	// DeferAfter is how long a server must have been failing before
	// Delete stops returning its failures (for the caller to retry) and
	// records the deletes for it instead, to replay before the server is
	// used again; a server that refuses the credentials is deferred at
	// once. Set it to how long writers retry an invalidation (taskcache's
	// InvalidateTimeout). Zero means DefaultDeferAfter.
	DeferAfter time.Duration
	// Volatile returns the keys (as sent, prefix included) that writers
	// invalidate by deleting them; nil means none. A server this client
	// marked down gets them deleted before it is used again, with the
	// deletes this client itself could not deliver: another instance may
	// have deleted them while this one could not reach the server. It is
	// called each time a server comes back, so the keys may change (they
	// name the database the app reads).
	Volatile func() []string
	// DialContext, when set, opens connections (to add TLS, say); the
	// default is a net.Dialer.
	DialContext func(ctx context.Context, network, address string) (net.Conn, error)
	// Now is the clock for Backoff and for turning TTLs over 30 days into
	// absolute times; nil means time.Now.
	Now func() time.Time
	// Logger, when set, is told when a server is marked down and when it
	// is up again.
	Logger *slog.Logger
}

// String describes the options without the password.
func (o Options) String() string {
	s := "memcache.Options{Servers: [" + strings.Join(o.Servers, " ") + "]"
	if o.Username != "" {
		s += fmt.Sprintf(", Username: %q, Password: [redacted]", o.Username)
	}
	return s + "}"
}

// GoString is String, so that %#v does not print the password either.
func (o Options) GoString() string { return o.String() }

// withDefaults validates o and fills in its zero values.
func (o Options) withDefaults() (Options, error) {
	if len(o.Servers) == 0 {
		return o, errors.New("memcache: no servers")
	}
	if o.Username == "" && o.Password != "" {
		return o, errors.New("memcache: a password was given without a username")
	}
	servers := make([]string, len(o.Servers))
	seen := map[string]bool{}
	for i, s := range o.Servers {
		s = strings.TrimSpace(s)
		if _, _, err := net.SplitHostPort(s); err != nil {
			s = net.JoinHostPort(s, DefaultPort)
		}
		host, port, err := net.SplitHostPort(s)
		if err != nil || host == "" || port == "" {
			return o, fmt.Errorf("memcache: bad server address %q", o.Servers[i])
		}
		if seen[s] {
			return o, fmt.Errorf("memcache: server %s is listed twice", s)
		}
		seen[s] = true
		servers[i] = s
	}
	o.Servers = servers
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxConnsPerServer <= 0 {
		o.MaxConnsPerServer = DefaultMaxConnsPerServer
	}
	if o.ItemSizeLimit <= 0 {
		o.ItemSizeLimit = DefaultItemSizeLimit
	}
	if o.ItemSizeLimit <= itemOverhead {
		return o, fmt.Errorf("memcache: item size limit %d is too small", o.ItemSizeLimit)
	}
	if o.FailureThreshold <= 0 {
		o.FailureThreshold = DefaultFailureThreshold
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
	}
	if o.DeferAfter <= 0 {
		o.DeferAfter = DefaultDeferAfter
	}
	if o.DialContext == nil {
		o.DialContext = new(net.Dialer).DialContext
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Volatile == nil {
		o.Volatile = func() []string { return nil }
	}
	return o, nil
}
