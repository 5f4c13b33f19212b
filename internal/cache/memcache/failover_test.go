package memcache

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/cachetest"
	"github.com/tasklist/tasklist/internal/stats"
)

// TestServerKilled: when a server dies, only FailureThreshold requests see
// it fail; then its keys go to the other server, without waiting; once it
// is back and the backoff has passed, it takes its keys back.
func TestServerKilled(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
		servers := k.start(t, 2)
		opts, clock := k.clocked(servers, 2)
		opts.Timeout = 5 * time.Second // a request that waits on a timeout shows
		c := newClient(t, opts)
		ctx := t.Context()
		onA, onB := keysOn(c, 0, 50, "a:"), keysOn(c, 1, 50, "b:")
		for _, key := range append(onA, onB...) {
			if err := c.Set(ctx, cache.Item{Key: key, Value: []byte(key)}); err != nil {
				t.Fatal(err)
			}
		}

		servers[0].Stop()
		start := time.Now()
		unavailable := 0
		for _, key := range onA {
			_, err := c.Get(ctx, key)
			switch {
			case errors.Is(err, cache.ErrUnavailable):
				unavailable++
			case errors.Is(err, cache.ErrMiss): // now asked of B
				if err := c.Set(ctx, cache.Item{Key: key, Value: []byte(key)}); err != nil {
					t.Errorf("Set(%s) with A down: %v", key, err)
				}
			default:
				t.Errorf("Get(%s) with A down: %v, want a miss or unavailable", key, err)
			}
		}
		for _, key := range append(onA[opts.FailureThreshold:], onB...) {
			if it, err := c.Get(ctx, key); err != nil || string(it.Value) != key {
				t.Errorf("Get(%s) with A down: %q, %v; want it from B", key, it.Value, err)
			}
		}
		if elapsed := time.Since(start); elapsed > opts.Timeout {
			t.Errorf("%d requests with A down took %v, longer than one timeout", 3*len(onA)+len(onB), elapsed)
		}
		if unavailable != opts.FailureThreshold {
			t.Errorf("%d requests failed, want FailureThreshold = %d", unavailable, opts.FailureThreshold)
		}
		st := serverStats(t, c)
		if st[0].Up || st[0].Client.Errors != uint64(opts.FailureThreshold) || !st[1].Up {
			t.Errorf("Stats with A down: %+v; want A down with %d errors, B up", st, opts.FailureThreshold)
		}

		servers[0].Start()
		clock.Advance(opts.Backoff - time.Second)
		c.Get(ctx, onA[0])
		if st := serverStats(t, c); st[0].Up {
			t.Fatal("A was used again before the backoff passed")
		}
		clock.Advance(time.Second)
		if _, err := c.Get(ctx, onA[0]); !errors.Is(err, cache.ErrMiss) { // the probe: A restarted empty
			t.Errorf("probe Get: %v, want a miss from the restarted A", err)
		}
		before := serverStats(t, c)[0]
		if !before.Up {
			t.Fatal("A is still down after a successful probe")
		}
		for _, key := range onA {
			if err := c.Set(ctx, cache.Item{Key: key, Value: []byte("back")}); err != nil {
				t.Fatal(err)
			}
		}
		after := serverStats(t, c)[0]
		if sets := after.Client.Sets - before.Client.Sets; sets != uint64(len(onA)) || after.Items != uint64(len(onA)) {
			t.Errorf("A's keys were not stored on A again: %d sets, %d items; want %d", sets, after.Items, len(onA))
		}
	})
}

// TestServerPaused: a server that accepts connections but never answers
// (SIGSTOP) makes requests time out with ErrUnavailable, not hang, and only
// until it is marked down.
func TestServerPaused(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
		servers := k.start(t, 2)
		opts, _ := k.clocked(servers, 2) // the clock stands still: no probe ends the backoff
		opts.Timeout = time.Second
		c := newClient(t, opts)
		onA, onB := keysOn(c, 0, 20, "a:"), keysOn(c, 1, 20, "b:")
		for _, key := range append(onA, onB...) {
			if err := c.Set(t.Context(), cache.Item{Key: key, Value: []byte(key)}); err != nil {
				t.Fatal(err)
			}
		}

		servers[0].Pause()
		defer servers[0].Resume()
		start := time.Now()
		timeouts := 0
		for i := range onA {
			// A hang shows as the watchdog's deadline, far beyond the timeout.
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			_, errA := c.Get(ctx, onA[i])
			_, errB := c.Get(ctx, onB[i])
			cancel()
			if errors.Is(errA, cache.ErrUnavailable) {
				timeouts++
				if !isTimeout(errA) {
					t.Errorf("Get from the paused server: %v, want a timeout", errA)
				}
			} else if !errors.Is(errA, cache.ErrMiss) {
				t.Errorf("Get from the paused server: %v, want unavailable, then a miss from B", errA)
			}
			if errB != nil {
				t.Errorf("Get from B: %v", errB)
			}
		}
		if timeouts != opts.FailureThreshold {
			t.Errorf("%d requests timed out, want FailureThreshold = %d", timeouts, opts.FailureThreshold)
		}
		if bound := time.Duration(len(onA)/2) * opts.Timeout; time.Since(start) > bound {
			t.Errorf("%d requests took %v; after A was marked down they should not wait (bound %v)", 2*len(onA), time.Since(start), bound)
		}
	})
}

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// serverStats is c.Stats, its error logged.
func serverStats(t *testing.T, c *Client) []stats.Server {
	t.Helper()
	st, err := c.Stats(t.Context())
	if err != nil {
		t.Logf("Stats: %v", err)
	}
	return st
}

// TestVerifyUnreachable: at start-up an unreachable server is reported,
// but it is not ErrAuth, and the client uses the server once it is there.
func TestVerifyUnreachable(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
		servers := k.start(t, 1)
		servers[0].Stop()
		clock := cachetest.NewClock()
		opts := k.options(servers)
		opts.Now, opts.FailureThreshold = clock.Now, 1
		c := newClient(t, opts)
		err := c.Verify(t.Context())
		if !errors.Is(err, cache.ErrUnavailable) || errors.Is(err, ErrAuth) {
			t.Fatalf("Verify with the server stopped: %v, want unavailable, not ErrAuth", err)
		}
		if _, err := c.Get(t.Context(), "k"); !errors.Is(err, cache.ErrUnavailable) {
			t.Errorf("Get with the server stopped: %v, want unavailable", err)
		}
		servers[0].Start()
		clock.Advance(opts.Backoff + DefaultBackoff)
		if err := c.Set(t.Context(), cache.Item{Key: "k", Value: []byte("v")}); err != nil {
			t.Errorf("Set once the server is back: %v", err)
		}
		if err := c.Verify(t.Context()); err != nil {
			t.Errorf("Verify once the server is back: %v", err)
		}
	})
}

// TestContextEndsRequest: with SASL, a context's deadline or cancellation
// ends a request to a server that does not answer, long before the
// timeout; a cancelled request does not count against the server.
func TestContextEndsRequest(t *testing.T) {
	k := kinds[1]
	servers := k.start(t, 1)
	opts := k.options(servers)
	opts.Timeout, opts.FailureThreshold = time.Minute, 1
	c := newClient(t, opts)
	if err := c.Verify(t.Context()); err != nil { // opens a connection
		t.Fatal(err)
	}
	servers[0].Pause()
	defer servers[0].Resume()

	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Get(ctx, "k")
	if !errors.Is(err, cache.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("Get cancelled: %v, want unavailable and context.Canceled", err)
	}
	if !c.health.up(0) { // not Stats, which would ask the paused server
		t.Error("a cancelled request marked the server down")
	}

	ctx, cancel = context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err = c.Get(ctx, "k")
	if !errors.Is(err, cache.ErrUnavailable) || !isTimeout(err) {
		t.Errorf("Get past the context's deadline: %v, want unavailable and a timeout", err)
	}
	if elapsed := time.Since(start); elapsed > opts.Timeout/2 {
		t.Errorf("two requests took %v: the context did not end them", elapsed)
	}
	if c.health.up(0) {
		t.Error("a request that timed out did not count against the server")
	}
}

// TestGetMultiPartial: with one of two servers stopped or paused, GetMulti
// returns what the other found, with an error naming the failed server and
// listing its keys; the failed server's keys are neither hits nor misses,
// and its failure is one error.
func TestGetMultiPartial(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
		for _, fault := range []string{"stopped", "paused"} {
			t.Run(fault, func(t *testing.T) {
				servers := k.start(t, 2)
				setup := newClient(t, k.options(servers))
				onA, onB := keysOn(setup, 0, 5, "a:"), keysOn(setup, 1, 6, "b:")
				want := map[string]string{}
				for _, key := range append(onA, onB[:3]...) { // half of B's keys are absent
					if err := setup.Set(t.Context(), cache.Item{Key: key, Value: []byte(key)}); err != nil {
						t.Fatal(err)
					}
					if !slices.Contains(onA, key) {
						want[key] = key
					}
				}
				// A client of its own, whose counters count only the
				// GetMulti, with a shorter wait for the paused server.
				opts := k.options(servers)
				opts.Timeout = 3 * time.Second
				// A is down after the one failure, so that the Stats after
				// it do not ask A again.
				opts.FailureThreshold = 1
				c := newClient(t, opts)
				if fault == "stopped" {
					servers[0].Stop()
				} else {
					servers[0].Pause()
					defer servers[0].Resume()
				}

				items, err := c.GetMulti(t.Context(), append(slices.Clone(onA), onB...))
				if diff := cmp.Diff(want, cachetest.Values(t, items)); diff != "" {
					t.Errorf("GetMulti items (-want +got):\n%s", diff)
				}
				var partial *cache.PartialError
				if !errors.Is(err, cache.ErrUnavailable) || !errors.As(err, &partial) {
					t.Fatalf("GetMulti error = %v, want a *cache.PartialError matching cache.ErrUnavailable", err)
				}
				if msg := err.Error(); !strings.Contains(msg, c.addrs[0]) || strings.Contains(msg, c.addrs[1]) {
					t.Errorf("GetMulti error %q should name the failed server %s and only it", msg, c.addrs[0])
				}
				if diff := cmp.Diff(onA, partial.Unanswered, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
					t.Errorf("Unanswered keys (-want +got):\n%s", diff)
				}
				var counted []stats.Counts
				for _, s := range serverStats(t, c) {
					counted = append(counted, s.Client)
				}
				wantCounted := []stats.Counts{{Errors: 1}, {Hits: 3, Misses: 3}}
				if diff := cmp.Diff(wantCounted, counted); diff != "" {
					t.Errorf("counters per server (-want +got):\n%s", diff)
				}
			})
		}
	})
}
