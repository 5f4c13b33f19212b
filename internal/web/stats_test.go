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

// TestStatsAccess: the application's three statistics routes are behind
// the dashboard's access rules, as configured: loopback only without
// TASKLIST_STATS_PASSWORD, the user and password with it. The rules
// themselves, case by case, are package dashboard's tests (TestAccess).
func TestStatsAccess(t *testing.T) {
	open := newStack(t, stackOptions{hosts: []string{"*"}}).handler
	guarded := newStack(t, stackOptions{hosts: []string{"*"}, statsUser: "watcher", statsPassword: "stats-password"}).handler
	defaultUser := newStack(t, stackOptions{hosts: []string{"*"}, statsPassword: "stats-password"}).handler
	tests := []struct {
		name           string
		h              http.Handler
		remote         string
		user, password string
		want           int
	}{
		{"no password, loopback", open, "127.0.0.1:40000", "", "", http.StatusOK},
		{"no password, remote", open, "192.0.2.7:40000", "", "", http.StatusForbidden},
		{"password, remote, right credentials", guarded, "192.0.2.7:40000", "watcher", "stats-password", http.StatusOK},
		{"password, loopback, none", guarded, "127.0.0.1:40000", "", "", http.StatusUnauthorized},
		{"password, wrong user", guarded, "192.0.2.10:40000", "admin", "stats-password", http.StatusUnauthorized},
		{"password, default user", defaultUser, "192.0.2.7:40000", "admin", "stats-password", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, route := range statsRoutes {
				if w := statsRequest(tt.h, route, tt.remote, tt.user, tt.password); w.Code != tt.want {
					t.Errorf("GET %s: status %d, want %d:\n%s", route, w.Code, tt.want, w.Body)
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
