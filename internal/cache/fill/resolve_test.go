package fill_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/cachetest"
	"github.com/tasklist/tasklist/internal/cache/fill"
)

const testMaxStale = 10 * time.Second

// state is something a key can hold, or a cache that cannot be read.
type state struct {
	name string
	// prepare puts the state at spec.Key of in; filler fills a value from
	// the same source on another Group.
	prepare func(t *testing.T, in instance, filler *fill.Group, spec fill.Spec)
	// stale says the test clock must pass MaxStale after prepare.
	stale bool
}

func fillValue(t *testing.T, _ instance, filler *fill.Group, spec fill.Spec) {
	if _, err := filler.Get(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
}

var states = []state{
	{"absent", func(*testing.T, instance, *fill.Group, fill.Spec) {}, false},
	{"fresh value", fillValue, false},
	{"value past MaxStale", fillValue, true},
	{"unreadable", func(t *testing.T, in instance, _ *fill.Group, spec fill.Spec) {
		set(t, in.c, spec.Key, unreadable[0].raw)
	}, false},
	{"cache failing", func(_ *testing.T, in instance, _ *fill.Group, _ fill.Spec) { in.f.down.Store(true) }, false},
}

// TestResolve: Resolve, given the read of a caller that fetched the key with
// others in one GetMulti, behaves as Get: the same result and the same
// counters, whatever the key holds; a value it can serve from the read it
// was given costs no other read. Fails if Resolve ignores the read it was
// given (a Get it should not make) or serves what Get would not; seen
// failing the first way.
func TestResolve(t *testing.T) {
	clock := cachetest.NewClock()
	wants := map[string]fill.Outcome{"absent": fill.Miss, "fresh value": fill.Hit, "value past MaxStale": fill.Miss, "unreadable": fill.Miss, "cache failing": fill.Bypass}
	eachBackend(t, envOptions{clock: clock.Now}, func(t *testing.T, e *env) {
		for _, s := range states {
			t.Run(s.name, func(t *testing.T) {
				type path struct {
					in   instance
					src  *source
					spec fill.Spec
				}
				paths := map[string]*path{"Get": nil, "Resolve": nil}
				for name := range paths {
					p := &path{in: e.instance(fill.Options{Now: clock.Now}), src: &source{}}
					p.spec = p.src.spec("resolve:" + s.name + ":" + name)
					p.spec.MaxStale = testMaxStale
					s.prepare(t, p.in, fill.New(p.in.c, fill.Options{Now: clock.Now}), p.spec)
					p.src.write()
					paths[name] = p
				}
				if s.stale {
					clock.Advance(testMaxStale + 1)
				}
				ctx := t.Context()
				g, r := paths["Get"], paths["Resolve"]
				getsBefore := r.in.f.gets.Load()
				gotGet, err := g.in.g.Get(ctx, g.spec)
				if err != nil {
					t.Fatalf("Get: %v", err)
				}
				items, err := r.in.c.GetMulti(ctx, []string{"other", r.spec.Key})
				it, ok := items[r.spec.Key]
				if err == nil && !ok {
					err = cache.ErrMiss
				}
				gotResolve, err := r.in.g.Resolve(ctx, r.spec, it, err)
				if err != nil {
					t.Fatalf("Resolve: %v", err)
				}
				if gotGet.Outcome != wants[s.name] {
					t.Errorf("Get's outcome = %v, want %v", gotGet.Outcome, wants[s.name])
				}
				if diff := cmp.Diff(gotGet, gotResolve); diff != "" {
					t.Errorf("Resolve's result differs from Get's (-Get +Resolve):\n%s", diff)
				}
				if diff := cmp.Diff(g.in.counts.Counts(), r.in.counts.Counts()); diff != "" {
					t.Errorf("Resolve's counters differ from Get's (-Get +Resolve):\n%s", diff)
				}
				if gets := r.in.f.gets.Load() - getsBefore; gotResolve.Outcome == fill.Hit && gets != 0 {
					t.Errorf("Resolve, given a usable value, read the cache %d more times", gets)
				}
			})
		}
	})
}
