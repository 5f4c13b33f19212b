package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tasklist/tasklist/internal/bench/flood"
	"github.com/tasklist/tasklist/internal/bench/report"
)

// FloodOptions configure the floods of docs/reliability.md ("Bounded
// resources"). Each builds tasklist, seeds an SQLite database with Tasks
// tasks of 200-character names, starts one instance on 127.0.0.1
// (in-process cache, every layer, pages of floodPageSize tasks), floods
// it, writes what it saw to Out, and stops the instance.
type FloodOptions struct {
	// RepoDir is the module root, where tasklist is built from.
	RepoDir string
	Tasks   int
	// Duration is how long each phase of the ?after= flood lasts, and
	// Connections how many connections send it.
	Duration    time.Duration
	Connections int
	// Unread is how many connections the never-read flood opens,
	// Pipelined how many requests each sends, and Hold how long they stay
	// open (the server closes them within its WriteTimeout, 30 s).
	Unread, Pipelined int
	Hold              time.Duration
	Out               io.Writer
}

// floodPageSize is TASKLIST_PAGE_SIZE in the floods: the page starts are
// then every floodPageSize-th id.
const floodPageSize = 100

// longTaskName is the i-th task's name padded to 200 characters, the
// longest a name may be.
func longTaskName(i int) string {
	name := taskName(i) + " "
	return name + strings.Repeat("x", 200-len(name))
}

// withFloodTarget starts the instance FloodOptions describes, runs fn on
// it, and stops it.
func withFloodTarget(ctx context.Context, o FloodOptions, fn func(a *app) error) error {
	work, err := os.MkdirTemp("", "tasklist-flood-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	r := &runner{
		opts:  Options{RepoDir: o.RepoDir, Progress: o.Out},
		procs: newProcs(work),
		dbs:   &databases{dir: work, templates: map[int]string{}, name: longTaskName},
		work:  work,
	}
	defer r.procs.stopAll()
	if err := r.build(ctx); err != nil {
		return err
	}
	r.say("seeding %d tasks of 200 characters", o.Tasks)
	a, err := r.startApp(ctx, "tasklist", mode{kind: report.App, db: SQLite, tasks: o.Tasks, cache: InProcess, layers: LayersAll},
		[]string{"TASKLIST_PAGE_SIZE=" + strconv.Itoa(floodPageSize), "TASKLIST_LOG_LEVEL=warn"})
	if err != nil {
		return err
	}
	r.say("tasklist serves at %s (pid %d); load average %s", a.base, a.proc.PID(), loadAverage())
	return fn(a)
}

// FloodAfter asks for thousands of distinct ?after= values: Connections
// connections cycle through /?after=1 … /?after=Tasks-1 for Duration; then
// for Duration half of them go on while the other half read the page
// starts (/, /?after=100, …). It reports the answers, the in-process
// cache's evictions, the pages and list fragments stored, and memory.
func FloodAfter(ctx context.Context, o FloodOptions) error {
	return withFloodTarget(ctx, o, func(a *app) error {
		var starts, floodURLs []string
		for after := 0; after < o.Tasks; after += floodPageSize {
			starts = append(starts, a.base+pageURL(after))
		}
		for after := 1; after < o.Tasks; after++ {
			floodURLs = append(floodURLs, a.base+pageURL(after))
		}
		// Every page start once, as visitors would have read them.
		for _, u := range starts {
			if _, err := get(u); err != nil {
				return err
			}
		}
		before, err := scrapeProcess(a)
		if err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "the ?after= flood: %d connections over %d distinct values for %v\n", o.Connections, len(floodURLs), o.Duration)
		alone, err := flood.Cycle(ctx, floodURLs, o.Connections, o.Duration)
		if err != nil {
			return err
		}
		mid, err := scrapeProcess(a)
		if err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "  %s\n  %s\n", describe(alone), mid.since(before))
		half := max(o.Connections/2, 1)
		fmt.Fprintf(o.Out, "the flood on %d connections beside %d reading the %d page starts, for %v\n", half, half, len(starts), o.Duration)
		var (
			beside  flood.Result
			errSide error
			wg      sync.WaitGroup
		)
		wg.Go(func() { beside, errSide = flood.Cycle(ctx, floodURLs, half, o.Duration) })
		pages, err := flood.Cycle(ctx, starts, half, o.Duration)
		wg.Wait()
		if err := errors.Join(err, errSide); err != nil {
			return err
		}
		end, err := scrapeProcess(a)
		if err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "  the flood: %s\n  the page starts: %s\n  %s\n", describe(beside), describe(pages), end.since(mid))
		return nil
	})
}

// FloodUnread opens Unread connections that each send Pipelined GET / and
// never read, holds them Hold, and reports how fast a visitor is answered
// beside them, the server's goroutines and memory over the hold, and how
// many answers it wrote.
func FloodUnread(ctx context.Context, o FloodOptions) error {
	return withFloodTarget(ctx, o, func(a *app) error {
		if _, err := get(a.base + "/"); err != nil { // the page cached
			return err
		}
		before, err := scrapeProcess(a)
		if err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "%d connections, each sending %d pipelined GET / with a 4 KB receive buffer and never reading, held %v\n", o.Unread, o.Pipelined, o.Hold)
		opened := time.Now()
		conns, err := flood.Unread(ctx, hostPort(a.base), o.Unread, strings.Repeat("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", o.Pipelined))
		if err != nil {
			return err
		}
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		fmt.Fprintf(o.Out, "  sent in %v\n", time.Since(opened).Round(time.Millisecond))
		for _, path := range []string{"/", "/metrics"} {
			asked := time.Now()
			if _, err := get(a.base + path); err != nil {
				return err
			}
			fmt.Fprintf(o.Out, "  a visitor's GET %s answered in %v\n", path, time.Since(asked).Round(time.Millisecond))
		}
		peak := 0.0
		var last processMetrics
		for next := time.Second; next <= o.Hold; next += time.Second {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Until(opened.Add(next))):
			}
			if last, err = scrapeProcess(a); err != nil {
				return err
			}
			peak = max(peak, last.goroutines)
			if next%(5*time.Second) == 0 {
				fmt.Fprintf(o.Out, "  after %v: %.0f goroutines, RSS %s\n", next, last.goroutines, mib(last.rss))
			}
		}
		// The visitor's GET / is a read too.
		fmt.Fprintf(o.Out, "  %.0f answers written in all; goroutines %.0f before, %.0f at the peak, %.0f at the end; RSS %s before, peak %s\n",
			last.reads-before.reads-1, before.goroutines, peak, last.goroutines, mib(before.rss), mib(last.peakRSS))
		return nil
	})
}

// processMetrics is what FloodAfter and FloodUnread read of the instance:
// from its /metrics, and its peak RSS from /proc.
type processMetrics struct {
	reads, evictions, pagesStored, fragmentsStored float64
	heapInUse, rss, goroutines                     float64
	peakRSS                                        float64
}

// scrapeProcess reads a's /metrics and peak RSS.
func scrapeProcess(a *app) (processMetrics, error) {
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Get(a.base + "/metrics")
	if err != nil {
		return processMetrics{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return processMetrics{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return processMetrics{}, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	app, err := parseMetrics(bytes.NewReader(body))
	if err != nil {
		return processMetrics{}, err
	}
	var missing []string
	sum := func(name string, labels ...string) float64 {
		var n float64
		found := false
		defer func() {
			if !found {
				missing = append(missing, name)
			}
		}()
		for line := range strings.Lines(string(body)) {
			if strings.HasPrefix(line, "#") {
				continue
			}
			got, l, value, err := splitSample(strings.TrimSpace(line))
			if err != nil || got != name {
				continue
			}
			match := true
			for i := 0; i+1 < len(labels); i += 2 {
				match = match && l[labels[i]] == labels[i+1]
			}
			if v, err := strconv.ParseFloat(value, 64); err == nil && match {
				n, found = n+v, true
			}
		}
		return n
	}
	m := processMetrics{
		reads:           app.reads,
		evictions:       sum("tasklist_cache_server_evictions_total"),
		pagesStored:     sum(cacheOpsMetric, "layer", "page", "operation", "set"),
		fragmentsStored: sum(cacheOpsMetric, "layer", "fragment", "operation", "set"),
		heapInUse:       sum("tasklist_go_memstats_heap_inuse_bytes"),
		rss:             sum("tasklist_process_resident_memory_bytes"),
		goroutines:      sum("tasklist_go_goroutines"),
		peakRSS:         float64(a.proc.peakRSS()),
	}
	if missing != nil {
		return m, fmt.Errorf("GET /metrics: no %s", strings.Join(missing, ", "))
	}
	return m, nil
}

// since says what changed from m0 to m, and m's memory.
func (m processMetrics) since(m0 processMetrics) string {
	return fmt.Sprintf("evictions %.0f, page sets %.0f, fragment sets %.0f; Go heap in use %s, RSS %s, peak RSS %s",
		m.evictions-m0.evictions, m.pagesStored-m0.pagesStored, m.fragmentsStored-m0.fragmentsStored,
		mib(m.heapInUse), mib(m.rss), mib(m.peakRSS))
}

// describe says how a flood's requests were answered.
func describe(r flood.Result) string {
	var statuses []string
	for _, code := range slices.Sorted(maps.Keys(r.Statuses)) {
		statuses = append(statuses, fmt.Sprintf("%d × %d", r.Statuses[code], code))
	}
	return fmt.Sprintf("%d answers in %v, %.0f/s (%s), %d errors; p50 %v, p99 %v",
		len(r.Latencies), r.Elapsed.Round(time.Millisecond), r.Rate(), strings.Join(statuses, ", "), r.Errors,
		r.Percentile(0.5).Round(100*time.Microsecond), r.Percentile(0.99).Round(100*time.Microsecond))
}

func mib(bytes float64) string { return fmt.Sprintf("%.0f MiB", bytes/(1<<20)) }

// pageURL is the path of the page after the id after.
func pageURL(after int) string {
	if after == 0 {
		return "/"
	}
	return "/?after=" + strconv.Itoa(after)
}
