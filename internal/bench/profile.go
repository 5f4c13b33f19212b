package bench

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/google/pprof/profile"

	"github.com/tasklist/tasklist/internal/bench/report"
)

// topFuncs is how many functions a profile's summary lists.
const topFuncs = 12

// module is tasklist's import path, trimmed from the names shown.
const module = "github.com/tasklist/tasklist/"

// summarize reads the CPU profile at path and fills p's figures: how long
// it sampled, the CPU time in it and the functions that take the most.
func summarize(path string, p *report.Profile) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	prof, err := profile.Parse(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	cpu := slices.IndexFunc(prof.SampleType, func(t *profile.ValueType) bool { return t.Type == "cpu" })
	if cpu < 0 {
		return fmt.Errorf("%s: not a CPU profile", path)
	}
	p.Seconds = time.Duration(prof.DurationNanos).Seconds()
	values, funcs := tally(prof, cpu)
	var total int64
	for _, v := range values {
		total += v
	}
	p.CPU = time.Duration(total)
	p.Top = top(funcs, values, total, topFuncs)
	return nil
}

// fn is one function's CPU time in a profile: flat, cumulative, and the
// samples it is on (their indexes, ascending) with how far from the
// stack's root it is in each (its outermost call), which orders the calls
// of a chain.
type fn struct {
	name      string
	flat, cum int64
	samples   []int
	depths    []int
}

// inside reports whether f is called by g, in the first sample they share
// (false when they share none).
func (f *fn) inside(g *fn) bool {
	j := 0
	for i, s := range f.samples {
		for j < len(g.samples) && g.samples[j] < s {
			j++
		}
		if j == len(g.samples) {
			return false
		}
		if g.samples[j] == s {
			return f.depths[i] > g.depths[j]
		}
	}
	return false
}

// tally adds up each function's flat and cumulative CPU time (value
// index v of each sample), counting a function once per sample however
// often it recurses, and returns each sample's CPU time too.
func tally(prof *profile.Profile, v int) ([]int64, map[string]*fn) {
	values := make([]int64, len(prof.Sample))
	funcs := map[string]*fn{}
	for i, s := range prof.Sample {
		val := s.Value[v]
		values[i] = val
		seen := map[string]bool{}
		for li, loc := range s.Location {
			for lj, line := range loc.Line {
				if line.Function == nil {
					continue
				}
				name := line.Function.Name
				f := funcs[name]
				if f == nil {
					f = &fn{name: name}
					funcs[name] = f
				}
				if li == 0 && lj == 0 {
					f.flat += val
				}
				if !seen[name] {
					seen[name] = true
					f.cum += val
					f.samples = append(f.samples, i)
					f.depths = append(f.depths, len(s.Location)-li)
				}
			}
		}
	}
	return values, funcs
}

// top picks the n functions that say where the time went, by cumulative
// share: the runtime's scheduler and goroutine frames are left out, and
// of a chain of calls that take about the same time (one function that
// calls the next: middleware, a write down to its system call) only one
// is kept: the innermost of those that say the most (see rank). values
// are the samples' CPU times, total their sum.
func top(funcs map[string]*fn, values []int64, total int64, n int) []report.Func {
	if total == 0 {
		return nil
	}
	all := make([]*fn, 0, len(funcs))
	for _, f := range funcs {
		if !scheduler(f.name) {
			all = append(all, f)
		}
	}
	slices.SortFunc(all, func(a, b *fn) int {
		return cmp.Or(cmp.Compare(b.cum, a.cum), strings.Compare(a.name, b.name))
	})
	// same is how close two functions' samples may be at most to count
	// as one chain: 3% of the profile's CPU time either way.
	same := total * 3 / 100
	var picks []pick
	for _, f := range all {
		chained := false
		for i := range picks {
			pk := &picks[i]
			if pk.close(f, same, values) {
				if rf, rs := rank(f.name), rank(pk.shown.name); rf > rs || rf == rs && f.inside(pk.shown) {
					pk.shown = f
				}
				chained = true
				break
			}
		}
		if !chained {
			if len(picks) == n {
				continue // it may still stand for a chain already picked
			}
			picks = append(picks, pick{shown: f, of: f})
		}
	}
	out := make([]report.Func, len(picks))
	for i, pk := range picks {
		out[i] = report.Func{Name: strings.TrimPrefix(pk.shown.name, module),
			Flat: float64(pk.shown.flat) / float64(total), Cum: float64(pk.shown.cum) / float64(total)}
	}
	// A chain shows its innermost function, which may take a little less
	// than the next chain's outermost.
	slices.SortStableFunc(out, func(a, b report.Func) int { return cmp.Compare(b.Cum, a.Cum) })
	return out
}

// pick is a chain of calls that take about the same time, and the one
// function of it shown.
type pick struct {
	shown *fn
	of    *fn // the chain's outermost function
}

// close reports whether f belongs to the chain: on about the same samples
// as its outermost function or as the one shown, g (all but a fifth of
// g's CPU time, and at most same, either way).
func (pk *pick) close(f *fn, same int64, values []int64) bool {
	for _, g := range []*fn{pk.of, pk.shown} {
		d := min(same, g.cum/5)
		if g.cum-f.cum <= d && outside(f.samples, g.samples, values) <= d {
			return true
		}
	}
	return false
}

// outside is the CPU time of the samples of a that are not b's (both
// ascending indexes into values).
func outside(a, b []int, values []int64) int64 {
	var t int64
	j := 0
	for _, s := range a {
		for j < len(b) && b[j] < s {
			j++
		}
		if j == len(b) || b[j] != s {
			t += values[s]
		}
	}
	return t
}

// rank orders the functions of a chain by what their names tell a reader:
// tasklist's own first (main is cmd/tasklist's), then the others, last the standard library's
// internal packages and the system call's entry, common to every system
// call (the innermost of a write).
func rank(name string) int {
	switch {
	case strings.HasPrefix(name, module), strings.HasPrefix(name, "main."):
		return 2
	case strings.HasPrefix(name, "internal/"), strings.HasPrefix(name, "syscall.Syscall"), strings.HasPrefix(name, "syscall.RawSyscall"):
		return 0
	}
	return 1
}

// scheduler reports whether name is one of the runtime's frames that say
// nothing about the app's work: goroutine entry, scheduling, stack
// growth, the profiler's placeholders. The runtime's allocation, garbage
// collection and copying stay.
func scheduler(name string) bool {
	rest, ok := strings.CutPrefix(name, "runtime.")
	if !ok {
		return false
	}
	for _, keep := range []string{"gc", "mallocgc", "bgsweep", "bgscavenge", "memmove", "memclr", "growslice", "scanobject", "markroot"} {
		if strings.HasPrefix(rest, keep) {
			return false
		}
	}
	return true
}
