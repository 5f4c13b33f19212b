package web_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/cache/memcache"
	"github.com/tasklist/tasklist/internal/testenv"
)

var statsRoutes = []string{"/stats", "/stats.json", "/metrics"}

// statsRequest is a GET of a statistics route from remote (RemoteAddr),
// with header pairs and, when user is not empty, basic auth.
func statsRequest(h http.Handler, route, remote, user, password string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", route, nil)
	r.RemoteAddr = remote
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	if user != "" {
		r.SetBasicAuth(user, password)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestStatsAccess: without TASKLIST_STATS_PASSWORD the statistics answer
// only connections from loopback addresses, whatever forwarded headers
// say, and tell others how to enable remote access; with it, every request
// needs the user and password in basic auth, from anywhere.
func TestStatsAccess(t *testing.T) {
	open := newStack(t, stackOptions{hosts: []string{"*"}}).handler
	guarded := newStack(t, stackOptions{hosts: []string{"*"}, statsUser: "watcher", statsPassword: "stats-password"}).handler
	defaultUser := newStack(t, stackOptions{hosts: []string{"*"}, statsPassword: "stats-password"}).handler
	forged := []string{"X-Forwarded-For", "127.0.0.1", "X-Real-IP", "127.0.0.1", "Forwarded", "for=127.0.0.1"}
	tests := []struct {
		name           string
		h              http.Handler
		remote         string
		user, password string
		header         []string
		want           int
	}{
		{"no password, IPv4 loopback", open, "127.0.0.1:40000", "", "", nil, http.StatusOK},
		{"no password, other 127/8 address", open, "127.3.2.1:40000", "", "", nil, http.StatusOK},
		{"no password, IPv6 loopback", open, "[::1]:40000", "", "", nil, http.StatusOK},
		{"no password, IPv4 loopback mapped to IPv6", open, "[::ffff:127.0.0.1]:40000", "", "", nil, http.StatusOK},
		{"no password, remote", open, "192.0.2.7:40000", "", "", nil, http.StatusForbidden},
		{"no password, remote IPv6", open, "[2001:db8::7]:40000", "", "", nil, http.StatusForbidden},
		{"no password, remote claiming loopback in forwarded headers", open, "192.0.2.7:40000", "", "", forged, http.StatusForbidden},
		{"no password, remote with credentials", open, "192.0.2.7:40000", "admin", "anything", nil, http.StatusForbidden},
		{"no password, unparsable address", open, "loopback", "", "", nil, http.StatusForbidden},
		{"password, remote, right credentials", guarded, "192.0.2.7:40000", "watcher", "stats-password", nil, http.StatusOK},
		{"password, loopback, right credentials", guarded, "127.0.0.1:40000", "watcher", "stats-password", nil, http.StatusOK},
		{"password, remote, none", guarded, "192.0.2.7:40000", "", "", nil, http.StatusUnauthorized},
		{"password, loopback, none", guarded, "127.0.0.1:40000", "", "", forged, http.StatusUnauthorized},
		// Wrong credentials from an address each: a few per address are
		// answered 401 (TestStatsLoginLimit).
		{"password, wrong password", guarded, "192.0.2.8:40000", "watcher", "stats-passwore", nil, http.StatusUnauthorized},
		{"password, password's prefix", guarded, "192.0.2.9:40000", "watcher", "stats", nil, http.StatusUnauthorized},
		{"password, wrong user", guarded, "192.0.2.10:40000", "admin", "stats-password", nil, http.StatusUnauthorized},
		{"password, default user", defaultUser, "192.0.2.7:40000", "admin", "stats-password", nil, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, route := range statsRoutes {
				w := statsRequest(tt.h, route, tt.remote, tt.user, tt.password, tt.header...)
				if w.Code != tt.want {
					t.Errorf("GET %s: status %d, want %d:\n%s", route, w.Code, tt.want, w.Body)
				}
				if got := w.Header().Get("Cache-Control"); got != "no-store" {
					t.Errorf("GET %s: Cache-Control %q, want no-store", route, got)
				}
				switch w.Code {
				case http.StatusForbidden:
					if !strings.Contains(w.Body.String(), "set TASKLIST_STATS_PASSWORD") {
						t.Errorf("GET %s: 403 does not say how to enable remote access: %q", route, w.Body)
					}
				case http.StatusUnauthorized:
					if got := w.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, "Basic ") {
						t.Errorf("GET %s: 401 with WWW-Authenticate %q, want Basic", route, got)
					}
				}
			}
		})
	}
}

// TestStatsShowNoSecret: with a SASL memcached behind the cache, nothing
// the statistics routes answer (including the refusals) holds the cache's
// password or the statistics' own.
func TestStatsShowNoSecret(t *testing.T) {
	const cachePassword, statsPassword = "cache-secret-4711", "stats-secret-0815"
	mc := testenv.StartMemcached(t, testenv.MemcachedOptions{Username: "tasklist", Password: cachePassword})
	h := newStack(t, stackOptions{hosts: []string{"*"}, layers: everyLayer, statsPassword: statsPassword,
		backend: memcachedClients(memcache.Options{Servers: []string{mc.Addr()}, Username: "tasklist", Password: cachePassword, Timeout: 5 * time.Second}),
	}).handler
	for _, route := range statsRoutes {
		for _, auth := range [][2]string{{"admin", statsPassword}, {"admin", "wrong"}, {}} {
			w := statsRequest(h, route, "192.0.2.7:40000", auth[0], auth[1])
			if auth[1] == statsPassword && (w.Code != http.StatusOK || !strings.Contains(w.Body.String(), mc.Addr())) {
				t.Errorf("GET %s: status %d, want 200 showing the server %s:\n%s", route, w.Code, mc.Addr(), w.Body)
			}
			for _, secret := range []string{cachePassword, statsPassword} {
				if strings.Contains(w.Body.String(), secret) || strings.Contains(headerText(w.Header()), secret) {
					t.Errorf("GET %s (auth %q): the response reveals %q", route, auth[0], secret)
				}
			}
		}
	}
}

func headerText(h http.Header) string {
	var b strings.Builder
	h.Write(&b)
	return b.String()
}

// TestStatsScriptOnlyThere: the statistics page may run its own static
// script and fetch from its own origin, and nothing else; every other
// page runs no script at all.
func TestStatsScriptOnlyThere(t *testing.T) {
	h := newStack(t, stackOptions{hosts: []string{"*"}}).handler
	csp := func(route string) string {
		w := statsRequest(h, route, "127.0.0.1:40000", "", "")
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: status %d", route, w.Code)
		}
		return w.Header().Get("Content-Security-Policy")
	}
	directives := func(policy string) map[string]string {
		out := map[string]string{}
		for _, d := range strings.Split(policy, ";") {
			name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
			out[name] = value
		}
		return out
	}
	stats, index := directives(csp("/stats")), directives(csp("/"))
	got := map[string]string{"stats script-src": stats["script-src"], "stats connect-src": stats["connect-src"],
		"stats default-src": stats["default-src"], "index script-src": index["script-src"], "index connect-src": index["connect-src"]}
	want := map[string]string{"stats script-src": "'self'", "stats connect-src": "'self'", "stats default-src": "'none'",
		"index script-src": "", "index connect-src": ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Content-Security-Policy directives (-want +got):\n%s", diff)
	}
	page := statsRequest(h, "/stats", "127.0.0.1:40000", "", "").Body.String()
	if !regexp.MustCompile(`<script src="/static/stats\.[0-9a-f]{12}\.js" defer></script>`).MatchString(page) || strings.Count(page, "<script") != 1 {
		t.Errorf("/stats should load /static/stats.FINGERPRINT.js and no other script:\n%s", page)
	}
	if w := statsRequest(h, "/static/stats.js", "192.0.2.7:40000", "", ""); w.Code != http.StatusOK || !strings.Contains(w.Header().Get("Content-Type"), "javascript") {
		t.Errorf("GET /static/stats.js: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
}
