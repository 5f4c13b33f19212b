package fill_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/cachetest"
	"github.com/tasklist/tasklist/internal/cache/fill"
	"github.com/tasklist/tasklist/internal/stats"
)

// TestMaxStale: under Spec.MaxStale a value is served until MaxStale has
// passed since its readAt, and taken over after. readAt is when the load
// began — every load here takes 3s on the test's clock — unless the load
// says otherwise.
//
// Fails if readAt is taken when the load ends (the value is served 3s too
// long), if a value is dropped at exactly MaxStale or served past it, or if
// a load's own readAt is ignored; seen failing each way.
func TestMaxStale(t *testing.T) {
	const maxStale, loadTakes = 10 * time.Second, 3 * time.Second
	clock := cachetest.NewClock()
	eachBackend(t, envOptions{clock: clock.Now}, func(t *testing.T, e *env) {
		src := &source{}
		src.before.Store(hook(func() { clock.Advance(loadTakes) }))
		spec := src.spec("maxstale")
		spec.MaxStale = maxStale
		in := e.instance(fill.Options{Now: clock.Now, LeaseTTL: time.Minute, PollInterval: time.Millisecond})
		t0 := clock.Now()
		// A readAt a load reports: 5s before the load, at t0+23s, begins.
		earlier := t0.Add(18*time.Second + 1)
		steps := []struct {
			name    string
			advance time.Duration
			write   bool
			readAt  *time.Time // what the load reports
			want    fill.Result
		}{
			{"cold", 0, false, nil, fill.Result{Data: value(0), ReadAt: t0, Outcome: fill.Miss}},
			{"exactly MaxStale after the load began", maxStale - loadTakes, true, nil, fill.Result{Data: value(0), ReadAt: t0, Outcome: fill.Hit}},
			{"past MaxStale", 1, false, nil, fill.Result{Data: value(1), ReadAt: t0.Add(maxStale + 1), Outcome: fill.Miss}},
			{"the load reports its readAt", maxStale, true, &earlier, fill.Result{Data: value(2), ReadAt: earlier, Outcome: fill.Miss}},
			{"exactly MaxStale after the reported readAt", 2 * time.Second, true, nil, fill.Result{Data: value(2), ReadAt: earlier, Outcome: fill.Hit}},
			{"past MaxStale after the reported readAt", 1, false, nil, fill.Result{Data: value(3), ReadAt: earlier.Add(maxStale + 1), Outcome: fill.Miss}},
		}
		for _, s := range steps {
			clock.Advance(s.advance)
			if s.write {
				src.write()
			}
			src.readAt.Store(s.readAt)
			got, err := in.g.Get(t.Context(), spec)
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			if diff := cmp.Diff(s.want, got); diff != "" {
				t.Errorf("%s: Get at t0+%v (-want +got):\n%s", s.name, clock.Now().Sub(t0), diff)
			}
		}
	})
}

// unreadable are values the fill cannot read: of another framing, or broken.
var unreadable = []struct {
	name string
	raw  []byte
}{
	{"raw bytes", []byte("raw bytes of another framing")},
	{"old list framing", []byte("T\x05\x80\x80\x01\x00")},
	{"decimal", []byte("12")},
	{"lease byte and junk", []byte("l junk")},
	{"short value frame", []byte("v\x00\x01\x02")},
	{"empty", []byte{}},
}

// TestUnreadable: a value the fill cannot read is never returned: it is
// taken over and filled with the source's value.
// When two instances find it at once, the take-over is by compare-and-swap,
// so that the slower one does not overwrite what the faster stored: one
// load in all.
//
// Fails if an unreadable value is only bypassed (not refilled: no set), or
// if it is taken over by a plain set (two loads); seen failing both ways.
func TestUnreadable(t *testing.T) {
	eachBackend(t, envOptions{}, func(t *testing.T, e *env) {
		for _, u := range unreadable {
			t.Run(u.name, func(t *testing.T) {
				src := &source{}
				spec := src.spec("unreadable:" + u.name)
				in := e.instance(raceOptions)
				set(t, in.c, spec.Key, u.raw)
				goGet(t.Context(), in.g, spec).want(t, "Get", value(0), fill.Miss)
				if data, ok := stored(t, in.c, spec.Key); !ok || !bytes.Equal(data, value(0)) {
					t.Errorf("after the Get the cache holds %q (a value: %v); want %q", data, ok, value(0))
				}
				if diff := cmp.Diff(stats.Counts{Misses: 1, Sets: 1}, in.counts.Counts()); diff != "" || src.loads.Load() != 1 {
					t.Errorf("%d loads; counters (-want +got):\n%s", src.loads.Load(), diff)
				}
			})
		}
		t.Run("two take over", func(t *testing.T) {
			src := &source{}
			spec := src.spec("unreadable:two")
			a, b := e.instance(raceOptions), e.instance(raceOptions)
			raw := unreadable[0].raw
			set(t, a.c, spec.Key, raw)
			// Skip the request's own read: hold its flight's.
			held := holdGet(t, a.f, 1, func(it cache.Item, err error) bool { return err == nil && bytes.Equal(it.Value, raw) })
			ra := goGet(t.Context(), a.g, spec)
			held.held(t, "a's flight reading the unreadable value")
			goGet(t.Context(), b.g, spec).want(t, "b, which takes the key over", value(0), fill.Miss)
			held.open()
			ra.want(t, "a, after b filled the key", value(0), fill.Hit)
			if n := src.loads.Load(); n != 1 {
				t.Errorf("%d loads, want 1", n)
			}
		})
	})
}

func set(t *testing.T, c *cache.Cache, key string, v []byte) {
	t.Helper()
	if err := c.Set(t.Context(), cache.Item{Key: key, Value: v, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
}
