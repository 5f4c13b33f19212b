// Package report holds the results of one run of the benchmark command
// (cmd/tasklist-bench) and writes them out: a Markdown table, an SVG chart
// and JSON, all into one results folder. It measures nothing itself.
package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Run is everything one benchmark run found. Write fills no field; the
// harness does.
type Run struct {
	Started  time.Time
	Finished time.Time
	// Command is the command line that produced the run.
	Command string
	Machine Machine
	Load    Load
	// Results are the load runs, in the order they ran; the first of kind
	// Bare is the three-header ceiling (the chart's dashed line).
	Results  []Result
	Stampede *Stampede `json:",omitempty"`
	Targets  []Target
	// Notes say how figures were measured and what was skipped and why.
	Notes []string
}

// Machine describes where the run happened.
type Machine struct {
	CPU, Kernel, Go, Wrk  string
	Cores                 int
	MemoryMiB             int
	LoadBefore, LoadAfter string
}

// Load is how the load generator drove every run.
type Load struct {
	Threads, Connections int
	Duration             time.Duration
	// WritesEvery is the mixed workload's mix: one add per this many
	// reads.
	WritesEvery int
}

// Kinds of Result.
const (
	Bare  = "bare"          // a bare Go handler sending the page's body with three headers
	Same  = "same-response" // a bare Go handler sending the app's own response, headers and body
	Nginx = "nginx"         // nginx serving the page's body as a static file
	App   = "app"           // tasklist itself
)

// Result is one load run against one server.
type Result struct {
	// Key identifies the mode for targets:
	// app/db/tasks/cache/layers/workload/encoding for the app.
	Key  string
	Kind string
	// Name is the mode as the table shows it.
	Name     string
	DB       string `json:",omitempty"`
	Cache    string `json:",omitempty"`
	Layers   string `json:",omitempty"`
	Tasks    int    `json:",omitempty"`
	Workload string
	// Encoding is what the reads asked for: "gzip" (Accept-Encoding:
	// gzip) or "identity" (no Accept-Encoding).
	Encoding string

	Requests int64
	Seconds  float64
	RPS      float64
	// Ceiling is the RPS of a bare Go handler sending this mode's own
	// response (its headers and body, in the same encoding): the mean of
	// CeilingBefore and CeilingAfter, measured right before and right
	// after this run; Ratio is RPS over it (1 for that handler's own rows,
	// 0 where there is none).
	Ceiling                     float64
	CeilingBefore, CeilingAfter float64
	Ratio                       float64
	// ThreeHeaderCeiling is the RPS of the bare handler sending the
	// identity body with three headers, measured right before
	// Ceiling's; ThreeHeaderRatio is RPS over it (1 for its own row).
	ThreeHeaderCeiling float64
	ThreeHeaderRatio   float64
	P50, P99           time.Duration
	// Errors counts failed requests: socket errors, timeouts and statuses
	// of 400 and above, the adds' own failures (any answer but 303)
	// included.
	Errors int64
	// Bytes is the size of one response body to GET / in Encoding.
	Bytes int64 `json:",omitempty"`
	// Writes are the adds of the mixed workload; nil for reads only.
	Writes *Writes `json:",omitempty"`
	// DBQueries and CacheOps are per request; nil when not measured.
	DBQueries *float64 `json:",omitempty"`
	CacheOps  *float64 `json:",omitempty"`
	// CPUPerRequest is the server's CPU time (user and system, from /proc)
	// over the mode's run, per request wrk counted (for the mixed workload
	// the adds' work is in it too). CeilingCPUPerRequest is the
	// same-response handler's over its runs before and after, per request.
	// A second view of a request's cost beside the rate (it moves with the
	// machine too, docs/benchmarks.md); 0 where not measured.
	CPUPerRequest, CeilingCPUPerRequest time.Duration `json:",omitempty"`
	// PeakRSS is the server's peak resident set in bytes (0: unknown).
	PeakRSS int64 `json:",omitempty"`
	// Profile is the CPU profile taken while wrk drove this run (with
	// -profile), relative to the results folder; "" when none was.
	Profile string `json:",omitempty"`
}

// Writes are the adds of a mixed run: sent by a client of their own beside
// wrk's reads, one per Load.WritesEvery reads the app counted, each timed
// from its request to the end of its answer.
type Writes struct {
	// Count adds answered 303; Errors answered otherwise or not at all.
	Count, Errors int64
	// ReadsPerWrite is wrk's requests over the adds: the mix kept.
	ReadsPerWrite float64
	P50, P99, Max time.Duration
}

// Stampede is the cold-start run: several instances, one empty memcached,
// many concurrent requests, a slow query.
type Stampede struct {
	Instances, Requests int
	SlowQuery           time.Duration
	// SlowQueries is how many slow queries ran across all instances; nil
	// when they could not be counted.
	SlowQueries *int `json:",omitempty"`
	P50, P99    time.Duration
	Max         time.Duration
	Errors      int
	// How says how SlowQueries was counted.
	How string
}

// Target is one goal of the issue and whether this run met it.
type Target struct {
	Name, Want, Got string
	Met             bool
	// Missing is set when the run has no figure for the target.
	Missing bool `json:",omitempty"`
	// Modes are the keys of the modes whose CPU time would explain a miss
	// (none for targets a CPU profile does not explain); Why holds their
	// profiles when the target was missed.
	Modes []string  `json:",omitempty"`
	Why   []Profile `json:",omitempty"`
}

// Profile is a CPU profile of one mode under load, summarized: where the
// app's time went while it missed a target.
type Profile struct {
	// Key and Name are the mode's.
	Key, Name string
	// File is the profile, relative to the results folder; Reused says it
	// was taken during the measured run (-profile), not in a run of its own.
	File   string
	Reused bool `json:",omitempty"`
	// Seconds is how long samples were taken, CPU how much CPU time they
	// add up to (more than Seconds when the app used more than a core).
	Seconds float64
	CPU     time.Duration
	// RPS is wrk's rate during the profiled run.
	RPS float64
	// CPUPerRequest is the app's CPU time per request over the wrk run of
	// the profile, and BareCPUPerRequest the bare handler's, driven right
	// after it; both from /proc, and 0 when not measured (a reused
	// profile).
	CPUPerRequest, BareCPUPerRequest time.Duration `json:",omitempty"`
	// Top are the functions that take the most CPU, by cumulative share.
	Top []Func
	// Err says why there is no profile.
	Err string `json:",omitempty"`
}

// Func is one function of a profile: the shares of the profile's CPU time
// spent in it (Flat) and in it and what it calls (Cum).
type Func struct {
	Name      string
	Flat, Cum float64
}

// ProfilesDir is the results' folder of CPU profiles.
const ProfilesDir = "profiles"

// Files names what Write puts into the results folder.
const (
	MarkdownFile = "results.md"
	SVGFile      = "results.svg"
	JSONFile     = "results.json"
)

// Write writes run into dir as Markdown, SVG and JSON, creating dir.
func Write(dir string, run *Run) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	js, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	for name, b := range map[string][]byte{
		MarkdownFile: []byte(Markdown(run, SVGFile)),
		SVGFile:      []byte(SVG(run)),
		JSONFile:     append(js, '\n'),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	return nil
}

// Ceiling returns the three-header bare handler's result, nil when there
// is none.
func (run *Run) Ceiling() *Result {
	for i := range run.Results {
		if run.Results[i].Kind == Bare {
			return &run.Results[i]
		}
	}
	return nil
}

// Find returns the result with key, nil when there is none.
func (run *Run) Find(key string) *Result {
	for i := range run.Results {
		if run.Results[i].Key == key {
			return &run.Results[i]
		}
	}
	return nil
}
