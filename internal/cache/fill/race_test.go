package fill_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/cache/fill"
	"github.com/tasklist/tasklist/internal/stats"
	"github.com/tasklist/tasklist/internal/testenv"
)

// raceOptions make lease waits quick to notice and never run out: no test
// here may pass by outwaiting a lease.
var raceOptions = fill.Options{PollInterval: time.Millisecond, LeaseTTL: time.Minute}

// TestNoStaleSet: a load that began before an invalidation is never stored
// after it. The reader takes the lease and reads version 0; a write on
// another instance changes the source and deletes the key (and, in the
// second case, fills it again through its own lease, as a writer that
// updates the cache does); then the reader's load returns. Its value must
// not be in the cache, and every later read, on either instance, must see
// the write.
//
// Fails if fillLeased stores the value with a Set instead of the
// compare-and-swap on the lease (seen failing in both cases, on both
// backends).
func TestNoStaleSet(t *testing.T) {
	invalidations := []struct {
		name       string
		invalidate func(t *testing.T, w instance, spec fill.Spec)
	}{
		{"delete", func(t *testing.T, w instance, spec fill.Spec) {
			if err := w.c.Delete(t.Context(), spec.Key); err != nil {
				t.Fatal(err)
			}
		}},
		{"delete and refill", func(t *testing.T, w instance, spec fill.Spec) {
			if err := w.c.Delete(t.Context(), spec.Key); err != nil {
				t.Fatal(err)
			}
			if r, err := w.g.Get(t.Context(), spec); err != nil || string(r.Data) != "v1" {
				t.Fatalf("writer's refill = %q, %v; want v1", r.Data, err)
			}
		}},
	}
	eachBackend(t, envOptions{servers: 2}, func(t *testing.T, e *env) {
		for _, inv := range invalidations {
			t.Run(inv.name, func(t *testing.T) {
				src := &source{}
				spec := src.spec("nostale:" + inv.name)
				reader, writer := e.instance(raceOptions), e.instance(raceOptions)

				read := newGate(t, 0)
				src.after.Store(hook(read.wait))
				r := goGet(t.Context(), reader.g, spec)
				read.held(t, "the reader's load")
				src.write()
				inv.invalidate(t, writer, spec)
				read.open()
				r.want(t, "the reader, which arrived before the write", value(0), fill.Miss)

				if st := reader.counts.Counts(); st.Sets != 0 {
					t.Errorf("reader counted %+v, want no set", st)
				}
				if data, ok := stored(t, writer.c, spec.Key); ok && string(data) == "v0" {
					t.Errorf("the cache holds the value loaded before the write")
				}
				for i, in := range []instance{reader, writer} {
					goGet(t.Context(), in.g, spec).wantData(t, fmt.Sprintf("a read after the write on instance %d", i), value(1))
				}
			})
		}
	})
}

// TestLateJoiner: a request that arrives after an invalidation has answered
// never takes a flight result fixed before it; under Spec.Immutable it
// takes any. In each case instance a's flight for request 1 fixes its
// result, at version 0, and is held there; a write changes the source and
// deletes the key; request 2 arrives at a, misses, and may join the held
// flight; then the flight goes on.
//
// The result is fixed
//   - by the cache read: the flight waited on instance b's lease and is held
//     right after reading the value b stored. Request 2 joins it (nothing
//     tells it the result is old) and must start a flight of its own. Fails
//     if a request takes any flight's result regardless of arrival, and the
//     immutable case fails if it does not take it under Immutable.
//   - at the start of the source load: the flight is held after reading
//     the source, before it stores. Request 2 must not take its result.
//   - by the swap: the flight is held right after storing by
//     compare-and-swap. Request 2 must not take its result.
//
// In the last two cases a request that arrives after the flight began its
// load does not even join it: it gets its answer while that flight is
// held. They fail if join ignores the moment a flight began loading (request
// 2 waits for a result it cannot take), and with the wrong value if a
// request also takes any flight's result (seen failing both ways).
func TestLateJoiner(t *testing.T) {
	cases := []struct {
		name      string
		immutable bool
		// fix starts request 1 at a and returns it once its flight has
		// fixed its result and is held.
		fix func(t *testing.T, a, b instance, src *source, spec fill.Spec) (*call, *gate)
		// joins says whether request 2 joins request 1's flight (else it
		// gets its answer while that flight is held).
		joins bool
		// first is how request 1 is served; late and lateOutcome what
		// request 2 gets; loads the source loads in all.
		first       fill.Outcome
		late        []byte
		lateOutcome fill.Outcome
		loads       int64
	}{
		{"cache read", false, fixByCacheRead, true, fill.Hit, value(1), fill.Miss, 2},
		{"cache read/immutable", true, fixByCacheRead, true, fill.Hit, value(0), fill.Hit, 1},
		{"load start", false, fixByLoad, false, fill.Miss, value(1), fill.Miss, 2},
		{"swap", false, fixBySwap, false, fill.Miss, value(1), fill.Miss, 2},
	}
	eachBackend(t, envOptions{servers: 2}, func(t *testing.T, e *env) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				src := &source{}
				spec := src.spec("late:" + tc.name)
				spec.Immutable = tc.immutable
				a, b := e.instance(raceOptions), e.instance(raceOptions)

				r1, held := tc.fix(t, a, b, src, spec)
				src.write()
				if err := b.c.Delete(t.Context(), spec.Key); err != nil {
					t.Fatal(err)
				}
				r2 := goGet(t.Context(), a.g, spec) // arrives after the write answered
				if tc.joins {
					testenv.WaitFor(t, "request 2 joins request 1's flight", waiting(2))
				} else {
					testenv.WaitFor(t, "request 2 gets its answer without waiting for request 1's flight", r2.finished)
				}
				held.open()

				r1.want(t, "request 1, which arrived before the write", value(0), tc.first)
				r2.want(t, "request 2, which arrived after the write", tc.late, tc.lateOutcome)
				if got := src.loads.Load(); got != tc.loads {
					t.Errorf("%d loads, want %d", got, tc.loads)
				}
			})
		}
	})
}

// fixByCacheRead holds request 1's flight right after it read the value
// instance b stored while the flight waited on b's lease.
func fixByCacheRead(t *testing.T, a, b instance, src *source, spec fill.Spec) (*call, *gate) {
	held := holdGet(t, a.f, 0, isFramedValue)
	r1, bGet, bLoad := waitOnLease(t, a, b, src, spec)
	bLoad.open()
	bGet.want(t, "b", value(0), fill.Miss)
	held.held(t, "a's flight reading b's value")
	return r1, held
}

// fixByLoad holds request 1's flight after its load read the source.
func fixByLoad(t *testing.T, a, _ instance, src *source, spec fill.Spec) (*call, *gate) {
	held := newGate(t, 0)
	src.after.Store(hook(held.wait))
	r1 := goGet(t.Context(), a.g, spec)
	held.held(t, "a's load")
	return r1, held
}

// fixBySwap holds request 1's flight right after it stored its value.
func fixBySwap(t *testing.T, a, _ instance, src *source, spec fill.Spec) (*call, *gate) {
	held, h := holdStored(t)
	a.f.afterCAS.Store(h)
	r1 := goGet(t.Context(), a.g, spec)
	held.held(t, "a's swap")
	return r1, held
}

// TestStampede: 200 concurrent Gets of a cold key, spread over three
// instances (each with its own client of the two memcached servers), load it
// exactly once. Every write to the cache is held until all 200 requests wait
// for a flight: then each instance runs exactly one flight, each of which
// has found the key cold and is about to take the lease, and only the one
// that gets it loads.
//
// Fails if the lease is not exclusive (Add replaced by Set: three loads on
// the in-process backend every time; on memcached two or three in most runs,
// as a slower instance may find the faster one's value before it loads) or
// if requests of one process do not share a flight (join always starting
// one: 200 flights, every time); seen failing both ways.
func TestStampede(t *testing.T) {
	const requests, instances = 200, 3
	eachBackend(t, envOptions{servers: 2}, func(t *testing.T, e *env) {
		src := &source{}
		spec := src.spec("stampede")
		writes := make(chan struct{})
		held := hook(func() { <-writes })
		var in []instance
		for range instances {
			i := e.instance(raceOptions)
			i.f.beforeWrite.Store(held)
			in = append(in, i)
		}
		calls := make([]*call, requests)
		for i := range calls {
			calls[i] = goGet(t.Context(), in[i%instances].g, spec)
		}
		testenv.WaitFor(t, "every request waits for a flight", waiting(requests))
		if fl := testenv.Goroutines(inFly, false); len(fl) != instances {
			t.Errorf("%d requests on %d instances run %d flights, want one per instance:\n%s", requests, instances, len(fl), strings.Join(fl, "\n\n"))
		}
		close(writes)
		for _, c := range calls {
			if r, err := c.result(t); err != nil || string(r.Data) != "v0" {
				t.Fatalf("Get = %q, %v", r.Data, err)
			}
		}
		if n := src.loads.Load(); n != 1 {
			t.Errorf("%d cold requests on %d instances loaded %d times, want 1", requests, instances, n)
		}
		var total stats.Counts
		for _, i := range in {
			total = total.Add(i.counts.Counts())
		}
		if total.Hits+total.Misses != requests || total.Sets != 1 || total.Errors != 0 {
			t.Errorf("counters summed over the instances = %+v, want %d requests, 1 set, no bypass", total, requests)
		}
	})
}
