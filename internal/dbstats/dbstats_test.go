package dbstats_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/tasklist/tasklist/internal/dbstats"
	"github.com/tasklist/tasklist/internal/reqtrace"
	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/tasks/taskstest"
	"github.com/tasklist/tasklist/internal/testenv"
)

// TestUnavailable: the database is unavailable from a call that failed
// (the proxy in front of PostgreSQL refuses connections), a query or a
// ping, until a call succeeds or is answered (a task not found); the
// failing call's trace says so. A caller that went away changes nothing.
func TestUnavailable(t *testing.T) {
	u, err := url.Parse(testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := testenv.StartProxy(t, u.Host)
	u.Host = proxy.Addr()
	src := taskstest.Open(t, u.String(), tasks.Options{})
	s := dbstats.New(src)
	ctx := t.Context()
	expect := func(step string, want bool) {
		t.Helper()
		if got := s.Unavailable(); got != want {
			t.Errorf("%s: Unavailable = %v, want %v", step, got, want)
		}
	}
	if _, err := s.Head(ctx); err != nil {
		t.Fatal(err)
	}
	expect("after a query", false)

	proxy.Refuse()
	gone, cancel := context.WithCancel(ctx)
	cancel()
	s.Head(gone)
	expect("a caller that went away", false)
	trace := new(reqtrace.Trace)
	if _, err := s.Page(reqtrace.With(ctx, trace), 0, 10); err == nil {
		t.Fatal("Page with the database refused succeeded")
	}
	expect("a query that failed", true)
	if got := trace.ServerTiming(0); !strings.Contains(got, `db;desc="unavailable, 1 query"`) {
		t.Errorf("the failed query's Server-Timing = %s, want it to say the database is unavailable", got)
	}
	s.Head(gone)
	expect("a caller that went away during the outage", true)

	if err := proxy.Forward(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	expect("a ping that succeeded", false)
	proxy.Refuse()
	if err := s.Ping(ctx); err == nil {
		t.Fatal("Ping with the database refused succeeded")
	}
	expect("a ping that failed", true)
	if err := proxy.Forward(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Remove(ctx, 1<<40, ""); err == nil {
		t.Fatal("Remove of a task that does not exist succeeded")
	}
	expect("an answer (no such task)", false)
}
