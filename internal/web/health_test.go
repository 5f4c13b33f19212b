package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/testenv"
	"github.com/tasklist/tasklist/internal/web"
)

// TestHealthz: /healthz answers 200 while the critical checks pass
// ("degraded" when another fails) and 503 when one fails, unless its
// fallback passes: the database down with the cache up (a caching layer
// on) is "degraded", serving from the cache, as the cached pages are still
// served. It tells the client only up or down: why a check failed, which
// may name servers or hold a driver's message, goes to the log, once per
// failing check.
func TestHealthz(t *testing.T) {
	// What a failing cache check might say; none of it may reach the client.
	errCache := errors.New("memcache: 10.1.2.3:11211: dial tcp: connection refused (user tasklist)")
	tests := []struct {
		name       string
		dbDown     bool
		noFallback bool // no caching layer: nothing serves without the database
		cacheErr   error
		wantCode   int
		wantReport map[string]any
		wantLogged []string // the checks logged as failed
	}{
		{
			name: "all up", wantCode: 200,
			wantReport: report("ok", "up", "up"),
		},
		{
			name: "cache down", cacheErr: errCache, wantCode: 200,
			wantReport: report("degraded", "up", "down"), wantLogged: []string{"cache"},
		},
		{
			name: "database down", dbDown: true, wantCode: 200,
			wantReport: serving(report("degraded", "down", "up")), wantLogged: []string{"database"},
		},
		{
			name: "database down, no cache to serve from", dbDown: true, noFallback: true, wantCode: 503,
			wantReport: report("unavailable", "down", "up"), wantLogged: []string{"database"},
		},
		{
			name: "both down", dbDown: true, cacheErr: errCache, wantCode: 503,
			wantReport: report("unavailable", "down", "down"), wantLogged: []string{"cache", "database"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, err := tasks.Open(t.Context(), testenv.SQLiteURL(t, "h.db"), tasks.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			if tt.dbDown {
				store.Close()
			}
			fallback := "cache"
			if tt.noFallback {
				fallback = ""
			}
			var logs testenv.LockedBuffer
			srv, err := web.New(web.Config{
				Tasks:        store,
				Logger:       slog.New(slog.NewTextHandler(&logs, nil)),
				AllowedHosts: []string{"*"},
				Health: []web.HealthCheck{
					{Name: "database", Critical: true, Fallback: fallback, Check: store.Ping},
					{Name: "cache", Check: func(context.Context) error { return tt.cacheErr }},
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			w := do(srv.Handler(), "GET", "/healthz", nil)
			var got map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatalf("/healthz body %q: %v", w.Body, err)
			}
			if w.Code != tt.wantCode {
				t.Errorf("/healthz = %d, want %d", w.Code, tt.wantCode)
			}
			if diff := cmp.Diff(tt.wantReport, got); diff != "" {
				t.Errorf("/healthz report (-want +got):\n%s", diff)
			}
			var logged []string
			for line := range strings.Lines(logs.String()) {
				if strings.Contains(line, `msg="healthz: check failed"`) && strings.Contains(line, "level=WARN") {
					_, rest, _ := strings.Cut(line, "check=")
					name, _, _ := strings.Cut(rest, " ")
					logged = append(logged, name)
				}
			}
			slices.Sort(logged)
			if diff := cmp.Diff(tt.wantLogged, logged); diff != "" {
				t.Errorf("checks logged as failed (-want +got):\n%s\nlog:\n%s", diff, logs.String())
			}
			if tt.cacheErr != nil && !strings.Contains(logs.String(), tt.cacheErr.Error()) {
				t.Errorf("the log lacks the cache check's error %q:\n%s", tt.cacheErr, logs.String())
			}
		})
	}
}

// report is the JSON /healthz answers with for these statuses.
func report(status, database, cache string) map[string]any {
	return map[string]any{
		"status": status,
		"checks": map[string]any{
			"database": map[string]any{"status": database},
			"cache":    map[string]any{"status": cache},
		},
	}
}

// serving is report r of an instance serving from the cache.
func serving(r map[string]any) map[string]any {
	r["serving"] = "cache"
	return r
}

// TestPagesDegradeWithoutDatabase: with the database gone the pages answer
// 503, not a crash.
func TestPagesDegradeWithoutDatabase(t *testing.T) {
	app := newStack(t, stackOptions{})
	app.Close()
	if w := do(app.handler, "GET", "/", nil); w.Code != 503 || !strings.Contains(w.Body.String(), "unavailable") {
		t.Errorf("GET / with the database closed = %d", w.Code)
	}
}
