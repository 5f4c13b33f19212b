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

// explain profiles the modes of each missed target, after the measured
// runs (so that it changes none of their figures), and puts a summary of
// each profile into the target. A profile -profile took during the
// measured run is read again instead. A mode that cannot be profiled gets
// its error in the summary; only an interruption stops the run.
func (r *runner) explain(ctx context.Context) error {
	var missed []*report.Target
	for i := range r.out.Targets {
		if t := &r.out.Targets[i]; !t.Met && !t.Missing && len(t.Modes) > 0 {
			missed = append(missed, t)
		}
	}
	done := map[string]report.Profile{}
	for n, t := range missed {
		for _, key := range t.Modes {
			p, ok := done[key]
			if !ok {
				r.say("[why %d/%d] %s missed (%s): profiling %s; about %v left",
					n+1, len(missed), t.Name, t.Got, key, time.Duration(len(missed)-n)*10*time.Second)
				p = r.whyProfile(ctx, key)
				if ctx.Err() != nil {
					return fmt.Errorf("interrupted while profiling %s; every process it started is stopped", key)
				}
				if p.Err != "" {
					r.say("  no profile: %s", p.Err)
				}
				done[key] = p
			}
			t.Why = append(t.Why, p)
		}
	}
	return nil
}

// whyProfile is the summarized CPU profile of the mode with key: the one
// the measured run took, else one taken now, in a short run of its own
// under the same load.
func (r *runner) whyProfile(ctx context.Context, key string) report.Profile {
	res := r.out.Find(key)
	p := report.Profile{Key: key, Name: res.Name, File: res.Profile, Reused: res.Profile != ""}
	var err error
	if !p.Reused {
		p.File = profileFile("why", r.mode(key))
		p.RPS, err = r.profileMode(ctx, r.mode(key), p.File)
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
// into file (relative to the results folder); it returns wrk's rate.
func (r *runner) profileMode(ctx context.Context, m mode, file string) (float64, error) {
	pprofAddr, err := freeAddr()
	if err != nil {
		return 0, err
	}
	a, err := r.startApp(ctx, "why-"+slug(m), m, []string{"TASKLIST_PPROF_ADDR=" + pprofAddr})
	if err != nil {
		return 0, err
	}
	defer a.proc.stop()
	if _, err := warm(a.base); err != nil {
		return 0, err
	}
	lr, err := r.profiledLoad(ctx, r.load(a.base, m, (whySeconds+2)*time.Second), pprofAddr, whySeconds, file)
	return lr.rps(), err
}
