package app_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/tasklist/tasklist/internal/app"
	"github.com/tasklist/tasklist/internal/config"
	"github.com/tasklist/tasklist/internal/testenv"
)

// newApp builds the application from the variables of env over a fresh
// SQLite database (unless env names one), with opts, and closes it when
// the test ends.
func newApp(t *testing.T, env map[string]string, opts app.Options) *app.App {
	t.Helper()
	cfg, err := config.Load(func(name string) string {
		if name == "DATABASE_URL" && env[name] == "" {
			return testenv.SQLiteURL(t, "app.db")
		}
		return env[name]
	})
	if err != nil {
		t.Fatal(err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	a, err := app.New(t.Context(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// TestRunChecksTheCache: New leaves the task-list cache's check against
// the database to Run, which does it every TASKLIST_CACHE_TTL until its
// context ends, and then returns. Nothing else reads the database here: a
// check is a revision query, as /stats counts them.
func TestRunChecksTheCache(t *testing.T) {
	a := newApp(t, map[string]string{"TASKLIST_CACHE_TTL": "50ms"}, app.Options{})
	checks := func() uint64 {
		for _, q := range a.Queries().QueryStats() {
			if q.Kind == "revision" {
				return q.Count
			}
		}
		panic("no revision queries counted")
	}
	if n := checks(); n != 0 {
		t.Fatalf("%d checks ran before Run", n)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Run(ctx)
	}()
	defer cancel()
	testenv.WaitFor(t, "two checks of the cache", func() bool { return checks() >= 2 })
	cancel()
	testenv.WaitFor(t, "Run's return after its context ended", func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	})
}

// TestNamesChecked: the strategy and the session engine are checked by
// the packages that own them, both reported at once, and New refuses them.
func TestNamesChecked(t *testing.T) {
	cfg, err := config.Load(func(name string) string {
		return map[string]string{"TASKLIST_INVALIDATION": "sometimes", "TASKLIST_SESSION_ENGINE": "paper"}[name]
	})
	if err != nil {
		t.Fatal(err)
	}
	err = app.CheckNames(cfg)
	for _, want := range []string{`TASKLIST_INVALIDATION="sometimes"`, `TASKLIST_SESSION_ENGINE="paper"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckNames = %v, want an error naming %s", err, want)
		}
	}
	if _, err := app.New(t.Context(), cfg, app.Options{}); err == nil {
		t.Error("New accepted unknown names")
	}
}
