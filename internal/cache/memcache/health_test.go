package memcache

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/cachetest"
)

func TestHealth(t *testing.T) {
	const backoff = 10 * time.Second
	errDown := errors.New("connection refused")
	clock := cachetest.NewClock()
	var log bytes.Buffer
	h := newHealth([]string{"a:1", "b:1"}, 3, backoff, clock.Now, slog.New(slog.NewTextHandler(&log, nil)))
	check := func(step string, wantUp, wantUsable bool) {
		t.Helper()
		if got := h.up(0); got != wantUp {
			t.Errorf("%s: up = %v, want %v", step, got, wantUp)
		}
		if got := h.usable(0); got != wantUsable {
			t.Errorf("%s: usable = %v, want %v", step, got, wantUsable)
		}
	}

	h.failure(0, errDown)
	h.failure(0, errDown)
	h.success(0)
	h.failure(0, errDown)
	h.failure(0, errDown)
	check("2 failures, a success, 2 failures", true, true)
	h.failure(0, errDown)
	check("3 failures in a row", false, false)
	if !h.up(1) || !h.usable(1) {
		t.Error("the other server went down too")
	}
	clock.Advance(backoff - time.Millisecond)
	check("just before the backoff ends", false, false)
	clock.Advance(time.Millisecond)
	check("backoff over: one probe", false, true)
	check("while the probe runs", false, false)
	h.failure(0, errDown)
	clock.Advance(backoff - time.Millisecond)
	check("failed probe: down for another backoff", false, false)
	clock.Advance(time.Millisecond)
	check("second probe", false, true)
	h.success(0)
	check("probe succeeded", true, true)
	h.failure(0, errDown)
	h.failure(0, errDown)
	check("failures are counted afresh", true, true)
	for _, want := range []string{`server marked down" server=a:1`, `server is up again" server=a:1`} {
		if strings.Count(log.String(), want) != 1 {
			t.Errorf("log does not say %q once:\n%s", want, log.String())
		}
	}

	// A probe whose outcome is never reported (its request was cancelled)
	// does not keep the server down for good.
	h.failure(0, errDown)
	clock.Advance(backoff)
	check("probe granted", false, true)
	clock.Advance(backoff)
	check("next probe after another backoff", false, true)
}

// TestPing: Ping reports a stopped server by its address; while the server
// is marked down Ping does not wait on it; once its backoff has passed,
// Ping is the probe that brings it back. Pinging counts nothing.
func TestPing(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
		servers := k.start(t, 2)
		opts, clock := k.clocked(servers, 1)
		c := newClient(t, opts)
		ctx := t.Context()
		down := func(step string) {
			t.Helper()
			err := c.Ping(ctx)
			if !errors.Is(err, cache.ErrUnavailable) || !strings.Contains(err.Error(), c.addrs[0]) || strings.Contains(err.Error(), c.addrs[1]) {
				t.Errorf("%s: Ping = %v; want unavailable, naming %s only", step, err, c.addrs[0])
			}
		}
		if err := c.Ping(ctx); err != nil {
			t.Errorf("Ping with both servers up: %v", err)
		}
		servers[0].Stop()
		down("server stopped")
		if c.health.up(0) {
			t.Error("a failed Ping did not mark the server down")
		}
		servers[0].Start()
		down("server back, backoff not over")
		clock.Advance(opts.Backoff)
		if err := c.Ping(ctx); err != nil {
			t.Errorf("Ping once the backoff has passed: %v", err)
		}
		if !c.health.up(0) {
			t.Error("a successful probe by Ping did not mark the server up")
		}
		for _, s := range stats(t, c) {
			if got := (cache.ServerStats{Hits: s.Hits, Misses: s.Misses, Sets: s.Sets, Deletes: s.Deletes, Errors: s.Errors}); got != (cache.ServerStats{}) {
				t.Errorf("server %s counted %+v; Ping counts nothing", s.Addr, got)
			}
		}
	})
}
