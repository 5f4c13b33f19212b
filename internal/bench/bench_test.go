package bench

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/bench/report"
	"github.com/tasklist/tasklist/internal/testenv"
)

// raceFlags are the build flags of this test binary that tasklist is built
// with too, so that the build reuses the test's build cache.
var raceFlags []string

// TestMain lets this test binary be the bare handlers, as tasklist-bench
// itself is: "serve-bytes FILE ADDR" and "serve-page FILE ADDR".
func TestMain(m *testing.M) {
	if len(os.Args) == 4 && (os.Args[1] == "serve-bytes" || os.Args[1] == "serve-page") {
		// Stopped by SIGTERM.
		if err := ServeReference(context.Background(), os.Args[1], os.Args[2], os.Args[3]); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// TestSmoke runs the harness against the in-process page hit, identity,
// gzip and mixed, and the same-response handler's own rows, for one second
// each, and checks the shape of what it reports: every file, a row per
// server with figures in it, both ceilings paired with each app mode, the
// adds timed, the targets it can judge judged and the others not
// measured, and the app stopped gracefully. Each same-response handler
// was checked, before it was driven, to answer what the real app answered
// byte for byte but the Date, or the run fails.
func TestSmoke(t *testing.T) {
	wrk := os.Getenv("TASKLIST_TEST_WRK")
	if wrk == "" {
		var err error
		if wrk, err = exec.LookPath("wrk"); err != nil {
			testenv.Unavailable(t, "wrk", "install Debian's wrk, or set TASKLIST_TEST_WRK")
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	identity := appKey(SQLite, 100, InProcess, LayersAll, false, false)
	gzip := appKey(SQLite, 100, InProcess, LayersAll, false, true)
	mixed := appKey(SQLite, 100, InProcess, LayersAll, true, true)
	run, err := Run(t.Context(), Options{
		Duration: time.Second, Threads: 1, Connections: 2, WritesEvery: 50,
		Only:   regexp.MustCompile("^(" + report.Same + "/|" + regexp.QuoteMeta(strings.TrimSuffix(identity, "read/identity")) + ")"),
		OutDir: out, RepoDir: repo, BuildFlags: raceFlags, Self: self, Wrk: wrk,
		Command: "smoke test",
	})
	if err != nil {
		t.Fatal(err)
	}

	var keys []string
	size := map[string]int64{}
	for _, r := range run.Results {
		keys = append(keys, r.Key)
		size[r.Key] = r.Bytes
		if r.Requests == 0 || r.RPS <= 0 || r.P50 <= 0 || r.P99 < r.P50 || r.PeakRSS == 0 || r.Bytes < 1000 || r.CPUPerRequest <= 0 {
			t.Errorf("%s: figures missing: %+v", r.Key, r)
		}
		if (r.Kind == report.App) != (r.CeilingCPUPerRequest > 0) {
			t.Errorf("%s: the same-response handler's CPU per request is %v; want it for the app's modes only", r.Key, r.CeilingCPUPerRequest)
		}
		// An app's same-response ceiling is the mean of the runs right
		// before and right after it.
		ceilings := r.CeilingBefore > 0 && r.CeilingAfter > 0 && r.Ceiling == (r.CeilingBefore+r.CeilingAfter)/2 &&
			r.Ratio == r.RPS/r.Ceiling && r.ThreeHeaderCeiling > 0 && r.ThreeHeaderRatio > 0
		switch r.Kind {
		case report.Bare:
			ceilings = r.Ceiling == 0 && r.Ratio == 0 && r.ThreeHeaderCeiling == 0 && r.ThreeHeaderRatio == 1
		case report.Same:
			ceilings = r.Ceiling == 0 && r.Ratio == 1 && r.ThreeHeaderCeiling > 0 && r.ThreeHeaderRatio > 0
		}
		if !ceilings {
			t.Errorf("%s: same response %v (%v×), three headers %v (%v×): not the ceilings of its kind", r.Key, r.Ceiling, r.Ratio, r.ThreeHeaderCeiling, r.ThreeHeaderRatio)
		}
		if r.Errors != 0 {
			t.Errorf("%s: %d failed requests", r.Key, r.Errors)
		}
		if r.Kind != report.App {
			continue
		}
		// The app's own counts, from its /metrics: a page hit reads the
		// version alone and no database; the adds write to it. The cache's
		// check against the database, once every TASKLIST_CACHE_TTL (5 s by
		// default) in the background, may fall in a mode's run: at most
		// one per started 5 s.
		checks := float64(run.Load.Duration/(5*time.Second) + 1)
		mixed := r.Workload == "mixed"
		if r.DBQueries == nil || r.CacheOps == nil || *r.CacheOps < 1 ||
			mixed && *r.DBQueries == 0 || !mixed && *r.DBQueries*float64(r.Requests) > checks+0.5 {
			t.Errorf("%s: DB queries/req %v over %d requests, cache ops/req %v; want at most %v queries in all (some under the adds) and at least 1 cache op/req",
				r.Key, deref(r.DBQueries), r.Requests, deref(r.CacheOps), checks)
		}
		if w := r.Writes; (w != nil) != (r.Workload == "mixed") {
			t.Errorf("%s: adds %+v", r.Key, w)
		} else if w != nil && (w.Count == 0 || w.Errors != 0 || w.P50 <= 0 || w.P99 < w.P50 || w.Max < w.P99 || w.ReadsPerWrite <= 0) {
			t.Errorf("%s: adds %+v; want some, timed, none failed", r.Key, *w)
		}
	}
	sameID, sameGz := report.Same+"/identity", report.Same+"/gzip"
	if diff := cmp.Diff([]string{report.Bare, sameID, sameGz, identity, gzip, mixed}, keys); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if size[sameGz] >= size[sameID] || size[gzip] >= size[identity] {
		t.Errorf("gzip bodies %d and %d bytes, identity %d and %d: not compressed", size[sameGz], size[gzip], size[sameID], size[identity])
	}
	judged := map[string]bool{"page hit, in-process, identity": true, "page hit, in-process, gzip": true,
		"every mode: no error responses": true, "every mode: peak RSS of the app, SQLite, 100 tasks": true}
	for _, tg := range run.Targets {
		if tg.Missing == judged[tg.Name] {
			t.Errorf("target %q: not measured = %v, want %v", tg.Name, tg.Missing, !judged[tg.Name])
		}
	}

	md, err := os.ReadFile(filepath.Join(out, report.MarkdownFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| mode | database | tasks | workload | encoding |", "| bare Go handler, same response | — | — | read | gzip |",
		"| all layers, in-process | sqlite | 100 | read | identity |", "| all layers, in-process | sqlite | 100 | mixed | gzip |",
		"## Adds under the mixed load", "## Targets", "![requests per second, each mode](results.svg)", "wrk -t1 -c2 -d1s"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("%s lacks %q:\n%s", report.MarkdownFile, want, md)
		}
	}
	svg, err := os.ReadFile(filepath.Join(out, report.SVGFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(svg), "<svg") || strings.Count(string(svg), `<rect x="`) != len(keys) {
		t.Errorf("%s: want an SVG with %d bars:\n%s", report.SVGFile, len(keys), svg)
	}
	var back report.Run
	b, err := os.ReadFile(filepath.Join(out, report.JSONFile))
	if err == nil {
		err = json.Unmarshal(b, &back)
	}
	if err != nil || len(back.Results) != len(keys) {
		t.Errorf("%s: %v, %d results", report.JSONFile, err, len(back.Results))
	}
	logs, _ := filepath.Glob(filepath.Join(out, "logs", "app-*.log"))
	for _, l := range logs {
		if b, _ := os.ReadFile(l); !strings.Contains(string(b), "msg=stopped") {
			t.Errorf("%s: the app did not stop gracefully:\n%s", l, b[max(len(b)-500, 0):])
		}
	}
	if len(logs) != 3 {
		t.Errorf("app logs %v, want three", logs)
	}
}

func deref(v *float64) any {
	if v == nil {
		return "none"
	}
	return *v
}
