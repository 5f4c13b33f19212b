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
// library's in place of tasklist's, nor the system call's entry in place
// of the call), and a function counts once per sample however often it
// recurses.
func TestSummarize(t *testing.T) {
	const web = "github.com/tasklist/tasklist/internal/web."
	path := writeProfile(t, map[string][]string{
		"render": {"runtime.goexit", "net/http.(*conn).serve", web + "logRequests.func1", web + "(*Server).index", "html/template.(*Template).Execute", "html/template.(*Template).Execute"},
		"alloc":  {"runtime.goexit", "net/http.(*conn).serve", web + "logRequests.func1", web + "(*Server).index", "runtime.mallocgc"},
		"write":  {"runtime.goexit", "net/http.(*conn).serve", "bufio.(*Writer).Flush", "syscall.write", "syscall.RawSyscall6", "internal/runtime/syscall/linux.Syscall6"},
		"json":   {"runtime.goexit", "net/http.(*conn).serve", web + "(*Server).api", "encoding/json.Marshal"},
		"idle":   {"runtime.goexit", "runtime.schedule", "runtime.findRunnable"},
		"gc":     {"runtime.gcBgMarkWorker"},
	}, map[string]int64{"render": 45e7, "alloc": 10e7, "write": 30e7, "idle": 10e7, "gc": 5e7, "json": 10e7})
	var p report.Profile
	if err := summarize(path, &p); err != nil {
		t.Fatal(err)
	}
	if p.Seconds != 4 || p.CPU != 1100*time.Millisecond {
		t.Errorf("seconds %v, CPU %v; want 4 and 1.1s", p.Seconds, p.CPU)
	}
	share := func(ns float64) float64 { return ns / 11e8 }
	want := []report.Func{
		{Name: "net/http.(*conn).serve", Cum: share(95e7)},
		{Name: "internal/web.(*Server).index", Cum: share(55e7)},
		{Name: "html/template.(*Template).Execute", Flat: share(45e7), Cum: share(45e7)},
		{Name: "syscall.write", Cum: share(30e7)},
		{Name: "internal/web.(*Server).api", Cum: share(10e7)},
		{Name: "runtime.mallocgc", Flat: share(10e7), Cum: share(10e7)},
		{Name: "runtime.gcBgMarkWorker", Flat: share(5e7), Cum: share(5e7)},
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
