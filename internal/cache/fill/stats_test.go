package fill_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/cache/cachetest"
	"github.com/tasklist/tasklist/internal/cache/fill"
	"github.com/tasklist/tasklist/internal/stats"
	"github.com/tasklist/tasklist/internal/testenv"
)

// TestStats: each way a request can go moves the counters as
// Options.Counter documents them, and loads the source as often as it
// should. Only the instance under test (in) is counted; other is another
// instance, whose loads come from the same source. Fails if any counter
// moves differently; seen failing when a hit after a lease wait was
// counted as a miss and when a bypass was not counted.
func TestStats(t *testing.T) {
	clock := cachetest.NewClock() // the clock of in's Group only
	scenarios := []struct {
		name string
		run  func(t *testing.T, in, other instance, src *source, spec fill.Spec)
		want stats.Counts
		// loads are the source's, by both instances.
		loads int64
	}{
		{"cold key", func(t *testing.T, in, _ instance, _ *source, spec fill.Spec) {
			goGet(t.Context(), in.g, spec).want(t, "Get", value(0), fill.Miss)
		}, stats.Counts{Misses: 1, Sets: 1}, 1},
		{"cached value", func(t *testing.T, in, other instance, _ *source, spec fill.Spec) {
			goGet(t.Context(), other.g, spec).want(t, "other's Get", value(0), fill.Miss)
			goGet(t.Context(), in.g, spec).want(t, "Get", value(0), fill.Hit)
		}, stats.Counts{Hits: 1}, 1},
		{"load fails", func(t *testing.T, in, _ instance, src *source, spec fill.Spec) {
			err := errLoad
			src.fail.Store(&err)
			if _, err := in.g.Get(t.Context(), spec); !errors.Is(err, errLoad) {
				t.Errorf("Get: %v, want %v", err, errLoad)
			}
		}, stats.Counts{}, 1},
		{"too large", func(t *testing.T, in, _ instance, src *source, spec fill.Spec) {
			src.size = 2 << 20
			if r, err := in.g.Get(t.Context(), spec); err != nil || r.Outcome != fill.Miss {
				t.Errorf("Get: %v, %v", r.Outcome, err)
			}
		}, stats.Counts{Misses: 1}, 1},
		{"invalidated during the load", func(t *testing.T, in, other instance, src *source, spec fill.Spec) {
			held := newGate(t, 0)
			src.after.Store(hook(held.wait))
			c := goGet(t.Context(), in.g, spec)
			held.held(t, "the load")
			if err := other.c.Delete(t.Context(), spec.Key); err != nil {
				t.Fatal(err)
			}
			held.open()
			c.want(t, "Get", value(0), fill.Miss)
		}, stats.Counts{Misses: 1}, 1},
		{"two requests, one flight", func(t *testing.T, in, _ instance, _ *source, spec fill.Spec) {
			// Hold the flight before it takes the lease, so that the
			// second request joins it (not once it loads: a request
			// arriving then does not join).
			held := newGate(t, 0)
			in.f.beforeWrite.Store(hook(held.wait))
			c1 := goGet(t.Context(), in.g, spec)
			held.held(t, "the lease")
			c2 := goGet(t.Context(), in.g, spec)
			testenv.WaitFor(t, "both requests wait for the flight", waiting(2))
			held.open()
			c1.want(t, "Get 1", value(0), fill.Miss)
			c2.want(t, "Get 2", value(0), fill.Miss)
		}, stats.Counts{Misses: 2, Sets: 1}, 1},
		{"waits for another's lease", func(t *testing.T, in, other instance, src *source, spec fill.Spec) {
			c, o, load := waitOnLease(t, in, other, src, spec)
			load.open()
			o.want(t, "other's Get", value(0), fill.Miss)
			c.want(t, "Get", value(0), fill.Hit)
		}, stats.Counts{Hits: 1}, 1},
		{"lease holder too slow", func(t *testing.T, in, other instance, src *source, spec fill.Spec) {
			c, o, load := waitOnLease(t, in, other, src, spec)
			clock.Advance(raceOptions.LeaseTTL + 1)
			c.want(t, "Get", value(0), fill.Bypass)
			load.open()
			o.want(t, "other's Get", value(0), fill.Miss)
		}, stats.Counts{Misses: 1, Errors: 1}, 2},
		{"cache down", func(t *testing.T, in, _ instance, _ *source, spec fill.Spec) {
			in.f.down.Store(true)
			goGet(t.Context(), in.g, spec).want(t, "Get", value(0), fill.Bypass)
		}, stats.Counts{Misses: 1, Errors: 1}, 1},
	}
	eachBackend(t, envOptions{}, func(t *testing.T, e *env) {
		for _, sc := range scenarios {
			t.Run(sc.name, func(t *testing.T) {
				src := &source{}
				spec := src.spec("stats:" + sc.name)
				opts := raceOptions
				opts.Now = clock.Now
				in, other := e.instance(opts), e.instance(raceOptions)
				sc.run(t, in, other, src, spec)
				if diff := cmp.Diff(sc.want, in.counts.Counts()); diff != "" {
					t.Errorf("counters (-want +got):\n%s", diff)
				}
				if n := src.loads.Load(); n != sc.loads {
					t.Errorf("%d loads, want %d", n, sc.loads)
				}
			})
		}
	})
}
