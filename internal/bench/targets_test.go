package bench

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/bench/report"
)

// TestTargets: each ratio target is judged on the same-response ratio of
// every encoding it names, a miss lists only the modes that fell short,
// the adds are judged on their p99 and failures, and a target whose modes
// did not all run is not measured.
func TestTargets(t *testing.T) {
	res := func(cache, layers string, mixed, gzip bool, ratio float64) report.Result {
		m := mode{kind: report.App, db: SQLite, tasks: 100, cache: cache, layers: layers, mixed: mixed, gzip: gzip}
		return report.Result{Key: m.key(), Kind: report.App, DB: SQLite, Tasks: 100, Cache: cache, Encoding: m.encoding(),
			RPS: 1000 * ratio, Ceiling: 1000, Ratio: ratio, PeakRSS: 40 << 20}
	}
	mixed := res(Memcached, LayersAll, true, true, 0.4)
	mixed.Writes = &report.Writes{Count: 300, P50: 8 * time.Millisecond, P99: 60 * time.Millisecond}
	run := &report.Run{Load: report.Load{WritesEvery: 50}, Results: []report.Result{
		{Key: report.Bare, Kind: report.Bare, Errors: 2},
		res(InProcess, LayersAll, false, false, 0.9),
		res(InProcess, LayersAll, false, true, 0.7),
		res(Memcached, LayersAll, false, false, 0.65),
		res(Memcached, LayersAll, false, true, 0.61),
		res(InProcess, LayersFrag, false, false, 0.5),
		res(NoCache, LayersNone, false, true, 0.2), // no identity run
		mixed,
	}}
	type verdict struct {
		Met, Missing bool
		Modes        []string
	}
	want := map[string]verdict{
		"page hit, in-process, identity":                            {Met: true},
		"page hit, in-process, gzip":                                {Modes: []string{appKey(SQLite, 100, InProcess, LayersAll, false, true)}},
		"page hit, memcached (identity and gzip)":                   {Met: true},
		"query+fragment, in-process (identity and gzip)":            {Missing: true, Modes: []string{appKey(SQLite, 100, InProcess, LayersFrag, false, false)}},
		"layers none (identity and gzip)":                           {Missing: true},
		"mixed (one add per 50 reads), all layers, memcached, gzip": {Met: true},
		"mixed: the adds' p99 latency":                              {Modes: []string{mixed.Key}},
		"every mode: no error responses":                            {},
		"every mode: peak RSS of the app, SQLite, 100 tasks":        {Met: true},
	}
	got := map[string]verdict{}
	for _, tg := range targets(run) {
		got[tg.Name] = verdict{tg.Met, tg.Missing, tg.Modes}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}

	mixed.Writes.P99, mixed.Writes.Errors = 40*time.Millisecond, 1
	if tg := addsTarget(&mixed, mixed.Key); tg.Met {
		t.Errorf("adds with a failure: met (%s)", tg.Got)
	}
	mixed.Writes.Errors = 0
	if tg := addsTarget(&mixed, mixed.Key); !tg.Met || tg.Got != "40 ms (p50 8 ms; 300 adds, 0 failed)" {
		t.Errorf("adds p99 40 ms: met %v, %q", tg.Met, tg.Got)
	}
}
