package memcache

import (
	"bytes"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/cachetest"
	"github.com/tasklist/tasklist/internal/stats"
)

func TestHealth(t *testing.T) {
	const backoff = 10 * time.Second
	errDown := errors.New("connection refused")
	clock := cachetest.NewClock()
	var log bytes.Buffer
	h := newHealth([]string{"a:1", "b:1"}, 3, backoff, time.Hour, clock.Now, slog.New(slog.NewTextHandler(&log, nil)))
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
	h.success(0) // an answer from a down server does not bring it back
	check("an answer during the backoff", false, false)
	clock.Advance(time.Millisecond)
	// With nothing to replay, a probe still needs the server's answer (a
	// server that accepts connections and never answers stays down).
	contacts := 0
	if h.probe(0, keys(), func(keys []string) error { contacts++; return errDown }) || h.up(0) {
		t.Error("a probe with nothing to replay brought the server back without an answer")
	}
	if contacts != 1 {
		t.Errorf("a probe with nothing to replay contacted the server %d times, want 1", contacts)
	}
	clock.Advance(backoff)
	if !h.probe(0, keys(), func([]string) error { return nil }) {
		t.Error("third probe: the server is not back")
	}
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

// TestHealthReplaysDeferredDeletes: deletes for a server known down —
// failing for deferAfter, or refusing the credentials — are recorded, and a
// probe brings the server back only after deleting them, and the volatile
// keys, there; a failed replay keeps every key for the next one.
func TestHealthReplaysDeferredDeletes(t *testing.T) {
	const backoff, deferAfter = time.Second, 3 * time.Second
	clock := cachetest.NewClock()
	h := newHealth([]string{"a:1", "b:1"}, 1, backoff, deferAfter, clock.Now, nil)
	if d, _ := h.deferDelete(0, "k0", true); d {
		t.Error("a delete for a server that is up was deferred")
	}
	h.failure(0, errors.New("timeout"))
	if d, _ := h.deferDelete(0, "k0", true); d {
		t.Error("a delete for a server down for less than deferAfter was deferred")
	}
	h.markDown(1, errors.New("authentication failed"))
	if d, _ := h.deferDelete(1, "k0", true); !d {
		t.Error("a delete for a server refusing the credentials was not deferred")
	}
	clock.Advance(deferAfter)
	h.failure(0, errors.New("timeout")) // a probe failed: down for another backoff
	for i, k := range []string{"k1", "k2", "k1"} {
		if d, start := h.deferDelete(0, k, true); !d || start != (i == 0) {
			t.Errorf("delete of %s for a down server: deferred %v, start a replay %v; want true, %v", k, d, start, i == 0)
		}
	}
	var replayed [][]string
	replay := func(fail bool) func([]string) error {
		return func(keys []string) error {
			slices.Sort(keys)
			replayed = append(replayed, keys)
			if fail {
				return errors.New("timeout")
			}
			return nil
		}
	}
	if h.probe(0, keys("v"), replay(false)) {
		t.Error("probe during the backoff")
	}
	clock.Advance(backoff)
	if h.probe(0, keys("v"), replay(true)) || h.up(0) {
		t.Error("a failed replay brought the server back")
	}
	clock.Advance(backoff)
	if !h.probe(0, keys("v"), replay(false)) || !h.up(0) {
		t.Error("a replay that worked did not bring the server back")
	}
	want := [][]string{{"k1", "k2", "v"}, {"k1", "k2", "v"}}
	if diff := cmp.Diff(want, replayed); diff != "" {
		t.Errorf("replayed (-want +got):\n%s", diff)
	}
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
		for _, s := range serverStats(t, c) {
			if s.Client != (stats.Counts{}) {
				t.Errorf("server %s counted %+v; Ping counts nothing", s.Addr, s.Client)
			}
		}
	})
}

// keys is Options.Volatile returning ks.
func keys(ks ...string) func() []string { return func() []string { return ks } }

// TestHealthSendsDeletesToAnAnsweringServer: a server marked down that has
// answered since its last failure gets its deletes again, however long ago
// its failures began: this client keeps it down until a probe, but others
// may read it already, and a deferred delete would reach it only with the
// replay. Before, once the failures had begun deferAfter ago, every delete
// was deferred (TestServerPauses found stale reads so, 2 s after a 1 s
// pause); a new failure makes it deferrable again.
func TestHealthSendsDeletesToAnAnsweringServer(t *testing.T) {
	const deferAfter = 3 * time.Second
	clock := cachetest.NewClock()
	h := newHealth([]string{"a:1", "b:1"}, 1, time.Minute, deferAfter, clock.Now, nil)
	h.failure(0, errors.New("timeout"))
	clock.Advance(deferAfter)
	h.success(0) // an answer, to a delete say: the server is back
	if d, _ := h.deferDelete(0, "k", true); d || h.up(0) {
		t.Error("a delete for a server that answered since it failed was deferred (or the answer brought it back without a probe)")
	}
	if h.needsNote(0, false) {
		t.Error("a note asked for a server that answered since it failed: readers would shun it for nothing")
	}
	h.failure(0, errors.New("timeout"))
	if !h.needsNote(0, false) {
		t.Error("no note asked for a server failing again")
	}
	if d, _ := h.deferDelete(0, "k", true); !d {
		t.Error("a delete for a server failing again, for deferAfter since its failures began, was not deferred")
	}
}

// TestDeleteReachesARestartedServer: a server killed (its port refuses
// connections) is marked down and known down, so its deletes could be
// deferred; it starts again, empty, and another instance fills a key there
// with a value a write then deletes. The delete must reach it — a refusal
// costs nothing to try again — rather than be recorded for a replay that
// another instance's reads may precede. Before, the value stayed until the
// writer's replay.
func TestDeleteReachesARestartedServer(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
		servers := k.start(t, 1)
		opts, clock := k.clocked(servers, 1)
		opts.DeferAfter = time.Second
		writer := newClient(t, opts)
		other := newClient(t, k.options(servers))
		servers[0].Stop()
		if err := writer.Delete(t.Context(), "k"); err == nil {
			t.Fatal("a delete to a killed server succeeded")
		}
		clock.Advance(2 * opts.DeferAfter) // known down: its deletes may be deferred
		servers[0].Start()
		if err := other.Set(t.Context(), cache.Item{Key: "k", Value: []byte("before the write")}); err != nil {
			t.Fatal(err)
		}
		if err := writer.Delete(t.Context(), "k"); err != nil {
			t.Fatalf("the delete after the restart: %v", err)
		}
		if it, err := other.Get(t.Context(), "k"); !errors.Is(err, cache.ErrMiss) {
			t.Errorf("after the write's delete, another instance reads %q (%v): the delete was deferred, not made", it.Value, err)
		}
	})
}

// TestNoteCountsWhileItsHolderHasNotFailed: deletes for a down server are
// deferred on the strength of a note only while a server holding the note
// has recorded no failure since it was stored (it may have restarted empty,
// or be out of readers' reach) and only in the outage it was stored for.
// Before, a note stored in one outage let deletes be deferred in the next,
// while its holder was paused and no reader could see it: TestCoherence
// found stale reads so, after a server restarted and then every server
// paused.
func TestNoteCountsWhileItsHolderHasNotFailed(t *testing.T) {
	clock := cachetest.NewClock()
	h := newHealth([]string{"a:1", "b:1"}, 1, time.Minute, time.Hour, clock.Now, nil)
	noteOnB := func() { h.noted(0, clock.Now(), []noteHolder{{server: 1, failed: h.failedCount(1)}}) }

	h.failure(0, errors.New("timeout"))
	if d, _ := h.deferDelete(0, "k", true); d {
		t.Fatal("a delete was deferred without a note, long before deferAfter")
	}
	noteOnB()
	if d, _ := h.deferDelete(0, "k", true); !d {
		t.Fatal("a delete was not deferred with a note in place")
	}

	h.failure(1, errors.New("timeout")) // the note's holder fails
	if !h.needsNote(0, false) {
		t.Error("no new note asked for after its holder failed")
	}
	if d, _ := h.deferDelete(0, "k2", true); d {
		t.Error("a delete was deferred on a note whose holder failed since it was stored")
	}

	noteOnB()
	if !h.bringBack(0, nil, func([]string) error { return nil }) {
		t.Fatal("the server did not come back after its replay")
	}
	h.failure(0, errors.New("timeout")) // the next outage
	if d, _ := h.deferDelete(0, "k3", true); d {
		t.Error("a delete was deferred on the note of an earlier outage")
	}
}
