package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/tasklist/tasklist/internal/bench/report"
)

// whySeconds is how long the CPU profile of a missed target's mode
// samples; wrk drives the mode a second longer on each side.
const whySeconds = 4

// explain profiles the mode of each missed target, after the measured
// runs (so that it changes none of their figures), and puts a summary of
// the profile into the target. A profile -profile took during the
// measured run is read again instead, when it is as long; a mode two
// targets missed is profiled once. A mode that cannot be profiled gets
// its error in the summary; only an interruption stops the run.
func (r *runner) explain(ctx context.Context) error {
	var missed []*report.Target
	for i := range r.out.Targets {
		if t := &r.out.Targets[i]; !t.Met && !t.Missing && len(t.Modes) > 0 {
			missed = append(missed, t)
		}
	}
	profiled := map[string]report.Profile{}
	for n, t := range missed {
		for _, key := range t.Modes {
			if p, ok := profiled[key]; ok {
				r.say("[why %d/%d] %s missed (%s): profiled above", n+1, len(missed), t.Name, t.Got)
				t.Why = append(t.Why, p)
				continue
			}
			what := fmt.Sprintf("profiling %s; about %v left", key, time.Duration(len(missed)-n)*whyRun)
			if r.reusable(key) {
				what = "reading the profile of " + key + " from its measured run"
			}
			r.say("[why %d/%d] %s missed (%s): %s", n+1, len(missed), t.Name, t.Got, what)
			p := r.whyProfile(ctx, key)
			profiled[key] = p
			if ctx.Err() != nil {
				return fmt.Errorf("interrupted while profiling %s; every process it started is stopped", key)
			}
			if p.Err != "" {
				r.say("  no profile: %s", p.Err)
			} else if p.CPUPerRequest > 0 {
				r.say("  %.0f req/s, CPU per request %v (the same-response handler's %v)", p.RPS, p.CPUPerRequest.Round(time.Microsecond), p.BareCPUPerRequest.Round(time.Microsecond))
			}
			t.Why = append(t.Why, p)
		}
	}
	return nil
}

// whyRun is about what profiling one mode takes: start, warm-up, capture,
// wrk, the same-response handler, stop. It only feeds the estimate of the
// time left.
const whyRun = 10 * time.Second

// measuredProfileSeconds is how long -profile profiles a measured mode:
// wrk's run less its first and last second.
func (r *runner) measuredProfileSeconds() int {
	return max(int(r.opts.Duration.Seconds())-2, 1)
}

// reusable reports whether the measured run of the mode with key took a
// profile as long as explain's, or longer.
func (r *runner) reusable(key string) bool {
	return r.out.Find(key).Profile != "" && r.measuredProfileSeconds() >= whySeconds
}

// whyProfile is the summarized CPU profile of the mode with key: the one
// the measured run took, when reusable, else one taken now, in a short
// run of its own under the same load.
func (r *runner) whyProfile(ctx context.Context, key string) report.Profile {
	res := r.out.Find(key)
	p := report.Profile{Key: key, Name: res.Name, File: res.Profile, Reused: r.reusable(key), RPS: res.RPS}
	var err error
	if !p.Reused {
		p.File = profileFile("why", r.mode(key))
		err = r.profileMode(ctx, r.mode(key), &p)
	}
	if err == nil {
		err = summarize(filepath.Join(r.opts.OutDir, p.File), &p)
	}
	if err != nil {
		p.Err = err.Error()
	}
	return p
}

// mode is the planned mode with key (one the run measured).
func (r *runner) mode(key string) mode {
	for _, m := range r.modes {
		if m.key() == key {
			return m
		}
	}
	panic("bench: no mode " + key)
}

// profileMode starts the app in mode m with its pprof listener, warms it
// up and drives it as the measured run did while it takes a CPU profile
// into p.File (relative to the results folder); it sets p's rate and CPU
// time per request, and the CPU time per request of a bare handler
// sending the same response, driven right after it.
func (r *runner) profileMode(ctx context.Context, m mode, p *report.Profile) error {
	pprofAddr, err := freeAddr()
	if err != nil {
		return err
	}
	a, err := r.startApp(ctx, "why-"+slug(m), m, []string{"TASKLIST_PPROF_ADDR=" + pprofAddr})
	if err != nil {
		return err
	}
	defer a.proc.stop()
	if _, err := warm(a.base, m.gzip); err != nil {
		return err
	}
	same, sameBase, err := r.startSameFor(ctx, "why-same-"+slug(m), a.base)
	if err != nil {
		return err
	}
	defer same.stop()
	before := a.proc.cpuTime()
	lr, err := r.profiledLoad(ctx, r.load(a.base, m, (whySeconds+2)*time.Second), pprofAddr, whySeconds, p.File)
	p.RPS, p.CPUPerRequest = lr.rps(), cpuPerRequest(a.proc.cpuTime()-before, lr.requests)
	if err != nil {
		return err
	}
	p.BareCPUPerRequest, err = r.bareCPU(ctx, same, sameBase, m.gzip)
	return err
}

// bareSeconds is how long the bare handler is driven for its CPU time per
// request.
const bareSeconds = 2

// bareCPU drives the bare handler bare at base for bareSeconds (asking for
// gzip when gz) and returns its CPU time per request.
func (r *runner) bareCPU(ctx context.Context, bare *proc, base string, gz bool) (time.Duration, error) {
	run, err := r.driveReference(ctx, bare, base, gz, bareSeconds*time.Second)
	return cpuPerRequest(run.cpu, run.requests), err
}

// cpuPerRequest is CPU time d over n requests (0 when there were none).
func cpuPerRequest(d time.Duration, n int64) time.Duration {
	if n <= 0 {
		return 0
	}
	return d / time.Duration(n)
}
