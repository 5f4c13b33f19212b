package config

import (
	"bytes"
	"log/slog"
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
		LocalCacheBytes: 64 << 20,
		CachePrefix:     "tasklist:",
		CacheTimeout:    100 * time.Millisecond,
		Invalidation:    Version,
		CacheTTL:        5 * time.Second,
		CacheMaxAge:     time.Hour,
		Layers:          Layers{Query: true, Fragment: true, Page: true},
		PageSize:        100,
		MaxTasks:        10000,
		LogFormat:       "text",
		LogLevel:        slog.LevelInfo,
		ShutdownTimeout: 15 * time.Second,
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
}

func TestLoadErrors(t *testing.T) {
	tests := map[string]map[string]string{
		"bad port":            {"PORT": "eighty"},
		"bad addr":            {"TASKLIST_ADDR": "localhost"},
		"bad duration":        {"TASKLIST_SLOW_QUERY": "2"},
		"negative duration":   {"TASKLIST_CACHE_TTL": "-1s"},
		"zero ttl":            {"TASKLIST_CACHE_TTL": "0s"},
		"bad strategy":        {"TASKLIST_INVALIDATION": "sometimes"},
		"bad size":            {"TASKLIST_LOCAL_CACHE_MB": "-3"},
		"bad level":           {"TASKLIST_LOG_LEVEL": "loud"},
		"prefix with space":   {"TASKLIST_CACHE_PREFIX": "my app:"},
		"memcachier, no user": {"MEMCACHIER_SERVERS": "a:1", "MEMCACHIER_PASSWORD": "hunter2"},
		"memcachier, no pass": {"MEMCACHIER_SERVERS": "a:1", "MEMCACHIER_USERNAME": "u"},
		"bad server":          {"MEMCACHE_SERVERS": "a:b:c"},
		"host with scheme":    {"TASKLIST_ALLOWED_HOSTS": "https://tasks.example"},
		"host with port":      {"TASKLIST_ALLOWED_HOSTS": "tasks.example:443"},
		"host with path":      {"TASKLIST_ALLOWED_HOSTS": "tasks.example/app"},
		"no host":             {"TASKLIST_ALLOWED_HOSTS": " , "},
		"lone dot":            {"TASKLIST_ALLOWED_HOSTS": "."},
	}
	for name, kv := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Load(env(kv))
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error reveals the password: %v", err)
			}
		})
	}
	// All problems are reported at once.
	_, err := Load(env(map[string]string{"PORT": "x", "TASKLIST_CACHE_TTL": "y"}))
	if err == nil || !strings.Contains(err.Error(), "PORT") || !strings.Contains(err.Error(), "TASKLIST_CACHE_TTL") {
		t.Errorf("Load error = %v, want both PORT and TASKLIST_CACHE_TTL named", err)
	}
}

func TestLogValueHidesSecrets(t *testing.T) {
	c, err := Load(env(map[string]string{
		"DATABASE_URL":        "postgres://app:dbsecret@db:5432/app",
		"MEMCACHIER_SERVERS":  "mc:11211",
		"MEMCACHIER_USERNAME": "cacheuser",
		"MEMCACHIER_PASSWORD": "cachesecret",
	}))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", c)
	out := buf.String()
	for _, secret := range []string{"dbsecret", "cachesecret"} {
		if strings.Contains(out, secret) {
			t.Errorf("log reveals %q: %s", secret, out)
		}
	}
	for _, want := range []string{"cacheuser", "memcache+sasl", "db:5432"} {
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
