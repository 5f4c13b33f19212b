package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tasklist/tasklist/internal/bench/report"
)

// doneScript reports wrk's summary on one line that loadResult parses:
// requests, duration (µs), p50 and p99 latency (µs), and errors.
const doneScript = `
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH-RESULT %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.status + e.timeout))
end
`

// loadSpec is one wrk run, and the adds beside it.
type loadSpec struct {
	url         string
	threads     int
	connections int
	duration    time.Duration
	// gzip makes wrk's requests ask for the page compressed.
	gzip bool
	// writesEvery, when positive, makes it the mixed workload: one add
	// per this many reads (see runAdds).
	writesEvery int
}

// loadResult is what wrk measured, and the adds beside it.
type loadResult struct {
	requests int64
	seconds  float64
	p50, p99 time.Duration
	errors   int64
	writes   *report.Writes
}

func (r loadResult) rps() float64 {
	if r.seconds == 0 {
		return 0
	}
	return float64(r.requests) / r.seconds
}

// runWrk drives spec's reads with the wrk at bin; its script goes into
// dir.
func runWrk(ctx context.Context, bin, dir string, spec loadSpec) (loadResult, error) {
	path := filepath.Join(dir, "wrk.lua")
	if err := os.WriteFile(path, []byte(doneScript), 0o644); err != nil {
		return loadResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, spec.duration+30*time.Second)
	defer cancel()
	args := []string{
		"-t" + strconv.Itoa(spec.threads), "-c" + strconv.Itoa(spec.connections),
		"-d" + strconv.Itoa(int(spec.duration.Seconds())) + "s", "--timeout", "10s",
		"-s", path,
	}
	if spec.gzip {
		args = append(args, "-H", "Accept-Encoding: gzip")
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, append(args, spec.url)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return loadResult{}, fmt.Errorf("wrk: %w\n%s", err, out.String())
	}
	return parseWrk(out.String())
}

// parseWrk finds doneScript's line in wrk's output.
func parseWrk(out string) (loadResult, error) {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 6 || f[0] != "BENCH-RESULT" {
			continue
		}
		var n [5]int64
		for i := range n {
			v, err := strconv.ParseInt(f[i+1], 10, 64)
			if err != nil {
				return loadResult{}, fmt.Errorf("wrk: bad result line %q", sc.Text())
			}
			n[i] = v
		}
		return loadResult{requests: n[0], seconds: float64(n[1]) / 1e6,
			p50: time.Duration(n[2]) * time.Microsecond, p99: time.Duration(n[3]) * time.Microsecond, errors: n[4]}, nil
	}
	return loadResult{}, fmt.Errorf("wrk: no result in its output:\n%s", out)
}
