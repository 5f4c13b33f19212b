// Package config reads tasklist's configuration from the environment,
// checks all of it at once, and describes it for logs without secrets.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tasklist/tasklist/internal/tasks"
)

// Invalidation strategies for the query cache (TASKLIST_INVALIDATION).
const (
	Expire  = "expire"
	Delete  = "delete"
	Version = "version"
	Update  = "update"
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
	// DatabaseURL selects the database (DATABASE_URL); tasks.DefaultURL,
	// an SQLite file, when unset.
	DatabaseURL string
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
	// Invalidation is the query cache's strategy (TASKLIST_INVALIDATION).
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
	// ShutdownTimeout is how long in-flight requests get on SIGTERM.
	ShutdownTimeout time.Duration
}

// Load reads the configuration through getenv (os.Getenv in main) and
// returns every problem it finds, joined. Messages never quote a password.
func Load(getenv func(string) string) (Config, error) {
	p := parser{getenv: getenv}
	c := Config{
		Addr:            getenv("TASKLIST_ADDR"),
		DatabaseURL:     p.str("DATABASE_URL", tasks.DefaultURL),
		SlowQuery:       p.duration("TASKLIST_SLOW_QUERY", 0),
		LocalCacheBytes: int64(p.intIn("TASKLIST_LOCAL_CACHE_MB", 64, 1, 1<<20, "a positive whole number of MiB")) << 20,
		CachePrefix:     p.str("TASKLIST_CACHE_PREFIX", "tasklist:"),
		CacheTimeout:    p.duration("TASKLIST_CACHE_TIMEOUT", 100*time.Millisecond),
		Invalidation:    p.oneOf("TASKLIST_INVALIDATION", Version, Expire, Delete, Version, Update),
		CacheTTL:        p.duration("TASKLIST_CACHE_TTL", 5*time.Second),
		CacheMaxAge:     p.duration("TASKLIST_CACHE_MAX_AGE", time.Hour),
		Layers:          p.layers("TASKLIST_CACHE_LAYERS"),
		PageSize:        p.intIn("TASKLIST_PAGE_SIZE", 100, 1, 1000, "a whole number from 1 to 1000"),
		MaxTasks:        p.intIn("TASKLIST_MAX_TASKS", 10000, 1, 10_000_000, "a whole number from 1 to 10000000"),
		LogFormat:       p.oneOf("TASKLIST_LOG_FORMAT", "text", "text", "json"),
		ShutdownTimeout: p.duration("TASKLIST_SHUTDOWN_TIMEOUT", 15*time.Second),
	}
	if c.Addr == "" {
		c.Addr = ":" + strconv.Itoa(p.intIn("PORT", 8000, 0, 65535, "a port number"))
	} else if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		p.fail("TASKLIST_ADDR %q is not host:port", c.Addr)
	}
	c.AllowedHosts = p.allowedHosts("TASKLIST_ALLOWED_HOSTS", c.Addr)
	if err := c.LogLevel.UnmarshalText([]byte(p.str("TASKLIST_LOG_LEVEL", "info"))); err != nil {
		p.fail("TASKLIST_LOG_LEVEL must be debug, info, warn or error")
	}
	if c.CacheTimeout <= 0 {
		p.fail("TASKLIST_CACHE_TIMEOUT must be positive")
	}
	if c.CacheTTL <= 0 || c.CacheMaxAge <= 0 {
		p.fail("TASKLIST_CACHE_TTL and TASKLIST_CACHE_MAX_AGE must be positive")
	}
	if strings.ContainsFunc(c.CachePrefix, func(r rune) bool { return r <= ' ' || r > '~' }) {
		p.fail("TASKLIST_CACHE_PREFIX may hold only printable ASCII without spaces")
	}
	c.loadCache(&p)
	return c, errors.Join(p.errs...)
}

// loadCache picks the cache backend: MemCachier (with SASL) first, then a
// plain memcached cluster, else in-process.
func (c *Config) loadCache(p *parser) {
	if servers := getenvTrim(p.getenv, "MEMCACHIER_SERVERS"); servers != "" {
		c.CacheServers = p.servers("MEMCACHIER_SERVERS", servers)
		c.CacheUsername = p.getenv("MEMCACHIER_USERNAME")
		c.CachePassword = p.getenv("MEMCACHIER_PASSWORD")
		if c.CacheUsername == "" || c.CachePassword == "" {
			p.fail("MEMCACHIER_SERVERS needs MEMCACHIER_USERNAME and MEMCACHIER_PASSWORD (for a memcached without authentication, set MEMCACHE_SERVERS instead)")
		}
		return
	}
	if servers := getenvTrim(p.getenv, "MEMCACHE_SERVERS"); servers != "" {
		c.CacheServers = p.servers("MEMCACHE_SERVERS", servers)
	}
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
		slog.String("allowed_hosts", strings.Join(c.AllowedHosts, ",")),
		slog.String("database", RedactURL(c.DatabaseURL)),
		slog.String("cache", c.CacheBackend()),
		slog.String("invalidation", c.Invalidation),
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

func getenvTrim(getenv func(string) string, name string) string {
	return strings.TrimSpace(getenv(name))
}

// parser reads typed values and collects every error, so one run of the
// program reports all mistakes at once.
type parser struct {
	getenv func(string) string
	errs   []error
}

func (p *parser) fail(format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("config: "+format, args...))
}

func (p *parser) str(name, def string) string {
	if v := getenvTrim(p.getenv, name); v != "" {
		return v
	}
	return def
}

func (p *parser) duration(name string, def time.Duration) time.Duration {
	v := getenvTrim(p.getenv, name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		p.fail("%s=%q is not a duration such as 250ms or 2s", name, v)
		return def
	}
	return d
}

// intIn reads a whole number from lo to hi; what names it in the error.
func (p *parser) intIn(name string, def, lo, hi int, what string) int {
	v := getenvTrim(p.getenv, name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		p.fail("%s=%q is not %s", name, v, what)
		return def
	}
	return n
}

func (p *parser) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(getenvTrim(p.getenv, name))
	if v == "" {
		return def
	}
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	p.fail("%s=%q must be one of %s", name, v, strings.Join(allowed, ", "))
	return def
}

// allowedHosts reads a comma-separated list of host names, "*" or
// ".domain" entries, like Django's ALLOWED_HOSTS. Unset, it is localhost,
// 127.0.0.1 and ::1, plus the host of addr when addr names one (not a
// wildcard address such as 0.0.0.0).
func (p *parser) allowedHosts(name, addr string) []string {
	v := getenvTrim(p.getenv, name)
	if v == "" {
		hosts := []string{"localhost", "127.0.0.1", "::1"}
		host, _, _ := net.SplitHostPort(addr)
		host = strings.ToLower(host)
		if ip := net.ParseIP(host); host != "" && !slices.Contains(hosts, host) && (ip == nil || !ip.IsUnspecified()) {
			hosts = append(hosts, host)
		}
		return hosts
	}
	var hosts []string
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
			p.fail("%s: %q is not a host name, \"*\" or \".domain\" (no scheme, port or path)", name, h)
			continue
		}
		hosts = append(hosts, strings.NewReplacer("[", "", "]", "").Replace(h))
	}
	if len(hosts) == 0 {
		p.fail("%s names no host", name)
	}
	return hosts
}

// layers reads a comma list of query, fragment and page, or "none";
// unset means all three.
func (p *parser) layers(name string) Layers {
	v := strings.ToLower(getenvTrim(p.getenv, name))
	if v == "" {
		return Layers{Query: true, Fragment: true, Page: true}
	}
	var l Layers
	for _, w := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
		switch w {
		case "query":
			l.Query = true
		case "fragment":
			l.Fragment = true
		case "page":
			l.Page = true
		case "none":
		default:
			p.fail("%s: unknown layer %q (use query, fragment, page, or none)", name, w)
		}
	}
	return l
}

// servers splits a comma- or space-separated host:port list; a host without
// a port gets memcached's 11211.
func (p *parser) servers(name, list string) []string {
	var out []string
	for _, s := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
		if _, _, err := net.SplitHostPort(s); err != nil {
			if strings.Contains(s, ":") && !strings.HasPrefix(s, "[") {
				p.fail("%s: %q is not host:port", name, s)
				continue
			}
			s = net.JoinHostPort(strings.Trim(s, "[]"), "11211")
		}
		out = append(out, s)
	}
	return out
}
