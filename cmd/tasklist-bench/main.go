// Command tasklist-bench measures tasklist under load, in one run on one
// machine: every caching mode with the in-process cache and with a local
// memcached, on SQLite and on PostgreSQL and MariaDB when they answer,
// each read mode without and with Accept-Encoding: gzip, against a bare Go
// handler sending the very response the app sent (and one sending its
// body with three headers, and nginx, when installed); the adds' latency
// under a mixed load; then a cold-start stampede. It writes a Markdown
// table, an SVG chart and JSON into a results folder and says which
// targets of docs/benchmarks.md were met. scripts/bench.sh runs it.
//
//	tasklist-bench [flags]               run the benchmark
//	tasklist-bench serve-bytes FILE ADDR serve FILE at ADDR (the three-header handler)
//	tasklist-bench serve-page FILE ADDR  serve the captured responses in FILE at ADDR (the same-response handler)
//	tasklist-bench flood-after [flags]   thousands of distinct ?after= values against one instance
//	tasklist-bench flood-unread [flags]  connections that pipeline requests and never read
//
// The floods (docs/reliability.md, "Bounded resources") start their own
// instance on 127.0.0.1, with 10,000 tasks, and stop it when done.
//
// Run it from the module root: it builds ./cmd/tasklist.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/tasklist/tasklist/internal/bench"
	"github.com/tasklist/tasklist/internal/bench/report"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tasklist-bench:", err)
		os.Exit(1)
	}
}

// run is the whole program; progress and errors go to out.
func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) > 0 && (args[0] == "serve-bytes" || args[0] == "serve-page") {
		if len(args) != 3 {
			return fmt.Errorf("usage: tasklist-bench %s FILE ADDR", args[0])
		}
		return bench.ServeReference(ctx, args[0], args[1], args[2])
	}
	if len(args) > 0 && (args[0] == "flood-after" || args[0] == "flood-unread") {
		return runFlood(ctx, args[0], args[1:], out)
	}
	opts, err := options(args, out)
	if errors.Is(err, flag.ErrHelp) {
		return nil // -h: the flags were printed
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "tasklist-bench: results go to %s\n", opts.OutDir)
	res, err := bench.Run(ctx, opts)
	if err != nil {
		return err
	}
	missed := 0
	for _, t := range res.Targets {
		if !t.Met {
			missed++
		}
	}
	fmt.Fprintf(out, "tasklist-bench: done in %v: %s (%d of %d targets met)\n",
		res.Finished.Sub(res.Started).Round(time.Second), filepath.Join(opts.OutDir, report.MarkdownFile), len(res.Targets)-missed, len(res.Targets))
	return nil
}

// options reads the flags and finds the programs the run needs.
func options(args []string, out io.Writer) (bench.Options, error) {
	fs := flag.NewFlagSet("tasklist-bench", flag.ContinueOnError)
	fs.SetOutput(out)
	var (
		o    bench.Options
		only string
	)
	fs.BoolVar(&o.Quick, "quick", false, "the modes the targets name only, on SQLite, 3s each (unless -duration)")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "how long wrk drives each mode (whole seconds)")
	fs.IntVar(&o.Threads, "threads", 2, "wrk threads (-t); the load generator shares the machine with the app")
	fs.IntVar(&o.Connections, "connections", 32, "wrk connections (-c)")
	fs.IntVar(&o.WritesEvery, "writes-every", 50, "mixed workload: reads per add")
	fs.StringVar(&only, "only", "", "a regular expression: run only the modes whose key matches (and the three-header bare handler), e.g. 'gzip$' or '/in-process/'")
	fs.BoolVar(&o.Stampede, "stampede", true, "run the cold-start stampede")
	fs.BoolVar(&o.Profile, "profile", false, "save a CPU profile of the app under load in each mode (into the results' profiles/)")
	fs.BoolVar(&o.Why, "why", true, "after the targets, profile each mode a missed target is about (about 10s each, or -profile's own) and say in the results where its CPU time went")
	fs.StringVar(&o.OutDir, "out", "", "results folder (default bench-results/UTC-TIME)")
	fs.StringVar(&o.PostgresURL, "postgres", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL server to create databases on (skipped when it does not answer)")
	fs.StringVar(&o.MySQLURL, "mysql", "mysql://root@127.0.0.1:3306/mysql", "MariaDB/MySQL server to create databases on (skipped when it does not answer)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	durationSet := false
	fs.Visit(func(f *flag.Flag) { durationSet = durationSet || f.Name == "duration" })
	if o.Quick && !durationSet {
		o.Duration = 3 * time.Second
	}
	if o.Duration < time.Second || o.Duration%time.Second != 0 || o.Threads < 1 || o.Connections < o.Threads || o.WritesEvery < 1 {
		return o, errors.New("-duration must be whole seconds, at least 1s; -threads at least 1; -connections at least -threads; -writes-every at least 1")
	}
	if only != "" {
		re, err := regexp.Compile(only)
		if err != nil {
			return o, fmt.Errorf("-only: %w", err)
		}
		o.Only = re
	}
	var err error
	if o.RepoDir, err = moduleRoot(); err != nil {
		return o, err
	}
	if o.OutDir == "" {
		o.OutDir = filepath.Join(o.RepoDir, "bench-results", time.Now().UTC().Format("20060102-150405"))
	}
	if o.Self, err = os.Executable(); err != nil {
		return o, err
	}
	if o.Wrk, err = program("TASKLIST_BENCH_WRK", "wrk", "install Debian's wrk (scripts/bench.sh does)"); err != nil {
		return o, err
	}
	if o.MemcachedBin, err = program("TASKLIST_BENCH_MEMCACHED", "memcached", "install Debian's memcached"); err != nil {
		return o, err
	}
	o.Nginx, _ = program("TASKLIST_BENCH_NGINX", "nginx", "")
	o.Command = strings.TrimSpace("tasklist-bench " + strings.Join(args, " "))
	o.Progress = out
	return o, nil
}

// runFlood runs the flood named name with the flags in args. Its bounds
// keep a mistyped flag from running for hours or opening more connections
// than a test machine has ports for.
func runFlood(ctx context.Context, name string, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("tasklist-bench "+name, flag.ContinueOnError)
	fs.SetOutput(out)
	o := bench.FloodOptions{Out: out}
	fs.IntVar(&o.Tasks, "tasks", 10000, "tasks in the list, named with 200 characters each (100 to 100,000)")
	if name == "flood-after" {
		fs.DurationVar(&o.Duration, "duration", 10*time.Second, "how long each phase lasts (1s to 5m)")
		fs.IntVar(&o.Connections, "connections", 32, "connections sending the flood (2 to 1,000)")
	} else {
		fs.IntVar(&o.Unread, "connections", 1500, "connections that never read (1 to 5,000)")
		fs.IntVar(&o.Pipelined, "pipelined", 20, "GET / each sends at once (1 to 100)")
		fs.DurationVar(&o.Hold, "hold", 40*time.Second, "how long they stay open (1s to 5m; the server's WriteTimeout is 30s)")
	}
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	within := func(v, lo, hi int) bool { return lo <= v && v <= hi }
	if !within(o.Tasks, 100, 100_000) ||
		name == "flood-after" && (!within(o.Connections, 2, 1000) || o.Duration < time.Second || o.Duration > 5*time.Minute) ||
		name == "flood-unread" && (!within(o.Unread, 1, 5000) || !within(o.Pipelined, 1, 100) || o.Hold < time.Second || o.Hold > 5*time.Minute) {
		return errors.New("a flag is out of its bounds (see -h)")
	}
	if o.RepoDir, err = moduleRoot(); err != nil {
		return err
	}
	if name == "flood-after" {
		return bench.FloodAfter(ctx, o)
	}
	return bench.FloodUnread(ctx, o)
}

// program finds a program: the variable env, else name on PATH or in
// /usr/sbin.
func program(env, name, hint string) (string, error) {
	if p := os.Getenv(env); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if p, err := exec.LookPath(filepath.Join("/usr/sbin", name)); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found: %s, or set %s", name, hint, env)
}

// moduleRoot is the folder of the go.mod of the current directory.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", errors.New("run tasklist-bench from the tasklist module (it builds ./cmd/tasklist)")
	}
	return filepath.Dir(gomod), nil
}
