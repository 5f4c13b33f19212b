package config

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Addr:            ":8000",
		AllowedHosts:    []string{"localhost", "127.0.0.1", "::1"},
		DatabaseURL:     "sqlite:tasklist.db",
		DBTimeout:       5 * time.Second,
		LocalCacheBytes: 64 << 20,
		CachePrefix:     "tasklist:",
		CacheTimeout:    100 * time.Millisecond,
		Invalidation:    "version",
		CacheTTL:        5 * time.Second,
		CacheMaxAge:     time.Hour,
		Layers:          Layers{Query: true, Fragment: true, Page: true},
		PageSize:        100,
		MaxTasks:        10000,
		DBMaxConns:      32,
		MaxConns:        2048,
		MaxRequests:     64,
		LogFormat:       "text",
		LogLevel:        slog.LevelInfo,
		ShutdownTimeout: 15 * time.Second,
		SessionEngine:   "cached_db",
		SessionIdle:     30 * time.Minute,
		SessionLifetime: 24 * time.Hour,
		StatsUser:       "admin",
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	if c.CacheBackend() != "local" {
		t.Errorf("CacheBackend = %q, want local", c.CacheBackend())
	}
}

func TestLoadCacheSelection(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		backend string
		servers []string
	}{
		{"memcachier", map[string]string{"MEMCACHIER_SERVERS": "mc1.example:11211, mc2.example:11211", "MEMCACHIER_USERNAME": "u", "MEMCACHIER_PASSWORD": "p"},
			"memcache+sasl", []string{"mc1.example:11211", "mc2.example:11211"}},
		{"memcachier wins over plain", map[string]string{"MEMCACHIER_SERVERS": "a:1", "MEMCACHIER_USERNAME": "u", "MEMCACHIER_PASSWORD": "p", "MEMCACHE_SERVERS": "b:2"},
			"memcache+sasl", []string{"a:1"}},
		{"plain", map[string]string{"MEMCACHE_SERVERS": "127.0.0.1:11211,127.0.0.1"}, "memcache", []string{"127.0.0.1:11211", "127.0.0.1:11211"}},
		{"ipv6 default port", map[string]string{"MEMCACHE_SERVERS": "[::1]"}, "memcache", []string{"[::1]:11211"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if c.CacheBackend() != tt.backend {
				t.Errorf("CacheBackend = %q, want %q", c.CacheBackend(), tt.backend)
			}
			if diff := cmp.Diff(tt.servers, c.CacheServers); diff != "" {
				t.Errorf("servers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		says string
	}{
		{"bad port", map[string]string{"PORT": "eighty"}, `config: PORT="eighty": not a whole number from 0 to 65535`},
		{"bad addr", map[string]string{"TASKLIST_ADDR": "localhost"}, `config: TASKLIST_ADDR="localhost": not host:port`},
		{"bad duration", map[string]string{"TASKLIST_SLOW_QUERY": "2"}, `config: TASKLIST_SLOW_QUERY="2": not a duration such as 250ms or 2s`},
		{"negative duration", map[string]string{"TASKLIST_CACHE_TTL": "-1s"}, `config: TASKLIST_CACHE_TTL="-1s": not a duration`},
		{"zero ttl", map[string]string{"TASKLIST_CACHE_TTL": "0s"}, `config: TASKLIST_CACHE_TTL="0s": must be positive`},
		{"zero max age", map[string]string{"TASKLIST_CACHE_MAX_AGE": "0"}, `config: TASKLIST_CACHE_MAX_AGE="0": must be positive`},
		{"zero timeout", map[string]string{"TASKLIST_CACHE_TIMEOUT": "0ms"}, `config: TASKLIST_CACHE_TIMEOUT="0ms": must be positive`},
		{"bad size", map[string]string{"TASKLIST_LOCAL_CACHE_MB": "-3"}, `config: TASKLIST_LOCAL_CACHE_MB="-3": not a whole number`},
		{"bad level", map[string]string{"TASKLIST_LOG_LEVEL": "loud"}, `config: TASKLIST_LOG_LEVEL="loud": must be debug, info, warn or error`},
		{"bad format", map[string]string{"TASKLIST_LOG_FORMAT": "xml"}, `config: TASKLIST_LOG_FORMAT="xml": must be one of text, json`},
		{"prefix with space", map[string]string{"TASKLIST_CACHE_PREFIX": "my app:"}, `config: TASKLIST_CACHE_PREFIX="my app:": may hold only printable ASCII`},
		{"memcachier, no user", map[string]string{"MEMCACHIER_SERVERS": "a:1", "MEMCACHIER_PASSWORD": "hunter2"}, "MEMCACHIER_SERVERS needs MEMCACHIER_USERNAME and MEMCACHIER_PASSWORD: MEMCACHIER_USERNAME is not set"},
		{"memcachier, no pass", map[string]string{"MEMCACHIER_SERVERS": "a:1", "MEMCACHIER_USERNAME": "u"}, "MEMCACHIER_SERVERS needs MEMCACHIER_USERNAME and MEMCACHIER_PASSWORD: MEMCACHIER_PASSWORD is not set"},
		{"memcachier, no credentials", map[string]string{"MEMCACHIER_SERVERS": "a:1"}, "MEMCACHIER_SERVERS needs MEMCACHIER_USERNAME and MEMCACHIER_PASSWORD, and neither is set"},
		{"bad server", map[string]string{"MEMCACHE_SERVERS": "a:b:c"}, `config: MEMCACHE_SERVERS="a:b:c": "a:b:c" is not host:port`},
		{"bad layer", map[string]string{"TASKLIST_CACHE_LAYERS": "query,pages"}, `config: TASKLIST_CACHE_LAYERS="query,pages": unknown layer "pages"`},
		{"bad page size", map[string]string{"TASKLIST_PAGE_SIZE": "0"}, `config: TASKLIST_PAGE_SIZE="0": not a whole number from 1 to 1000`},
		{"no database connections", map[string]string{"TASKLIST_DB_MAX_CONNS": "0"}, `config: TASKLIST_DB_MAX_CONNS="0": not a whole number from 1 to 1000`},
		{"no client connections", map[string]string{"TASKLIST_MAX_CONNS": "0"}, `config: TASKLIST_MAX_CONNS="0": not a whole number from 1 to 1000000`},
		{"no requests", map[string]string{"TASKLIST_MAX_REQUESTS": "none"}, `config: TASKLIST_MAX_REQUESTS="none": not a whole number from 1 to 100000`},
		{"pprof not host:port", map[string]string{"TASKLIST_PPROF_ADDR": "6060"}, `config: TASKLIST_PPROF_ADDR="6060": not host:port`},
		{"pprof on all interfaces", map[string]string{"TASKLIST_PPROF_ADDR": ":6060"}, `config: TASKLIST_PPROF_ADDR=":6060": must be a loopback address`},
		{"pprof on a public address", map[string]string{"TASKLIST_PPROF_ADDR": "192.0.2.1:6060"}, `config: TASKLIST_PPROF_ADDR="192.0.2.1:6060": must be a loopback address`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(env(tt.env))
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("Load error = %q, want it to say %q", err, tt.says)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error reveals the password: %v", err)
			}
		})
	}
	// All problems are reported at once, one per line, each naming its
	// variable: several in one variable too.
	_, err := Load(env(map[string]string{"PORT": "x", "TASKLIST_CACHE_TTL": "y", "MEMCACHE_SERVERS": "a:b:c,d:e:f"}))
	want := []string{
		`config: PORT="x": not a whole number from 0 to 65535`,
		`config: MEMCACHE_SERVERS="a:b:c,d:e:f": "a:b:c" is not host:port`,
		`config: MEMCACHE_SERVERS="a:b:c,d:e:f": "d:e:f" is not host:port`,
		`config: TASKLIST_CACHE_TTL="y": not a duration such as 250ms or 2s`,
	}
	if err == nil {
		t.Fatal("Load succeeded")
	}
	if diff := cmp.Diff(want, strings.Split(err.Error(), "\n")); diff != "" {
		t.Errorf("Load errors (-want +got):\n%s", diff)
	}
}

func TestLoadWarnings(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		backend  string
		warnings []string
	}{
		{"credentials without servers", map[string]string{"MEMCACHIER_USERNAME": "u", "MEMCACHIER_PASSWORD": "hunter2"}, "local",
			[]string{"MEMCACHIER_USERNAME and MEMCACHIER_PASSWORD are ignored: MEMCACHIER_SERVERS is not set"}},
		{"user without servers, plain cluster", map[string]string{"MEMCACHIER_USERNAME": "u", "MEMCACHE_SERVERS": "mc:11211"}, "memcache",
			[]string{"MEMCACHIER_USERNAME is ignored: MEMCACHIER_SERVERS is not set (nor MEMCACHIER_PASSWORD)"}},
		{"password without servers", map[string]string{"MEMCACHIER_PASSWORD": "hunter2"}, "local",
			[]string{"MEMCACHIER_PASSWORD is ignored: MEMCACHIER_SERVERS is not set (nor MEMCACHIER_USERNAME)"}},
		{"both clusters", map[string]string{"MEMCACHIER_SERVERS": "a:1", "MEMCACHIER_USERNAME": "u", "MEMCACHIER_PASSWORD": "p", "MEMCACHE_SERVERS": "b:2"}, "memcache+sasl",
			[]string{"MEMCACHE_SERVERS is ignored: MEMCACHIER_SERVERS is set"}},
		{"none", map[string]string{"MEMCACHE_SERVERS": "b:2"}, "memcache", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.warnings, c.Warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			if c.CacheBackend() != tt.backend {
				t.Errorf("CacheBackend = %q, want %q", c.CacheBackend(), tt.backend)
			}
		})
	}
}

// TestVarsAreWhatLoadReads: Load asks for exactly the variables Vars lists
// (which help and docs/configuration.md show), each once; every default is valid.
func TestVarsAreWhatLoadReads(t *testing.T) {
	var read []string
	if _, err := Load(func(name string) string { read = append(read, name); return "" }); err != nil {
		t.Fatalf("the defaults do not load: %v", err)
	}
	var defined []string
	for _, v := range Vars() {
		defined = append(defined, v.Name)
		if v.Meaning == "" {
			t.Errorf("%s has no meaning", v.Name)
		}
	}
	if diff := cmp.Diff(defined, read); diff != "" {
		t.Errorf("variables read (-defined +read):\n%s", diff)
	}
}

var update = flag.Bool("update", false, "rewrite docs/configuration.md's table from Vars")

// TestConfigurationTable: docs/configuration.md's table is Vars, rendered.
// go test ./internal/config -run ConfigurationTable -update rewrites it.
func TestConfigurationTable(t *testing.T) {
	const path = "../../docs/configuration.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	start := slices.Index(lines, "| variable | default | meaning |")
	if start < 0 {
		t.Fatalf("%s has no configuration table (a line \"| variable | default | meaning |\")", path)
	}
	end := start
	for end < len(lines) && strings.HasPrefix(lines[end], "|") {
		end++
	}
	want := []string{"| variable | default | meaning |", "| --- | --- | --- |"}
	for _, v := range Vars() {
		def := "—"
		if v.Default != "" {
			def = "`" + v.Default + "`"
		}
		want = append(want, fmt.Sprintf("| `%s` | %s | %s |", v.Name, def, v.Meaning))
	}
	if *update {
		lines = slices.Replace(lines, start, end, want...)
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if diff := cmp.Diff(want, lines[start:end]); diff != "" {
		t.Errorf("%s's table (-Vars +file); run go test ./internal/config -run ConfigurationTable -update:\n%s", path, diff)
	}
}

func TestLogValueHidesSecrets(t *testing.T) {
	c, err := Load(env(map[string]string{
		"DATABASE_URL":            "postgres://app:dbsecret@db:5432/app",
		"MEMCACHIER_SERVERS":      "mc:11211",
		"MEMCACHIER_USERNAME":     "cacheuser",
		"MEMCACHIER_PASSWORD":     "cachesecret",
		"TASKLIST_STATS_USER":     "watcher",
		"TASKLIST_STATS_PASSWORD": "statssecret",
	}))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", c)
	out := buf.String()
	for _, secret := range []string{"dbsecret", "cachesecret", "statssecret"} {
		if strings.Contains(out, secret) {
			t.Errorf("log reveals %q: %s", secret, out)
		}
	}
	for _, want := range []string{"cacheuser", "memcache+sasl", "db:5432", "basic auth, user watcher"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q: %s", want, out)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "",
		"tasklist.db":            "tasklist.db",
		"mysql://u:pw@h:3306/db": "mysql://u:xxxxx@h:3306/db",
		"postgres://u@h/db":      "postgres://u@h/db",
		"mysql://u:p%zz@h/db":    "(unparsable URL hidden)",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLoadLayers(t *testing.T) {
	tests := []struct {
		value string
		want  Layers
	}{
		{"", Layers{Query: true, Fragment: true, Page: true}},
		{"none", Layers{}},
		{"query", Layers{Query: true}},
		{"Query, Fragment", Layers{Query: true, Fragment: true}},
		{"page", Layers{Page: true}},
		{"fragment,page", Layers{Fragment: true, Page: true}},
	}
	for _, tt := range tests {
		c, err := Load(env(map[string]string{"TASKLIST_CACHE_LAYERS": tt.value}))
		if err != nil {
			t.Errorf("%q: %v", tt.value, err)
			continue
		}
		if c.Layers != tt.want {
			t.Errorf("%q: layers = %+v, want %+v", tt.value, c.Layers, tt.want)
		}
		if tt.value == "" && c.Layers.String() != "query,fragment,page" || tt.value == "none" && c.Layers.String() != "none" {
			t.Errorf("%q: String() = %q", tt.value, c.Layers.String())
		}
	}
	_, err := Load(env(map[string]string{"TASKLIST_CACHE_LAYERS": "query,pages"}))
	if err == nil || !strings.Contains(err.Error(), `"pages"`) {
		t.Errorf("unknown layer: err = %v, want one naming \"pages\"", err)
	}
	for _, v := range []string{"0", "1001", "x"} {
		if _, err := Load(env(map[string]string{"TASKLIST_PAGE_SIZE": v})); err == nil {
			t.Errorf("TASKLIST_PAGE_SIZE=%q accepted", v)
		}
	}
}

func TestLoadAllowedHosts(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"default", nil, []string{"localhost", "127.0.0.1", "::1"}},
		{"addr names a host", map[string]string{"TASKLIST_ADDR": "Tasks.Internal:8080"}, []string{"localhost", "127.0.0.1", "::1", "tasks.internal"}},
		{"addr names an ipv6 address", map[string]string{"TASKLIST_ADDR": "[fd00::7]:8080"}, []string{"localhost", "127.0.0.1", "::1", "fd00::7"}},
		{"addr names a loopback host", map[string]string{"TASKLIST_ADDR": "127.0.0.1:0"}, []string{"localhost", "127.0.0.1", "::1"}},
		{"addr names no host", map[string]string{"TASKLIST_ADDR": ":8080"}, []string{"localhost", "127.0.0.1", "::1"}},
		{"addr is a wildcard", map[string]string{"TASKLIST_ADDR": "0.0.0.0:8080"}, []string{"localhost", "127.0.0.1", "::1"}},
		{"set replaces the default", map[string]string{"TASKLIST_ALLOWED_HOSTS": " Tasks.Example.com, .example.org ,[::1],10.0.0.1,", "TASKLIST_ADDR": "a.example:1"},
			[]string{"tasks.example.com", ".example.org", "::1", "10.0.0.1"}},
		{"any", map[string]string{"TASKLIST_ALLOWED_HOSTS": "*"}, []string{"*"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, c.AllowedHosts); diff != "" {
				t.Errorf("AllowedHosts (-want +got):\n%s", diff)
			}
		})
	}
	for _, bad := range []string{"https://tasks.example", "tasks.example:443", "tasks.example/app", " , ", "."} {
		if _, err := Load(env(map[string]string{"TASKLIST_ALLOWED_HOSTS": bad})); err == nil || !strings.Contains(err.Error(), "TASKLIST_ALLOWED_HOSTS") {
			t.Errorf("TASKLIST_ALLOWED_HOSTS=%q: err = %v, want one naming the variable", bad, err)
		}
	}
}

// TestUnknown: every variable with tasklist's prefixes that it does not
// read is warned about, with the nearest name it reads; known variables,
// the tests' and benchmark's, and other programs' are not. No value is
// quoted.
func TestUnknown(t *testing.T) {
	environ := []string{
		"TASKLIST_INVALIDATON=delete", "MEMCACHIER_SERVER=mc:11211", "MEMCACHE_SERVER=mc:11211",
		"TASKLIST_CACHE_TTL=5s", "TASKLIST_STATS_PASWORD=hunter2", "TASKLIST_INVALIDATON=again",
		"MEMCACHIER_USERNAME=u", "PORT=1", "PATH=/bin", "TASKLIST_TEST_MEMCACHED=/usr/bin/memcached",
		"TASKLIST_BENCH_WRK=/usr/bin/wrk", "TASKLIST_SOAK=60s", "TASKLIST_X", "DATABASE_URL=sqlite:x",
	}
	want := []string{
		"TASKLIST_INVALIDATON is not a variable tasklist reads, so it is ignored; the nearest one that is: TASKLIST_INVALIDATION (tasklist help lists them all)",
		"MEMCACHIER_SERVER is not a variable tasklist reads, so it is ignored; the nearest one that is: MEMCACHIER_SERVERS (tasklist help lists them all)",
		"MEMCACHE_SERVER is not a variable tasklist reads, so it is ignored; the nearest one that is: MEMCACHE_SERVERS (tasklist help lists them all)",
		"TASKLIST_STATS_PASWORD is not a variable tasklist reads, so it is ignored; the nearest one that is: TASKLIST_STATS_PASSWORD (tasklist help lists them all)",
		"TASKLIST_X is not a variable tasklist reads, so it is ignored; the nearest one that is: TASKLIST_ADDR (tasklist help lists them all)",
	}
	got := Unknown(environ)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Unknown (-want +got):\n%s", diff)
	}
	if strings.Contains(strings.Join(got, "\n"), "hunter2") {
		t.Error("a warning quotes a value")
	}
	var all []string
	for _, v := range Vars() {
		all = append(all, v.Name+"=x")
	}
	if w := Unknown(all); w != nil {
		t.Errorf("Unknown warns about known variables: %v", w)
	}
}

// TestToolVarsAreKnown: every TASKLIST_, MEMCACHIER_ or MEMCACHE_ variable
// the repository's code and scripts (but for this package) name is one the program reads or one of toolVars, so that no
// environment set up as the README says draws a warning.
func TestToolVarsAreKnown(t *testing.T) {
	name := regexp.MustCompile(`\b(?:TASKLIST|MEMCACHIER|MEMCACHE)_[A-Z0-9_]*[A-Z0-9]\b`)
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".sh")) ||
			strings.HasSuffix(path, "_test.go") || filepath.Dir(path) == filepath.Join("..", "..", "internal", "config") {
			return err // this package's own examples are misspelled on purpose
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, n := range name.FindAllString(string(b), -1) {
			if !known(n) {
				t.Errorf("%s names %s, which config does not know", path, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
