package fill_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/fill"
	"github.com/tasklist/tasklist/internal/testenv"
)

// TestLeaseNobodyCanFill: a lease its holder cannot fill — the load fails,
// the value is over the item limit (2 MiB; both backends take 1 MiB), the
// swap fails as a cache failing after the lease does — is released at once:
// the key is empty afterwards, and another instance, whose LeaseTTL is a
// minute, loads at once without a single lease wait.
//
// Fails if an unfillable lease is not released (release made a no-op: the
// lease stays, and the other instance would wait a minute); seen failing in
// every case.
func TestLeaseNobodyCanFill(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(src *source, a instance)
		wantErr error
		outcome fill.Outcome
	}{
		{"load fails", func(src *source, _ instance) {
			err := errLoad
			src.fail.Store(&err)
		}, errLoad, fill.Miss},
		{"too large", func(src *source, _ instance) { src.size = 2 << 20 }, nil, fill.Miss},
		{"swap fails", func(_ *source, a instance) { a.f.failCAS.Store(true) }, nil, fill.Miss},
		// The add stored the lease but its answer came too late: the
		// holder cannot know it holds it. Fails if the fill does not
		// delete what may be its lease before it bypasses.
		{"add timed out", func(_ *source, a instance) { a.f.lateAdd.Store(true) }, nil, fill.Bypass},
	}
	eachBackend(t, envOptions{servers: 2}, func(t *testing.T, e *env) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				src := &source{}
				spec := src.spec("unfillable:" + tc.name)
				a, b := e.instance(raceOptions), e.instance(raceOptions)
				tc.setup(src, a)

				r, err := a.g.Get(t.Context(), spec)
				if !errors.Is(err, tc.wantErr) || err == nil && (!strings.HasPrefix(string(r.Data), "v0") || r.Outcome != tc.outcome) {
					t.Errorf("Get = %.10q… (%v), %v; want v0 (%v), error %v", r.Data, r.Outcome, err, tc.outcome, tc.wantErr)
				}
				if it, err := b.c.Get(t.Context(), spec.Key); !errors.Is(err, cache.ErrMiss) {
					t.Fatalf("after the failed fill the key holds %.10q (%v); want nothing: the lease released", it.Value, err)
				}
				ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
				defer cancel()
				if r, err := b.g.Get(ctx, spec); err != nil || !strings.HasPrefix(string(r.Data), "v0") {
					t.Errorf("the other instance's Get = %.10q, %v; want v0", r.Data, err)
				}
				if st := b.counts.Counts(); st.Hits != 0 || st.Misses != 1 {
					t.Errorf("the other instance counted %+v, want a miss of its own: a load, not a wait for a lease", st)
				}
			})
		}
	})
}

// TestCacheDown: with the cache stopped (memcached killed; the in-process
// backend failing every call) or, for memcached, paused (it accepts
// connections and never answers), every Get is a Bypass with the source's
// current value, without error and without waiting more than the cache's
// timeout (100ms per call) — a Get that waited on a lease (LeaseTTL is a
// minute) would run into the test's deadline. It fails if a cache error is
// returned or treated as a hit, or if the fill waits for the cache.
func TestCacheDown(t *testing.T) {
	eachBackend(t, envOptions{servers: 2, timeout: 100 * time.Millisecond}, func(t *testing.T, e *env) {
		type fault struct {
			name  string
			apply func(t *testing.T)
		}
		faults := []fault{{"stopped", func(*testing.T) { e.stop() }}}
		if e.local == nil {
			faults = append([]fault{{"paused", e.pause}}, faults...)
		}
		for _, fault := range faults {
			t.Run(fault.name, func(t *testing.T) {
				src := &source{}
				spec := src.spec("down:" + fault.name)
				in := e.instance(raceOptions)
				// A value cached before the cache went down.
				goGet(t.Context(), in.g, spec).wantData(t, "before the fault", value(0))
				before, loadsBefore := in.counts.Counts(), src.loads.Load()
				fault.apply(t)

				ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
				defer cancel()
				for i := range 3 {
					v := src.write()
					goGet(ctx, in.g, spec).want(t, fmt.Sprintf("sequential Get %d", i), value(v), fill.Bypass)
				}
				v := src.write()
				calls := make([]*call, 10)
				for i := range calls {
					calls[i] = goGet(ctx, in.g, spec)
				}
				for i, c := range calls {
					c.want(t, fmt.Sprintf("concurrent Get %d", i), value(v), fill.Bypass)
				}
				st := in.counts.Counts()
				hits, misses, bypasses := st.Hits-before.Hits, st.Misses-before.Misses, st.Errors-before.Errors
				if loads := uint64(src.loads.Load() - loadsBefore); hits != 0 || misses != 13 || bypasses == 0 || loads != bypasses {
					t.Errorf("counters moved from %+v to %+v with %d loads; want 13 misses, every load a bypass (an error)", before, st, loads)
				}
			})
		}
	})
}

// TestImmutableServedBeforeStored: the requests waiting for the flight of
// a key that names its version (Spec.Immutable) have the value once it is
// loaded, without waiting for the round trip that stores it; the request
// flying the flight stores it with a plain set, after which another
// instance reads it from the cache rather than load it again.
func TestImmutableServedBeforeStored(t *testing.T) {
	eachBackend(t, envOptions{}, func(t *testing.T, e *env) {
		src := &source{}
		spec := src.spec("immutable")
		spec.Immutable = true
		in, other := e.instance(raceOptions), e.instance(raceOptions)

		load := newGate(t, 0)
		src.after.Store(hook(load.wait))
		leader := goGet(t.Context(), in.g, spec)
		load.held(t, "the load") // the lease is taken
		waiter := goGet(t.Context(), in.g, spec)
		testenv.WaitFor(t, "a second request waits for the flight", waiting(2))

		store := newGate(t, 0)
		in.f.beforeWrite.Store(hook(store.wait)) // the next write stores the value
		load.open()
		store.held(t, "the store")
		waiter.want(t, "the waiting request, while the value is not stored", value(0), fill.Miss)
		if leader.finished() {
			t.Error("the request flying the flight answered before it stored the value")
		}
		store.open()
		leader.want(t, "the request flying the flight", value(0), fill.Miss)

		goGet(t.Context(), other.g, spec).want(t, "another instance", value(0), fill.Hit)
		if n := src.loads.Load(); n != 1 {
			t.Errorf("%d loads, want 1", n)
		}
	})
}
