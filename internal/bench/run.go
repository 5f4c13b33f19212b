// Package bench is the benchmark harness behind cmd/tasklist-bench: it
// builds tasklist, starts it in each caching mode, seeds its database,
// drives it with wrk (identity and gzip) right after the ceilings: a bare
// Go handler sending the very response the app sent at the start of the
// mode, and one sending its body with three headers (and nginx, as a
// static file). It reads what each run cost (memcached's own counters,
// the app's, the process's peak memory), times the adds of the mixed
// workload, and checks the figures against the targets of
// docs/benchmarks.md. FloodAfter and FloodUnread run the floods of
// docs/reliability.md against one instance. Everything it starts listens
// on 127.0.0.1 and is stopped, by process id, before Run (or the flood)
// returns.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tasklist/tasklist/internal/bench/report"
)

// Options configure a run. Programs left empty are looked up on PATH.
type Options struct {
	// Quick runs fewer modes (the ones the targets name), on SQLite only.
	Quick bool
	// Duration is how long wrk drives each mode.
	Duration time.Duration
	// Threads and Connections are wrk's -t and -c.
	Threads, Connections int
	// WritesEvery is the mixed workload's reads per write.
	WritesEvery int
	// Only, when set, keeps the modes whose key it matches (and the
	// three-header bare handler); see the results' keys.
	Only *regexp.Regexp
	// Stampede runs the cold-start stampede too.
	Stampede bool
	// Profile saves a CPU profile of the app under load in each mode
	// (TASKLIST_PPROF_ADDR), into the results' profiles/ folder.
	Profile bool
	// Why profiles, after the targets are checked, each mode a missed
	// target is about (in a short run of its own, or reusing Profile's)
	// and says in the results where its CPU time went.
	Why bool
	// OutDir receives the results and the servers' logs.
	OutDir string
	// RepoDir is the module root, where tasklist is built from, and
	// BuildFlags go to its go build (the smoke test builds with -race
	// when it runs with it, to reuse the build cache).
	RepoDir    string
	BuildFlags []string
	// Self is this program, run as "Self serve-bytes FILE ADDR" for the
	// three-header bare handler and "Self serve-page FILE ADDR" for the
	// same-response one.
	Self string
	// Wrk, MemcachedBin and Nginx are the programs; Nginx "" skips the
	// nginx reference when nginx is not on PATH.
	Wrk, MemcachedBin, Nginx string
	// PostgresURL and MySQLURL are servers to create databases on (each
	// used when it answers).
	PostgresURL, MySQLURL string
	// Command is the command line, for the report.
	Command string
	// Progress receives one line as each mode starts and ends.
	Progress io.Writer
}

// runner is one run in progress.
type runner struct {
	opts  Options
	procs *procs
	dbs   *databases
	work  string // scratch folder: binaries, databases, scripts
	bin   string // the tasklist binary
	mc    *memcached
	// source is a page hit's response, both encodings, from the app with
	// all layers and the in-process cache: what the same-response
	// handler's own rows send. page is its body, what the three-header
	// handler and nginx send.
	source Page
	page   []byte
	// bare is the three-header handler, started once and driven again
	// right before each other mode.
	bare     *proc
	bareBase string
	modes    []mode
	out      *report.Run
	started  time.Time
	done     int // modes finished
	total    int
}

// Run runs the benchmark and writes its results into opts.OutDir. It
// stops every process it started before returning, also when ctx is
// cancelled.
func Run(ctx context.Context, opts Options) (*report.Run, error) {
	if err := os.MkdirAll(filepath.Join(opts.OutDir, "logs"), 0o755); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "tasklist-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	r := &runner{
		opts:  opts,
		procs: newProcs(filepath.Join(opts.OutDir, "logs")),
		dbs:   &databases{dir: work, templates: map[int]string{}, serverURLs: map[string]string{Postgres: opts.PostgresURL, MySQL: opts.MySQLURL}},
		work:  work,
		out: &report.Run{
			Started: time.Now(), Command: opts.Command, Machine: machine(opts.Wrk),
			Load: report.Load{Threads: opts.Threads, Connections: opts.Connections, Duration: opts.Duration, WritesEvery: opts.WritesEvery},
		},
	}
	defer r.procs.stopAll()
	defer r.dbs.close()
	if err := r.run(ctx); err != nil {
		return r.out, err
	}
	r.out.Machine.LoadAfter = loadAverage()
	r.out.Targets = targets(r.out)
	if opts.Why {
		if err := r.explain(ctx); err != nil {
			return r.out, err
		}
	}
	r.out.Finished = time.Now()
	r.out.Notes = append(notes(r.out), r.out.Notes...)
	return r.out, report.Write(opts.OutDir, r.out)
}

func (r *runner) run(ctx context.Context) error {
	r.started = time.Now()
	if err := r.build(ctx); err != nil {
		return err
	}
	var servers []string
	for _, db := range []string{Postgres, MySQL} {
		if r.opts.Quick {
			break
		}
		admin, err := r.dbs.admin(ctx, db)
		if err != nil {
			r.note("%s skipped: %v", db, err)
			continue
		}
		admin.Close()
		servers = append(servers, db)
	}
	modes := only(plan(r.opts.Quick, r.opts.Nginx != "", servers), r.opts.Only)
	r.modes = modes
	r.total = len(modes)
	if r.opts.Stampede {
		r.total++
	}
	if needsMemcached(modes) || r.opts.Stampede {
		mc, err := startMemcached(r.procs, r.opts.MemcachedBin, 256)
		if err != nil {
			return fmt.Errorf("memcached: %w", err)
		}
		r.mc = mc
	}
	if err := r.fetchPage(ctx); err != nil {
		return err
	}
	bare, base, err := r.startBare(ctx)
	if err != nil {
		return err
	}
	r.bare, r.bareBase = bare, base
	for i, m := range modes {
		r.progress(m.name()+" ("+m.key()+")", r.opts.Duration)
		res, err := r.runMode(ctx, i, m)
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted during %s; every process it started is stopped", m.key())
		}
		if errors.Is(err, errSkipped) {
			r.note("%s skipped: %v", m.key(), err)
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", m.key(), err)
		}
		r.out.Results = append(r.out.Results, res)
		r.done++
		r.say("  %.0f req/s, p50 %v, p99 %v, %d errors", res.RPS, res.P50, res.P99, res.Errors)
	}
	ratios(r.out)
	if r.opts.Stampede {
		r.progress("cold-start stampede", 5*time.Second)
		s, err := r.stampede(ctx)
		if err != nil {
			return fmt.Errorf("stampede: %w", err)
		}
		r.out.Stampede = s
		r.done++
	}
	return nil
}

// build builds tasklist into the scratch folder.
func (r *runner) build(ctx context.Context) error {
	r.say("building tasklist")
	r.bin = filepath.Join(r.work, "tasklist")
	args := append(append([]string{"build"}, r.opts.BuildFlags...), "-o", r.bin, "./cmd/tasklist")
	build := exec.CommandContext(ctx, "go", args...)
	build.Dir = r.opts.RepoDir
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/tasklist: %w\n%s", err, out)
	}
	return nil
}

func needsMemcached(modes []mode) bool {
	for _, m := range modes {
		if m.cache == Memcached {
			return true
		}
	}
	return false
}

// perMode is what a mode costs besides wrk's own time (the mode's and its
// two paired ceilings'): start, seed, warm up, capture, stop. It only
// feeds the estimate of the time left.
const perMode = 4 * time.Second

func (r *runner) progress(what string, d time.Duration) {
	left := time.Duration(r.total-r.done) * (r.opts.Duration*2 + perMode)
	if r.done > 0 {
		left = time.Since(r.started) / time.Duration(r.done) * time.Duration(r.total-r.done)
	}
	r.say("[%d/%d] %s: %v under load; about %v left", r.done+1, r.total, what, d, left.Round(time.Second))
}

func (r *runner) say(format string, args ...any) {
	if r.opts.Progress != nil {
		fmt.Fprintf(r.opts.Progress, format+"\n", args...)
	}
}

func (r *runner) note(format string, args ...any) {
	r.out.Notes = append(r.out.Notes, fmt.Sprintf(format, args...))
	r.say("note: "+format, args...)
}

// fetchPage captures a page hit of the 100-task page, both encodings,
// from the app with all layers and the in-process cache: what the
// references' own rows send.
func (r *runner) fetchPage(ctx context.Context) error {
	app, err := r.startApp(ctx, "page-source", mode{kind: report.App, db: SQLite, tasks: 100, cache: InProcess, layers: LayersAll}, nil)
	if err != nil {
		return err
	}
	defer app.proc.stop()
	if _, err := warm(app.base, false); err != nil {
		return err
	}
	if r.source, err = capturePage(ctx, hostPort(app.base)); err != nil {
		return err
	}
	id, err := parseResponse(r.source.Identity)
	if err != nil {
		return err
	}
	r.page = id.body
	if n := len(taskIDs(r.page)); n != 100 {
		return fmt.Errorf("the page shows %d tasks, want 100", n)
	}
	return nil
}

// app is a running tasklist.
type app struct {
	proc  *proc
	base  string // http://127.0.0.1:port
	dbURL string
}

// startApp starts tasklist in mode m on a fresh database (or on dbURL
// when given, shared with other instances) and waits until it serves.
func (r *runner) startApp(ctx context.Context, name string, m mode, extra []string) (*app, error) {
	dbURL, err := r.dbs.fresh(ctx, m.db, m.tasks)
	if err != nil {
		return nil, err
	}
	return r.startOn(ctx, name, m, dbURL, "bench-"+randomHex()+":", extra)
}

func (r *runner) startOn(ctx context.Context, name string, m mode, dbURL, prefix string, extra []string) (*app, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	env := append([]string{
		"TASKLIST_ADDR=" + addr,
		"DATABASE_URL=" + dbURL,
		"TASKLIST_CACHE_LAYERS=" + m.layers,
		"TASKLIST_CACHE_PREFIX=" + prefix,
		"TASKLIST_LOG_LEVEL=info",
		"TASKLIST_SHUTDOWN_TIMEOUT=5s",
		"TASKLIST_MAX_TASKS=" + strconv.Itoa(maxTasks(m)),
	}, extra...)
	if m.cache == Memcached {
		env = append(env, "MEMCACHE_SERVERS="+r.mc.addr)
	}
	cmd := exec.Command(r.bin)
	cmd.Env = env
	p, err := r.procs.start(name, cmd)
	if err != nil {
		return nil, err
	}
	a := &app{proc: p, base: "http://" + addr, dbURL: dbURL}
	// The favicon is a static file: waiting for it reads no database.
	if err := p.waitReady(ctx, a.base+"/static/favicon.svg", 60*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	return a, nil
}

// maxTasks is the list's cap in mode m: the default, or more when the
// mode has more tasks or adds them (the adds must never find the list
// full).
func maxTasks(m mode) int {
	if m.mixed {
		return 10_000_000 // TASKLIST_MAX_TASKS's largest
	}
	return max(10000, m.tasks)
}

// warmUp is how many requests fill a mode's caches before wrk starts.
const warmUp = 20

// warm sends the warm-up requests, asking for gzip when gz as wrk will,
// and returns the size of the page's body as sent.
func warm(base string, gz bool) (int64, error) {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	defer client.CloseIdleConnections()
	var n int64
	for range warmUp {
		req, err := http.NewRequest(http.MethodGet, base+"/", nil)
		if err != nil {
			return 0, err
		}
		if gz {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		n, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s/: %s", base, resp.Status)
		}
		if err != nil {
			return 0, err
		}
	}
	return n, nil
}

// hostPort is base without its scheme.
func hostPort(base string) string {
	return strings.TrimPrefix(base, "http://")
}

// load is the load against mode m at base, for d.
func (r *runner) load(base string, m mode, d time.Duration) loadSpec {
	spec := loadSpec{url: base + "/", threads: r.opts.Threads, connections: r.opts.Connections, duration: d, gzip: m.gzip}
	if m.mixed {
		spec.writesEvery = r.opts.WritesEvery
	}
	return spec
}

// runMode measures one mode: right before it, the three-header ceiling
// and (for the app) the same-response ceiling sending the response the app
// sent once warm, each for half the mode's time; and the same-response
// ceiling again right after it, the mode's ceiling being the mean of the
// two, so that a change in what the shared machine gives during the mode
// (a slope, not only a step before it) stays out of the ratio.
func (r *runner) runMode(ctx context.Context, i int, m mode) (report.Result, error) {
	res := report.Result{Key: m.key(), Kind: m.kind, Name: m.name(), DB: m.db, Cache: m.cache, Layers: m.layers,
		Tasks: m.tasks, Workload: m.workload(), Encoding: m.encoding()}
	var (
		srv       *proc
		base      string
		dbURL     string
		err       error
		txStart   int64
		pprofAddr string
	)
	switch m.kind {
	case report.Bare:
		srv, base = r.bare, r.bareBase
	case report.Same:
		srv, base, err = r.startSame(ctx, "same-response", r.source)
	case report.Nginx:
		srv, base, err = r.startNginx(ctx)
	default:
		var (
			a     *app
			extra []string
		)
		if r.opts.Profile {
			if pprofAddr, err = freeAddr(); err != nil {
				return res, err
			}
			extra = append(extra, "TASKLIST_PPROF_ADDR="+pprofAddr)
		}
		a, err = r.startApp(ctx, fmt.Sprintf("app-%02d", i), m, extra)
		if a != nil {
			srv, base, dbURL = a.proc, a.base, a.dbURL
		}
		if err == nil && m.db == Postgres {
			txStart, err = r.dbs.pgTransactions(ctx, dbURL)
		}
	}
	if err != nil {
		return res, err
	}
	if m.kind != report.Bare {
		defer srv.stop()
	}
	if res.Bytes, err = warm(base, m.gzip); err != nil {
		return res, err
	}
	var (
		same     *proc
		sameBase string
		before   ceilingRun
	)
	if m.kind != report.Bare {
		three, err := r.ceiling(ctx, r.bare, r.bareBase, m.gzip)
		if err != nil {
			return res, err
		}
		res.ThreeHeaderCeiling = three.rps
	}
	if m.kind == report.App {
		same, sameBase, err = r.startSameFor(ctx, fmt.Sprintf("same-%02d", i), base)
		if err != nil {
			return res, err
		}
		defer same.stop()
		if before, err = r.ceiling(ctx, same, sameBase, m.gzip); err != nil {
			return res, err
		}
	}
	var (
		metBefore  appMetrics
		hasMetrics bool
	)
	if m.kind == report.App {
		if metBefore, hasMetrics, err = scrapeMetrics(base); err != nil {
			return res, err
		}
	}
	var mcBefore map[string]int64
	if m.cache == Memcached {
		if mcBefore, err = r.mc.stats(); err != nil {
			return res, err
		}
	}
	spec := r.load(base, m, r.opts.Duration)
	cpuBefore := srv.cpuTime()
	var lr loadResult
	if pprofAddr != "" {
		res.Profile = profileFile(fmt.Sprintf("%02d", i), m)
		lr, err = r.profiledLoad(ctx, spec, pprofAddr, r.measuredProfileSeconds(), res.Profile)
	} else {
		lr, err = r.drive(ctx, spec)
	}
	if err != nil {
		return res, err
	}
	res.Requests, res.Seconds, res.RPS, res.P50, res.P99, res.Errors = lr.requests, lr.seconds, lr.rps(), lr.p50, lr.p99, lr.errors
	res.Writes = lr.writes
	if m.kind != report.Nginx { // nginx's workers are processes of their own
		res.CPUPerRequest = cpuPerRequest(srv.cpuTime()-cpuBefore, lr.requests)
	}
	if same != nil {
		after, err := r.ceiling(ctx, same, sameBase, m.gzip)
		if err != nil {
			return res, err
		}
		res.CeilingBefore, res.CeilingAfter = before.rps, after.rps
		res.Ceiling = (before.rps + after.rps) / 2
		res.CeilingCPUPerRequest = cpuPerRequest(before.cpu+after.cpu, before.requests+after.requests)
	}
	if mcBefore != nil {
		after, err := r.mc.stats()
		if err != nil {
			return res, err
		}
		res.CacheOps = perRequest(cacheOps(mcBefore, after), lr.requests)
	}
	if hasMetrics {
		after, _, err := scrapeMetrics(base)
		if err != nil {
			return res, err
		}
		res.DBQueries = perRequest(int64(after.queries()-metBefore.queries()), lr.requests)
		if m.cache == InProcess {
			res.CacheOps = perRequest(int64(after.cacheOps-metBefore.cacheOps), lr.requests)
		}
	}
	res.PeakRSS = srv.peakRSS()
	if m.kind != report.Bare {
		srv.stop()
	}
	if m.kind == report.App && m.db == Postgres && !hasMetrics {
		txEnd, err := r.dbs.pgTransactions(ctx, dbURL)
		if err != nil {
			return res, err
		}
		res.DBQueries = perRequest(txEnd-txStart, lr.requests+warmUp)
	}
	return res, nil
}

// startSameFor captures the response of the app at base (warm, both
// encodings) and starts a same-response handler, name, sending it.
func (r *runner) startSameFor(ctx context.Context, name, base string) (*proc, string, error) {
	page, err := capturePage(ctx, hostPort(base))
	if err != nil {
		return nil, "", err
	}
	return r.startSame(ctx, name, page)
}

// profileFile is where the profile of mode m goes, relative to the
// results folder; prefix tells the run's profiles apart.
func profileFile(prefix string, m mode) string {
	return filepath.Join(report.ProfilesDir, prefix+"-"+slug(m)+".pprof")
}

// slug is m's key as a file name.
func slug(m mode) string {
	return regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(m.key(), "-")
}

// profiledLoad runs wrk as spec says while it takes a CPU profile of secs
// seconds of the app, from a second into the run, into file (relative to
// the results folder).
func (r *runner) profiledLoad(ctx context.Context, spec loadSpec, pprofAddr string, secs int, file string) (loadResult, error) {
	profiled := make(chan error, 1)
	go func() {
		profiled <- saveProfile(pprofAddr, secs, filepath.Join(r.opts.OutDir, file))
	}()
	lr, err := r.drive(ctx, spec)
	if perr := <-profiled; err == nil && perr != nil {
		err = fmt.Errorf("profile: %w", perr)
	}
	return lr, err
}

// saveProfile waits a second (wrk starting) and saves a CPU profile of secs
// seconds from the app's pprof listener at addr.
func saveProfile(addr string, secs int, file string) error {
	time.Sleep(time.Second)
	body, err := get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	return os.WriteFile(file, body, 0o644)
}

func perRequest(n, requests int64) *float64 {
	if requests == 0 {
		return nil
	}
	v := float64(n) / float64(requests)
	return &v
}

// ceilingRun is one run of a reference handler: its rate, and the CPU
// time its server spent on its requests.
type ceilingRun struct {
	rps      float64
	cpu      time.Duration
	requests int64
}

// ceiling drives srv, a bare handler at base, for half a mode's time right
// before or after the mode (asking for gzip when gz, as the mode does). On
// a machine whose load changes during the run (others' work, on shared
// cores), a ratio to a ceiling measured minutes apart would measure the
// load as much as the app.
func (r *runner) ceiling(ctx context.Context, srv *proc, base string, gz bool) (ceilingRun, error) {
	return r.driveReference(ctx, srv, base, gz, max(r.opts.Duration/2/time.Second*time.Second, time.Second))
}

// driveReference drives srv, a reference handler at base, with wrk for d
// (asking for gzip when gz), and measures the CPU time srv spent meanwhile.
func (r *runner) driveReference(ctx context.Context, srv *proc, base string, gz bool, d time.Duration) (ceilingRun, error) {
	cpu := srv.cpuTime()
	lr, err := runWrk(ctx, r.opts.Wrk, r.work, loadSpec{url: base + "/", threads: r.opts.Threads, connections: r.opts.Connections, duration: d, gzip: gz})
	return ceilingRun{rps: lr.rps(), cpu: srv.cpuTime() - cpu, requests: lr.requests}, err
}

// ratios sets every result's ratios to the ceilings driven around it;
// each ceiling's own rows are 1 against themselves.
func ratios(run *report.Run) {
	for i := range run.Results {
		r := &run.Results[i]
		switch r.Kind {
		case report.Bare:
			r.ThreeHeaderRatio = 1
		case report.Same:
			r.Ratio = 1
		}
		if r.Ceiling > 0 {
			r.Ratio = r.RPS / r.Ceiling
		}
		if r.ThreeHeaderCeiling > 0 {
			r.ThreeHeaderRatio = r.RPS / r.ThreeHeaderCeiling
		}
	}
}

// get fetches url with a Host the app allows and returns the body of a
// 200 answer.
func get(url string) ([]byte, error) {
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %.200s", url, resp.Status, body)
	}
	return body, nil
}

var taskIDPattern = regexp.MustCompile(`data-task-id="(\d+)"`)

// taskIDs returns the ids of the tasks a page shows.
func taskIDs(page []byte) []int64 {
	var ids []int64
	for _, m := range taskIDPattern.FindAllSubmatch(page, -1) {
		id, _ := strconv.ParseInt(string(m[1]), 10, 64)
		ids = append(ids, id)
	}
	return ids
}

// loadAverage is /proc/loadavg's first three figures.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}
