package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tasklist/tasklist/internal/sqldb"
)

// Var is one environment variable of the configuration: its name, its
// default and what it means, as `tasklist help` and docs/configuration.md show them,
// and how Load reads it.
type Var struct {
	// Name is the variable's name, e.g. "PORT".
	Name string
	// Default is the value Load uses when the variable is unset or blank;
	// "" means none (the Config field keeps its zero value).
	Default string
	// Meaning says what the variable does: one line of Markdown, code in
	// backquotes.
	Meaning string
	// Secret keeps the value out of error messages.
	Secret bool
	// parse reads value (Default when unset) into l; its error says what
	// is wrong with the value, which Load quotes unless Secret.
	parse func(l *loader, value string) error
}

// Vars returns every variable Load reads, in the order help and docs/configuration.md
// list them. The slice is a copy; Vars is safe for concurrent use.
func Vars() []Var { return append([]Var(nil), vars...) }

// vars is the one definition of the configuration's variables; see the
// package comment for how to add one.
var vars = []Var{
	{Name: "PORT", Default: "8000", Meaning: "port to listen on (all interfaces)",
		parse: func(l *loader, v string) (err error) {
			l.port, err = wholeNumber(v, 0, 65535)
			return err
		}},
	{Name: "TASKLIST_ADDR", Meaning: "full listen address, e.g. `127.0.0.1:8080`; overrides `PORT` (unset: `:$PORT`)",
		parse: func(l *loader, v string) error {
			if _, _, err := net.SplitHostPort(v); err != nil {
				return errors.New("not host:port")
			}
			l.c.Addr = v
			return nil
		}},
	{Name: "TASKLIST_ALLOWED_HOSTS",
		Meaning: "comma-separated host names the app answers for, like Django's `ALLOWED_HOSTS`: `*` allows any, `.example.com` allows the domain and its subdomains; matched without case or port. A request for another host gets `400` (this stops DNS rebinding), except `/healthz`, which answers any. Set it to the app's public name when deployed (unset: `localhost,127.0.0.1,[::1]` and the host of `TASKLIST_ADDR` if it names one)",
		parse: func(l *loader, v string) (err error) {
			l.c.AllowedHosts, err = allowedHosts(v)
			return err
		}},
	{Name: "DATABASE_URL", Default: sqldb.DefaultURL, Secret: true,
		Meaning: "`sqlite:PATH` (or `sqlite:///abs/path`, or a bare file path), `mysql://user:pass@host:port/db` (MariaDB too), `postgres://user:pass@host:port/db?sslmode=disable`",
		parse: func(l *loader, v string) error {
			l.c.DatabaseURL = v
			return nil
		}},
	{Name: "TASKLIST_DB_TIMEOUT", Default: "5s",
		Meaning: "longest wait for one database call or write transaction; a read past it is a `503` page, a write whose COMMIT got no answer a `503` saying the change may or may not have been saved",
		parse: func(l *loader, v string) (err error) {
			l.c.DBTimeout, err = duration(v, true)
			return err
		}},
	{Name: "TASKLIST_DB_MAX_CONNS", Default: "32",
		Meaning: "the most database connections one instance opens (1–1000; half are kept idle); several instances together must stay under the server's `max_connections` (PostgreSQL: 100 by default)",
		parse: func(l *loader, v string) (err error) {
			l.c.DBMaxConns, err = wholeNumber(v, 1, 1000)
			return err
		}},
	{Name: "TASKLIST_SLOW_QUERY", Default: "0",
		Meaning: "a Go duration added to every task-list query, like the tutorial's `time.sleep(2)`, to make caching visible",
		parse: func(l *loader, v string) (err error) {
			l.c.SlowQuery, err = duration(v, false)
			return err
		}},
	{Name: "MEMCACHIER_SERVERS",
		Meaning: "comma-separated `host:port` list of a memcached cluster with SASL authentication (MemCachier)",
		parse: func(l *loader, v string) (err error) {
			l.saslServers, err = servers(v)
			return err
		}},
	{Name: "MEMCACHIER_USERNAME", Meaning: "its SASL PLAIN user; required with `MEMCACHIER_SERVERS`, ignored (with a warning) without",
		parse: func(l *loader, v string) error {
			l.c.CacheUsername = v
			return nil
		}},
	{Name: "MEMCACHIER_PASSWORD", Secret: true, Meaning: "that user's password; required with `MEMCACHIER_SERVERS`; never logged",
		parse: func(l *loader, v string) error {
			l.c.CachePassword = v
			return nil
		}},
	{Name: "MEMCACHE_SERVERS",
		Meaning: "comma-separated `host:port` list of a memcached cluster without authentication (used when `MEMCACHIER_SERVERS` is unset)",
		parse: func(l *loader, v string) (err error) {
			l.plainServers, err = servers(v)
			return err
		}},
	{Name: "TASKLIST_LOCAL_CACHE_MB", Default: "64", Meaning: "size bound of the in-process cache used when no memcached is configured; the Go heap's soft limit is 40 MiB plus this (40 MiB with memcached or no cache) unless `GOMEMLIMIT` is set, so that a full cache does not let the heap grow to twice its size",
		parse: func(l *loader, v string) error {
			mb, err := wholeNumber(v, 1, 1<<20)
			l.c.LocalCacheBytes = int64(mb) << 20
			return err
		}},
	{Name: "TASKLIST_CACHE_PREFIX", Default: "tasklist:", Meaning: "prefix of every cache key, so apps can share a cluster",
		parse: func(l *loader, v string) error {
			if strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r > '~' }) {
				return errors.New("may hold only printable ASCII without spaces")
			}
			l.c.CachePrefix = v
			return nil
		}},
	{Name: "TASKLIST_CACHE_TIMEOUT", Default: "100ms", Meaning: "longest wait for one cache operation; slower is a miss",
		parse: func(l *loader, v string) (err error) {
			l.c.CacheTimeout, err = duration(v, true)
			return err
		}},
	{Name: "TASKLIST_INVALIDATION", Default: "version",
		Meaning: "how writes keep the cached task list fresh: `expire`, `delete`, `version` or `update` (see docs/application.md)",
		parse: func(l *loader, v string) error {
			l.c.Invalidation = strings.ToLower(v)
			return nil
		}},
	{Name: "TASKLIST_CACHE_TTL", Default: "5s",
		Meaning: "how often each instance checks the cache against the database (one small query), so that a change made in SQL by hand, a restored dump or a lost invalidation is shown within it; under `expire`, also how long the list's version read from the database is trusted, counted from the start of that read: the staleness bound",
		parse: func(l *loader, v string) (err error) {
			l.c.CacheTTL, err = duration(v, true)
			return err
		}},
	{Name: "TASKLIST_CACHE_MAX_AGE", Default: "1h",
		Meaning: "how long cached lists, pages and fragments live, so that old versions' entries age out (a lost invalidation is mended by the check every `TASKLIST_CACHE_TTL`)",
		parse: func(l *loader, v string) (err error) {
			l.c.CacheMaxAge, err = duration(v, true)
			return err
		}},
	{Name: "TASKLIST_CACHE_LAYERS", Default: "query,fragment,page",
		Meaning: "which caching layers are on: a comma list of `query` (the task list), `fragment` (rendered rows and lists), `page` (whole pages); `none` turns caching off entirely (no cache is opened)",
		parse: func(l *loader, v string) (err error) {
			l.c.Layers, err = layers(v)
			return err
		}},
	{Name: "TASKLIST_PAGE_SIZE", Default: "100", Meaning: "the most tasks one page shows (1–1000); further tasks are on the next pages",
		parse: func(l *loader, v string) (err error) {
			l.c.PageSize, err = wholeNumber(v, 1, 1000)
			return err
		}},
	{Name: "TASKLIST_MAX_TASKS", Default: "10000", Meaning: "the most tasks the list holds; an add beyond it is refused with `409`",
		parse: func(l *loader, v string) (err error) {
			l.c.MaxTasks, err = wholeNumber(v, 1, 10_000_000)
			return err
		}},
	{Name: "TASKLIST_LOG_LEVEL", Default: "info", Meaning: "`debug`, `info`, `warn` or `error`",
		parse: func(l *loader, v string) error {
			if err := l.c.LogLevel.UnmarshalText([]byte(v)); err != nil {
				l.c.LogLevel = slog.LevelInfo
				return errors.New("must be debug, info, warn or error")
			}
			return nil
		}},
	{Name: "TASKLIST_LOG_FORMAT", Default: "text", Meaning: "`text` or `json` (structured `log/slog` lines, one per request)",
		parse: func(l *loader, v string) (err error) {
			l.c.LogFormat, err = oneOf(v, "text", "json")
			return err
		}},
	{Name: "TASKLIST_STATS_USER", Default: "admin",
		Meaning: "the user that `/stats`, `/stats.json` and `/metrics` ask for (HTTP basic auth) when `TASKLIST_STATS_PASSWORD` is set",
		parse: func(l *loader, v string) error {
			l.c.StatsUser = v
			return nil
		}},
	{Name: "TASKLIST_STATS_PASSWORD", Secret: true,
		Meaning: "that user's password; unset, the statistics routes answer requests from loopback addresses only (`403` to others); never logged",
		parse: func(l *loader, v string) error {
			l.c.StatsPassword = v
			return nil
		}},
	{Name: "TASKLIST_MAX_CONNS", Default: "2048",
		Meaning: "the most client connections one instance keeps open (1–1000000); at the limit it closes its longest-idle keep-alive connection to take a new one, and with none idle the new one waits in the listen queue. Each costs some 50 KB while a request is on it, so this bounds the memory that many clients (or clients that never read) can take",
		parse: func(l *loader, v string) (err error) {
			l.c.MaxConns, err = wholeNumber(v, 1, 1_000_000)
			return err
		}},
	{Name: "TASKLIST_MAX_REQUESTS", Default: "64",
		Meaning: "the most requests one instance works on at once (1–100000); others wait their turn in the order they came, so that a visitor waits behind the requests already queued, not behind everything every connection has sent. A request's turn ends when its answer starts going out: a client that does not read holds none, and is cut off by the server's write timeout (30 s plus `TASKLIST_SLOW_QUERY`)",
		parse: func(l *loader, v string) (err error) {
			l.c.MaxRequests, err = wholeNumber(v, 1, 100_000)
			return err
		}},
	{Name: "TASKLIST_SHUTDOWN_TIMEOUT", Default: "15s", Meaning: "on SIGTERM/SIGINT, how long in-flight requests get to finish",
		parse: func(l *loader, v string) (err error) {
			l.c.ShutdownTimeout, err = duration(v, false)
			return err
		}},
	{Name: "TASKLIST_SHUTDOWN_DRAIN", Default: "0s",
		Meaning: "on SIGTERM/SIGINT, how long to keep serving first, with every connection closed after its answer and `/healthz` answering 503, so that a proxy in front (nginx) stops using its keep-alive connections to this instance before it closes them; set it above the proxy's idle keep-alive timeout (deploy/ sets 5s, and nginx 1s)",
		parse: func(l *loader, v string) (err error) {
			l.c.ShutdownDrain, err = duration(v, false)
			return err
		}},
	{Name: "TASKLIST_SESSION_ENGINE", Default: "cached_db",
		Meaning: "where visitors' sessions (flash messages, undo) are kept: `cache` (in the cache only: lost when it is), `db` (the database), `cached_db` (the database, with copies in the cache)",
		parse: func(l *loader, v string) error {
			l.c.SessionEngine = strings.ToLower(v)
			return nil
		}},
	{Name: "TASKLIST_SESSION_IDLE", Default: "30m", Meaning: "a session unused for this long ends",
		parse: func(l *loader, v string) (err error) {
			l.c.SessionIdle, err = duration(v, true)
			return err
		}},
	{Name: "TASKLIST_SESSION_LIFETIME", Default: "24h", Meaning: "a session ends this long after it began, used or not",
		parse: func(l *loader, v string) (err error) {
			l.c.SessionLifetime, err = duration(v, true)
			return err
		}},
	{Name: "TASKLIST_SECURE_COOKIES", Default: "0",
		Meaning: "`1` marks the session cookie `Secure` (sent over HTTPS only): set it when a TLS proxy serves the app (tasklist itself speaks plain HTTP)",
		parse: func(l *loader, v string) (err error) {
			l.c.SecureCookies, err = strconv.ParseBool(v)
			if err != nil {
				err = errors.New("must be 0 or 1")
			}
			return err
		}},
	{Name: "TASKLIST_PPROF_ADDR",
		Meaning: "a loopback `host:port` (e.g. `127.0.0.1:6060`) on which a separate listener serves Go's profiler, `net/http/pprof`, under `/debug/pprof/`; unset, there is none. Loopback only: profiles show the program's internals",
		parse: func(l *loader, v string) error {
			host, _, err := net.SplitHostPort(v)
			if err != nil {
				return errors.New("not host:port")
			}
			if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return errors.New("must be a loopback address such as 127.0.0.1:6060")
			}
			l.c.PprofAddr = v
			return nil
		}},
}

// loader is Load's work in progress: the Config, values that more than one
// variable decides, and the problems found.
type loader struct {
	c                         Config
	port                      int
	saslServers, plainServers []string
	errs                      []error
}

func (l *loader) fail(format string, args ...any) {
	l.errs = append(l.errs, fmt.Errorf("config: "+format, args...))
}

func (l *loader) warn(format string, args ...any) {
	l.c.Warnings = append(l.c.Warnings, fmt.Sprintf(format, args...))
}

// duration parses a Go duration, not negative; positive also refuses 0.
func duration(v string, positive bool) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	switch {
	case err != nil || d < 0:
		return 0, errors.New("not a duration such as 250ms or 2s")
	case positive && d == 0:
		return 0, errors.New("must be positive")
	}
	return d, nil
}

// wholeNumber parses a whole number from lo to hi.
func wholeNumber(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("not a whole number from %d to %d", lo, hi)
	}
	return n, nil
}

// oneOf returns v in lower case if it is one of allowed.
func oneOf(v string, allowed ...string) (string, error) {
	v = strings.ToLower(v)
	for _, a := range allowed {
		if v == a {
			return v, nil
		}
	}
	return "", fmt.Errorf("must be one of %s", strings.Join(allowed, ", "))
}

// layers parses a comma list of query, fragment and page, or "none".
func layers(v string) (Layers, error) {
	var (
		l    Layers
		errs []error
	)
	for _, w := range strings.FieldsFunc(strings.ToLower(v), func(r rune) bool { return r == ',' || r == ' ' }) {
		switch w {
		case "query":
			l.Query = true
		case "fragment":
			l.Fragment = true
		case "page":
			l.Page = true
		case "none":
		default:
			errs = append(errs, fmt.Errorf("unknown layer %q (use query, fragment, page, or none)", w))
		}
	}
	return l, errors.Join(errs...)
}

// allowedHosts reads a comma-separated list of host names, "*" or
// ".domain" entries, like Django's ALLOWED_HOSTS.
func allowedHosts(v string) ([]string, error) {
	var (
		hosts []string
		errs  []error
	)
	for _, h := range strings.Split(strings.ToLower(v), ",") {
		h = strings.TrimSpace(h)
		bare := strings.Trim(strings.TrimPrefix(h, "."), "[]")
		switch {
		case h == "":
			continue
		case h == "*", net.ParseIP(bare) != nil:
		case bare == "" || strings.ContainsFunc(bare, func(r rune) bool {
			return !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' || r == '.' || r == '_')
		}):
			errs = append(errs, fmt.Errorf("%q is not a host name, \"*\" or \".domain\" (no scheme, port or path)", h))
			continue
		}
		hosts = append(hosts, strings.NewReplacer("[", "", "]", "").Replace(h))
	}
	if len(hosts) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("names no host"))
	}
	return hosts, errors.Join(errs...)
}

// defaultHosts are the allowed hosts when TASKLIST_ALLOWED_HOSTS is unset:
// localhost, 127.0.0.1 and ::1, plus the host of addr when addr names one
// (not a wildcard address such as 0.0.0.0).
func defaultHosts(addr string) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	host, _, _ := net.SplitHostPort(addr)
	host = strings.ToLower(host)
	if ip := net.ParseIP(host); host != "" && !slices.Contains(hosts, host) && (ip == nil || !ip.IsUnspecified()) {
		hosts = append(hosts, host)
	}
	return hosts
}

// servers splits a comma-, semicolon- or space-separated host:port list; a
// host without a port gets memcached's 11211.
func servers(list string) ([]string, error) {
	var (
		out  []string
		errs []error
	)
	for _, s := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
		if _, _, err := net.SplitHostPort(s); err != nil {
			if strings.Contains(s, ":") && !strings.HasPrefix(s, "[") {
				errs = append(errs, fmt.Errorf("%q is not host:port", s))
				continue
			}
			s = net.JoinHostPort(strings.Trim(s, "[]"), "11211")
		}
		out = append(out, s)
	}
	return out, errors.Join(errs...)
}
