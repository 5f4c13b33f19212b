package bench

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"github.com/tasklist/tasklist/internal/bench/report"
)

// machine describes this machine from /proc, the Go runtime and wrk.
func machine(wrk string) report.Machine {
	m := report.Machine{CPU: "unknown CPU", Cores: runtime.NumCPU(), Go: runtime.Version(), LoadBefore: loadAverage()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
				m.MemoryMiB = kb >> 10
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	// wrk -v prints its version and usage, and exits 1.
	out, _ := exec.Command(wrk, "-v").CombinedOutput()
	m.Wrk, _, _ = strings.Cut(string(out), " Copyright")
	m.Wrk = strings.TrimSpace(m.Wrk)
	return m
}
