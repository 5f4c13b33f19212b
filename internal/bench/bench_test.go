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

// TestMain lets this test binary be the bare handler, as tasklist-bench
// itself is: "serve-bytes FILE ADDR".
func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == "serve-bytes" {
		body, err := os.ReadFile(os.Args[2])
		if err == nil {
			err = ServeBytes(context.Background(), os.Args[3], body) // stopped by SIGTERM
		}
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// TestSmoke runs the harness against one mode for one second and checks
// the shape of what it reports: every file, a row per server with figures
// in it, the target it can judge judged and the others not measured, and
// the app stopped gracefully.
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
	mode := appKey(SQLite, 100, InProcess, LayersAll, false)
	run, err := Run(t.Context(), Options{
		Duration: time.Second, Threads: 1, Connections: 2, WritesEvery: 50,
		Only:   regexp.MustCompile("^" + regexp.QuoteMeta(mode) + "$"),
		OutDir: out, RepoDir: repo, BuildFlags: raceFlags, Self: self, Wrk: wrk,
		Command: "smoke test",
	})
	if err != nil {
		t.Fatal(err)
	}

	var keys []string
	for _, r := range run.Results {
		keys = append(keys, r.Key)
		if r.Requests == 0 || r.RPS <= 0 || r.Ratio <= 0 || r.P50 <= 0 || r.P99 < r.P50 || r.PeakRSS == 0 || r.Bytes < 10_000 {
			t.Errorf("%s: figures missing: %+v", r.Key, r)
		}
		if (r.Kind == report.App) != (r.Ceiling > 0) {
			t.Errorf("%s: paired ceiling %v; want one for the app only", r.Key, r.Ceiling)
		}
		// The app's own counts, from its /metrics: a page hit reads the
		// version alone and no database.
		if r.Kind == report.App && (r.DBQueries == nil || *r.DBQueries != 0 || r.CacheOps == nil || *r.CacheOps < 1) {
			t.Errorf("%s: DB queries/req %v, cache ops/req %v; want 0 and at least 1", r.Key, deref(r.DBQueries), deref(r.CacheOps))
		}
		if r.Errors != 0 {
			t.Errorf("%s: %d failed requests", r.Key, r.Errors)
		}
	}
	if diff := cmp.Diff([]string{report.Bare, mode}, keys); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	for _, tg := range run.Targets {
		judged := strings.HasPrefix(tg.Name, "all layers, page hit, in-process") || strings.HasPrefix(tg.Name, "peak RSS")
		if tg.Missing == judged {
			t.Errorf("target %q: not measured = %v, want %v", tg.Name, tg.Missing, !judged)
		}
	}

	md, err := os.ReadFile(filepath.Join(out, report.MarkdownFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| mode | database | tasks |", "| bare Go handler, same bytes |", "| all layers, in-process | sqlite | 100 | read |",
		"## Targets", "![requests per second, each mode](results.svg)", "wrk -t1 -c2 -d1s"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("%s lacks %q:\n%s", report.MarkdownFile, want, md)
		}
	}
	svg, err := os.ReadFile(filepath.Join(out, report.SVGFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(svg), "<svg") || strings.Count(string(svg), `<rect x="`) != 2 {
		t.Errorf("%s: want an SVG with 2 bars:\n%s", report.SVGFile, svg)
	}
	var back report.Run
	b, err := os.ReadFile(filepath.Join(out, report.JSONFile))
	if err == nil {
		err = json.Unmarshal(b, &back)
	}
	if err != nil || len(back.Results) != 2 {
		t.Errorf("%s: %v, %d results", report.JSONFile, err, len(back.Results))
	}
	logs, _ := filepath.Glob(filepath.Join(out, "logs", "app-*.log"))
	for _, l := range logs {
		if b, _ := os.ReadFile(l); !strings.Contains(string(b), "msg=stopped") {
			t.Errorf("%s: the app did not stop gracefully:\n%s", l, b[max(len(b)-500, 0):])
		}
	}
	if len(logs) != 1 {
		t.Errorf("app logs %v, want one", logs)
	}
}

func deref(v *float64) any {
	if v == nil {
		return "none"
	}
	return *v
}
