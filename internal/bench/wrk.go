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

// mixedScript is the mixed workload: GET / except every (every+1)th
// request, which toggles one of the given task ids with a same-origin
// POST. Arguments: every, then the ids separated by commas.
const mixedScript = `
local every, ids, n, get = 50, {}, 0, nil
function init(args)
  every = tonumber(args[1])
  for id in string.gmatch(args[2], "%d+") do ids[#ids + 1] = id end
  get = wrk.format("GET", "/")
end
function request()
  n = n + 1
  if n % (every + 1) == 0 then
    return wrk.format("POST", "/toggle", {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Sec-Fetch-Site"] = "same-origin",
    }, "id=" .. ids[math.random(#ids)] .. "&done=" .. math.random(0, 1))
  end
  return get
end
` + doneScript

// loadSpec is one wrk run.
type loadSpec struct {
	url         string
	threads     int
	connections int
	duration    time.Duration
	// writesEvery, when positive, makes it the mixed workload: one write
	// per this many reads, toggling one of ids.
	writesEvery int
	ids         []int64
}

// loadResult is what wrk measured.
type loadResult struct {
	requests int64
	seconds  float64
	p50, p99 time.Duration
	errors   int64
}

func (r loadResult) rps() float64 {
	if r.seconds == 0 {
		return 0
	}
	return float64(r.requests) / r.seconds
}

// runWrk drives spec with the wrk at bin; scripts go into dir.
func runWrk(ctx context.Context, bin, dir string, spec loadSpec) (loadResult, error) {
	script, args := doneScript, []string(nil)
	if spec.writesEvery > 0 {
		if len(spec.ids) == 0 {
			return loadResult{}, fmt.Errorf("bench: the mixed workload needs task ids")
		}
		ids := make([]string, len(spec.ids))
		for i, id := range spec.ids {
			ids[i] = strconv.FormatInt(id, 10)
		}
		script, args = mixedScript, []string{"--", strconv.Itoa(spec.writesEvery), strings.Join(ids, ",")}
	}
	path := filepath.Join(dir, "wrk.lua")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		return loadResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, spec.duration+30*time.Second)
	defer cancel()
	cmdArgs := append([]string{
		"-t" + strconv.Itoa(spec.threads), "-c" + strconv.Itoa(spec.connections),
		"-d" + strconv.Itoa(int(spec.duration.Seconds())) + "s", "--timeout", "10s",
		"-s", path, spec.url,
	}, args...)
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, cmdArgs...)
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
