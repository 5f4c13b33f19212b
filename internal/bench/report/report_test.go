package report

import (
	"strings"
	"testing"
	"time"
)

func ptr(v float64) *float64 { return &v }

func sample() *Run {
	one := 1
	start := time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)
	return &Run{
		Started: start, Finished: start.Add(5 * time.Minute), Command: "tasklist-bench",
		Machine: Machine{CPU: "Test CPU <x>", Cores: 2, MemoryMiB: 1024, Go: "go1.26.8", Wrk: "wrk 4.1.0"},
		Load:    Load{Threads: 2, Connections: 32, Duration: 10 * time.Second, WritesEvery: 50},
		Results: []Result{
			{Key: Bare, Kind: Bare, Name: "bare Go handler, three headers", Workload: "read", Encoding: "identity", RPS: 20000, ThreeHeaderRatio: 1,
				P50: 1200 * time.Microsecond, P99: 15 * time.Millisecond, PeakRSS: 10 << 20, CPUPerRequest: 41 * time.Microsecond},
			{Key: "app/x", Kind: App, Name: "all layers, memcached", DB: "sqlite", Cache: "memcached", Tasks: 100, Workload: "read", Encoding: "gzip",
				RPS: 10000, Ceiling: 16000, Ratio: 0.625, ThreeHeaderCeiling: 20000, ThreeHeaderRatio: 0.5,
				P50: 2 * time.Millisecond, P99: 25 * time.Millisecond, CacheOps: ptr(1), DBQueries: ptr(0), PeakRSS: 30 << 20,
				CPUPerRequest: 68400 * time.Nanosecond, CeilingCPUPerRequest: 44 * time.Microsecond},
			{Key: "app/y", Kind: App, Name: "layers none", DB: "postgres", Tasks: 1000, Workload: "mixed", Encoding: "identity", RPS: 500, Ratio: 0.025, Errors: 3,
				Writes: &Writes{Count: 10, Errors: 1, ReadsPerWrite: 49.5, P50: 3 * time.Millisecond, P99: 42 * time.Millisecond, Max: 120 * time.Millisecond}},
		},
		Stampede: &Stampede{Instances: 3, Requests: 200, SlowQuery: time.Second, SlowQueries: &one, P99: 1100 * time.Millisecond, How: "Counted."},
		Targets: []Target{
			{Name: "met one", Want: "≥ 1", Got: "2", Met: true},
			{Name: "missed one", Want: "≥ 1", Got: "0"},
			{Name: "absent one", Want: "≥ 1", Got: "—", Missing: true},
		},
		Notes: []string{"a note"},
	}
}

func TestMarkdown(t *testing.T) {
	md := Markdown(sample(), "chart.svg")
	for _, want := range []string{
		"# tasklist benchmark, 2026-11-26 14:00 UTC",
		"Load: wrk -t2 -c32 -d10s per mode",
		"one add (POST /add, from a client of its own) per 50 reads",
		"| bare Go handler, three headers | — | — | read | identity | 20000 | — | — | — | 1.00× | 41 µs | 1.20 ms | 15 ms | — | — | 10.0 MiB | 0 |",
		"| all layers, memcached | sqlite | 100 | read | gzip | 10000 | 16000 | 0.62× | 20000 | 0.50× | 68 µs (44 µs) | 2.00 ms | 25 ms | 0.00 | 1.00 | 30.0 MiB | 0 |",
		"| layers none | postgres | 1000 | mixed | identity | 500 | — | 0.03× | — | — | — | 0.00 ms | 0.00 ms | — | — | — | 3 |",
		"## Adds under the mixed load",
		"| layers none (postgres, 1000 tasks, mixed) | identity | 10 | 49.5 | 3.00 ms | 42 ms | 120 ms | 1 |",
		"![requests per second, each mode](chart.svg)",
		"slow queries run: **1**;",
		"| met one | ≥ 1 | 2 | yes |",
		"| missed one | ≥ 1 | 0 | **missed** |",
		"| absent one | ≥ 1 | — | not measured |",
		"- a note",
		"Took 5m0s.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestSVG(t *testing.T) {
	svg := SVG(sample())
	for _, want := range []string{
		`<rect x="360" y="43" width="420" height="16" fill="#555"/>`,    // the bare handler, longest
		`<rect x="360" y="65" width="210" height="16" fill="#2a7ab8"/>`, // half of it
		`>10000/s  0.62×<`,
		`>all layers, memcached (gzip)<`,
		`>layers none (postgres, 1000 tasks, mixed)<`,
		`Test CPU &lt;x&gt;`,
		`<line x1="780"`, // the ceiling's dashed line
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks %q:\n%s", want, svg)
		}
	}
	if !strings.HasPrefix(svg, "<svg ") || !strings.HasSuffix(svg, "</svg>\n") {
		t.Errorf("not one svg element:\n%s", svg)
	}
}

func TestFind(t *testing.T) {
	run := sample()
	if c := run.Ceiling(); c == nil || c.Key != Bare {
		t.Errorf("Ceiling = %v", c)
	}
	if r := run.Find("app/y"); r == nil || r.RPS != 500 {
		t.Errorf("Find(app/y) = %v", r)
	}
	if r := run.Find("nope"); r != nil {
		t.Errorf("Find(nope) = %v", r)
	}
}

func TestWhyMissed(t *testing.T) {
	run := sample()
	why := []Profile{{Key: "app/x", Name: "all layers, memcached", File: "profiles/why-app-x.pprof", Seconds: 4,
		CPU: 6 * time.Second, RPS: 1000, CPUPerRequest: 1500 * time.Microsecond, BareCPUPerRequest: 30 * time.Microsecond, Top: []Func{{Name: "internal/web.(*Server).index", Flat: 0.01, Cum: 0.75}, {Name: "syscall.write", Flat: 0, Cum: 0.4}}}}
	run.Targets[0].Why = why // met: no section
	run.Targets[1].Why = why // missed
	run.Targets[2].Why = why // not measured: no section
	run.Targets = append(run.Targets, Target{Name: "failed one", Want: "≥ 1", Got: "0",
		Why: []Profile{{Key: "app/y", Name: "layers none", Err: "connection refused"}}})
	md := Markdown(run, "chart.svg")
	for _, want := range []string{
		"### Why missed: missed one\n\n0, want ≥ 1.\n\n" +
			"all layers, memcached (`app/x`), profiled for 4 s in a run of its own after the measured ones, under the same wrk load " +
			"(1000 req/s then): 6.0 s of CPU, 1.50 cores; CPU time per request: the app's 1500 µs, the bare handler's sending the same response 30 µs " +
			"(driven right after it). Inspect it from the results folder with `go tool pprof -top -cum profiles/why-app-x.pprof`",
		"| function | cum | flat |\n| --- | ---: | ---: |\n| `internal/web.(*Server).index` | 75.0% | 1.0% |\n| `syscall.write` | 40.0% | 0.0% |\n",
		"### Why missed: failed one\n\n0, want ≥ 1.\n\nlayers none (`app/y`): no profile: connection refused\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	for _, not := range []string{"Why missed: met one", "Why missed: absent one"} {
		if strings.Contains(md, not) {
			t.Errorf("Markdown has %q:\n%s", not, md)
		}
	}
	if i, j := strings.Index(md, "## Targets"), strings.Index(md, "### Why missed"); i < 0 || j < i {
		t.Errorf("the sections are not under the targets:\n%s", md)
	}
}

func TestReusedProfile(t *testing.T) {
	run := sample()
	run.Targets[1].Why = []Profile{{Key: "app/x", Name: "all layers, memcached", File: "profiles/03-app-x.pprof", Reused: true, Seconds: 8, CPU: 4 * time.Second, RPS: 10000}}
	md := Markdown(run, "chart.svg")
	want := "all layers, memcached (`app/x`), profiled for 8 s while its figures above were measured (10000 req/s then): 4.0 s of CPU, 0.50 cores. Inspect"
	if !strings.Contains(md, want) {
		t.Errorf("Markdown lacks %q:\n%s", want, md)
	}
}
