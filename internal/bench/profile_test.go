package bench

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/pprof/profile"

	"github.com/tasklist/tasklist/internal/bench/report"
)

// writeProfile writes a CPU profile of 4 s whose samples are the given
// stacks (outermost first) and CPU times.
func writeProfile(t *testing.T, stacks map[string][]string, cpu map[string]int64) string {
	t.Helper()
	prof := &profile.Profile{
		SampleType:    []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		DurationNanos: int64(4 * time.Second),
		PeriodType:    &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:        10_000_000,
	}
	locs := map[string]*profile.Location{}
	for name, stack := range stacks {
		s := &profile.Sample{Value: []int64{1, cpu[name]}}
		for i := len(stack) - 1; i >= 0; i-- { // leaf first
			loc := locs[stack[i]]
			if loc == nil {
				f := &profile.Function{ID: uint64(len(prof.Function) + 1), Name: stack[i]}
				loc = &profile.Location{ID: uint64(len(prof.Location) + 1), Line: []profile.Line{{Function: f}}}
				prof.Function = append(prof.Function, f)
				prof.Location = append(prof.Location, loc)
				locs[stack[i]] = loc
			}
			s.Location = append(s.Location, loc)
		}
		prof.Sample = append(prof.Sample, s)
	}
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := prof.Write(f); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSummarize: the scheduler's frames are left out, a chain of calls
// that take the same time shows once (its innermost function, but not a
// library's in place of tasklist's), and a function counts once per
// sample however often it recurses.
func TestSummarize(t *testing.T) {
	const web = "github.com/tasklist/tasklist/internal/web."
	path := writeProfile(t, map[string][]string{
		"render": {"runtime.goexit", "net/http.(*conn).serve", web + "logRequests.func1", web + "(*Server).index", "html/template.(*Template).Execute", "html/template.(*Template).Execute"},
		"alloc":  {"runtime.goexit", "net/http.(*conn).serve", web + "logRequests.func1", web + "(*Server).index", "runtime.mallocgc"},
		"write":  {"runtime.goexit", "net/http.(*conn).serve", "bufio.(*Writer).Flush", "syscall.write"},
		"idle":   {"runtime.goexit", "runtime.schedule", "runtime.findRunnable"},
		"gc":     {"runtime.gcBgMarkWorker"},
	}, map[string]int64{"render": 45e7, "alloc": 10e7, "write": 30e7, "idle": 10e7, "gc": 5e7})
	var p report.Profile
	if err := summarize(path, &p); err != nil {
		t.Fatal(err)
	}
	if p.Seconds != 4 || p.CPU != time.Second {
		t.Errorf("seconds %v, CPU %v; want 4 and 1s", p.Seconds, p.CPU)
	}
	want := []report.Func{
		{Name: "net/http.(*conn).serve", Cum: 0.85},
		{Name: "internal/web.(*Server).index", Cum: 0.55},
		{Name: "html/template.(*Template).Execute", Flat: 0.45, Cum: 0.45},
		{Name: "syscall.write", Flat: 0.3, Cum: 0.3},
		{Name: "runtime.mallocgc", Flat: 0.1, Cum: 0.1},
		{Name: "runtime.gcBgMarkWorker", Flat: 0.05, Cum: 0.05},
	}
	if diff := cmp.Diff(want, p.Top); diff != "" {
		t.Errorf("top (-want +got):\n%s", diff)
	}
}

func TestSummarizeNotCPU(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.pprof")
	if err := os.WriteFile(path, []byte("not a profile"), 0o644); err != nil {
		t.Fatal(err)
	}
	var p report.Profile
	if err := summarize(path, &p); err == nil {
		t.Error("summarize of a text file: no error")
	}
}
