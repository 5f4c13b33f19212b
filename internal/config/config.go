// Package config reads tasklist's configuration from the environment,
// checks all of it at once, and describes it for logs without secrets.
//
// Every variable is defined once, in the table of vars.go: its name, its
// default, its meaning and how it is read. Load reads through that table,
// `tasklist help` prints it, and a test checks that docs/configuration.md's
// table is the same (go test ./internal/config -run ConfigurationTable
// -update rewrites it). To add a variable: add a Config field, add a Var to
// the table whose parse sets the field, and run that command; rules that
// tie several variables together go in (*loader).check.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config is the whole configuration. Load fills it; its zero value is not
// meant to be used.
type Config struct {
	// Addr is the listen address: TASKLIST_ADDR, else ":" + PORT.
	Addr string
	// AllowedHosts lists the host names the app answers for
	// (TASKLIST_ALLOWED_HOSTS), lower case, IPv6 addresses without
	// brackets: a name, "*" for any, or ".example.com" for that domain and
	// its subdomains. Unset, it is the loopback names and the host Addr
	// names, if any.
	AllowedHosts []string
	// DatabaseURL selects the database (DATABASE_URL); sqldb.DefaultURL,
	// an SQLite file, when unset.
	DatabaseURL string
	// DBTimeout bounds every database call (TASKLIST_DB_TIMEOUT).
	DBTimeout time.Duration
	// DBMaxConns is the most database connections the program opens
	// (TASKLIST_DB_MAX_CONNS).
	DBMaxConns int
	// SlowQuery is added to every task-list query (TASKLIST_SLOW_QUERY).
	SlowQuery time.Duration

	// CacheServers lists memcached servers: MEMCACHIER_SERVERS, else
	// MEMCACHE_SERVERS. Empty means the in-process cache.
	CacheServers []string
	// CacheUsername and CachePassword are MemCachier's SASL credentials;
	// set exactly when MEMCACHIER_SERVERS is.
	CacheUsername, CachePassword string
	// LocalCacheBytes bounds the in-process cache (TASKLIST_LOCAL_CACHE_MB).
	LocalCacheBytes int64
	// CachePrefix starts every cache key (TASKLIST_CACHE_PREFIX), so several
	// apps can share one cluster.
	CachePrefix string
	// CacheTimeout bounds one cache operation (TASKLIST_CACHE_TIMEOUT).
	CacheTimeout time.Duration
	// Invalidation names the query cache's strategy
	// (TASKLIST_INVALIDATION); package taskcache knows the names, and the
	// program checks it with them (config knows no domain package).
	Invalidation string
	// CacheTTL is how long a cached list is used under "expire"
	// (TASKLIST_CACHE_TTL): the staleness bound of that strategy.
	CacheTTL time.Duration
	// CacheMaxAge is how long a cached list lives under the other
	// strategies (TASKLIST_CACHE_MAX_AGE): the staleness bound should an
	// invalidation be lost for good.
	CacheMaxAge time.Duration
	// Layers says which caching layers are on (TASKLIST_CACHE_LAYERS).
	Layers Layers
	// PageSize is the most tasks one page shows (TASKLIST_PAGE_SIZE).
	PageSize int
	// MaxTasks is the most tasks the list holds (TASKLIST_MAX_TASKS).
	MaxTasks int

	// LogLevel and LogFormat (text or json) shape the logs.
	LogLevel  slog.Level
	LogFormat string
	// MaxConns bounds the open client connections (TASKLIST_MAX_CONNS);
	// MaxRequests the requests worked on at once (TASKLIST_MAX_REQUESTS).
	MaxConns, MaxRequests int
	// ShutdownTimeout is how long in-flight requests get on SIGTERM.
	ShutdownTimeout time.Duration
	// ShutdownDrain is how long the server keeps serving on SIGTERM before
	// it stops accepting connections, closing each connection after its
	// answer, so that a proxy in front stops using them first.
	ShutdownDrain time.Duration
	// PprofAddr, when set, is the loopback address of a separate
	// listener serving net/http/pprof (TASKLIST_PPROF_ADDR).
	PprofAddr string

	// SessionEngine names where sessions are kept
	// (TASKLIST_SESSION_ENGINE); package session knows the names, and the
	// program checks it with them.
	SessionEngine string
	// SessionIdle ends a session unused for that long
	// (TASKLIST_SESSION_IDLE); SessionLifetime ends any session that long
	// after it began (TASKLIST_SESSION_LIFETIME).
	SessionIdle, SessionLifetime time.Duration
	// SecureCookies marks the session cookie Secure
	// (TASKLIST_SECURE_COOKIES).
	SecureCookies bool

	// StatsUser and StatsPassword guard /stats, /stats.json and /metrics
	// with HTTP basic auth (TASKLIST_STATS_USER, TASKLIST_STATS_PASSWORD);
	// with no password they answer loopback clients only.
	StatsUser, StatsPassword string

	// Warnings are problems Load found that do not stop the program, such
	// as variables it ignores; main logs them.
	Warnings []string
}

// Load reads the configuration through getenv (os.Getenv in main): every
// variable of Vars, blank ones as unset. It returns every problem it finds,
// joined, one per line; messages never quote a secret. Problems that do not
// stop the program are in Config.Warnings.
func Load(getenv func(string) string) (Config, error) {
	var l loader
	for _, v := range vars {
		value := strings.TrimSpace(getenv(v.Name))
		if value == "" {
			value = v.Default
		}
		if value == "" {
			continue
		}
		err := v.parse(&l, value)
		if err == nil {
			continue
		}
		what := fmt.Sprintf("%s=%q", v.Name, value)
		if v.Secret {
			what = v.Name
		}
		errs := []error{err}
		if joined, ok := err.(interface{ Unwrap() []error }); ok {
			errs = joined.Unwrap()
		}
		for _, err := range errs {
			l.fail("%s: %w", what, err)
		}
	}
	l.check()
	return l.c, errors.Join(l.errs...)
}

// check applies the rules that tie several variables together.
func (l *loader) check() {
	if l.c.Addr == "" {
		l.c.Addr = ":" + strconv.Itoa(l.port)
	}
	if l.c.AllowedHosts == nil {
		l.c.AllowedHosts = defaultHosts(l.c.Addr)
	}
	// The cache backend: MemCachier (with SASL) first, then a plain
	// memcached cluster, else in-process.
	credentials := l.c.CacheUsername != "" || l.c.CachePassword != ""
	switch {
	case len(l.saslServers) > 0:
		l.c.CacheServers = l.saslServers
		switch unset := unsetCredentials(l.c.CacheUsername, l.c.CachePassword); len(unset) {
		case 1:
			l.fail("MEMCACHIER_SERVERS needs MEMCACHIER_USERNAME and MEMCACHIER_PASSWORD: %s is not set", unset[0])
		case 2:
			l.fail("MEMCACHIER_SERVERS needs MEMCACHIER_USERNAME and MEMCACHIER_PASSWORD, and neither is set (for a memcached without authentication, set MEMCACHE_SERVERS instead)")
		}
		if len(l.plainServers) > 0 {
			l.warn("MEMCACHE_SERVERS is ignored: MEMCACHIER_SERVERS is set")
		}
	case credentials:
		if unset := unsetCredentials(l.c.CacheUsername, l.c.CachePassword); len(unset) == 1 {
			set := "MEMCACHIER_USERNAME"
			if l.c.CacheUsername == "" {
				set = "MEMCACHIER_PASSWORD"
			}
			l.warn("%s is ignored: MEMCACHIER_SERVERS is not set (nor %s)", set, unset[0])
		} else {
			l.warn("MEMCACHIER_USERNAME and MEMCACHIER_PASSWORD are ignored: MEMCACHIER_SERVERS is not set")
		}
		l.c.CacheUsername, l.c.CachePassword = "", ""
		fallthrough
	default:
		l.c.CacheServers = l.plainServers
	}
}

// unsetCredentials names those of MemCachier's two credentials that are
// not set.
func unsetCredentials(user, password string) []string {
	var unset []string
	if user == "" {
		unset = append(unset, "MEMCACHIER_USERNAME")
	}
	if password == "" {
		unset = append(unset, "MEMCACHIER_PASSWORD")
	}
	return unset
}

// Layers are the caching layers: the query cache (the task list), the
// fragment cache (rendered rows and lists) and the page cache (whole
// responses). All false is no caching at all.
type Layers struct {
	Query, Fragment, Page bool
}

// Any reports whether any layer is on.
func (l Layers) Any() bool { return l.Query || l.Fragment || l.Page }

// String lists the layers on, as TASKLIST_CACHE_LAYERS spells them.
func (l Layers) String() string {
	var on []string
	for _, x := range []struct {
		on   bool
		name string
	}{{l.Query, "query"}, {l.Fragment, "fragment"}, {l.Page, "page"}} {
		if x.on {
			on = append(on, x.name)
		}
	}
	if on == nil {
		return "none"
	}
	return strings.Join(on, ",")
}

// CacheBackend names the backend the configuration selects: "local",
// "memcache" or "memcache+sasl".
func (c Config) CacheBackend() string {
	switch {
	case len(c.CacheServers) == 0:
		return "local"
	case c.CacheUsername != "":
		return "memcache+sasl"
	}
	return "memcache"
}

// LogValue describes the configuration for logs: passwords are never in it.
func (c Config) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("addr", c.Addr),
		slog.String("database", RedactURL(c.DatabaseURL)),
		slog.Duration("db_timeout", c.DBTimeout),
		slog.Int("db_max_conns", c.DBMaxConns),
		slog.String("cache", c.CacheBackend()),
		slog.String("invalidation", string(c.Invalidation)),
		slog.String("layers", c.Layers.String()),
		slog.Duration("cache_ttl", c.CacheTTL),
	}
	if len(c.CacheServers) > 0 {
		attrs = append(attrs, slog.String("cache_servers", strings.Join(c.CacheServers, ",")))
	}
	if c.CacheUsername != "" {
		attrs = append(attrs, slog.String("cache_user", c.CacheUsername))
	}
	if c.SlowQuery > 0 {
		attrs = append(attrs, slog.Duration("slow_query", c.SlowQuery))
	}
	if c.StatsPassword != "" {
		attrs = append(attrs, slog.String("stats", "basic auth, user "+c.StatsUser))
	} else {
		attrs = append(attrs, slog.String("stats", "loopback only"))
	}
	return slog.GroupValue(attrs...)
}

// RedactURL returns rawURL with any password replaced by "xxxxx"; a value
// that does not parse as a URL with a user is returned only if it cannot
// hold a password (no "@").
func RedactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		if strings.Contains(rawURL, "@") {
			return "(unparsable URL hidden)"
		}
		return rawURL
	}
	return u.Redacted()
}
