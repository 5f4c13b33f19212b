package report

import (
	"fmt"
	"strings"
	"time"
)

// Markdown renders run as a Markdown document: the machine and command,
// the table of results, the chart (chart is the SVG's file name, relative
// to the document), the adds of the mixed runs, the stampede, and the
// targets met and missed.
func Markdown(run *Run, chart string) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# tasklist benchmark, %s\n\n", run.Started.UTC().Format("2006-01-02 15:04 MST"))
	p("Command: `%s`  \n", run.Command)
	m := run.Machine
	p("Machine: %s, %d cores, %d MiB, %s; %s; %s  \n", m.CPU, m.Cores, m.MemoryMiB, m.Kernel, m.Go, m.Wrk)
	p("Load average before: %s; after: %s  \n", m.LoadBefore, m.LoadAfter)
	p("Load: wrk -t%d -c%d -d%s per mode, keep-alive, each read mode without and with `Accept-Encoding: gzip`; "+
		"mixed workload: one add (POST /add, from a client of its own) per %d reads  \n",
		run.Load.Threads, run.Load.Connections, run.Load.Duration, run.Load.WritesEvery)
	p("Took %s.\n\n", run.Finished.Sub(run.Started).Round(time.Second))

	p("| mode | database | tasks | workload | encoding | req/s | same response req/s, mean of before / after | × same response | " +
		"three headers req/s just before | × three headers | CPU/req (same response's) | p50 | p99 | DB queries/req | cache ops/req | peak RSS | errors |\n")
	p("| --- | --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range run.Results {
		p("| %s | %s | %s | %s | %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d |\n",
			r.Name, dash(r.DB), count(r.Tasks), r.Workload, dash(r.Encoding), r.RPS, ceiling(r), ratio(r.Ratio),
			rate(r.ThreeHeaderCeiling), ratio(r.ThreeHeaderRatio), cpu(r), ms(r.P50), ms(r.P99),
			perReq(r.DBQueries), perReq(r.CacheOps), mib(r.PeakRSS), r.Errors)
	}
	p("\n![requests per second, each mode](%s)\n\n", chart)
	writes(&b, run)

	if s := run.Stampede; s != nil {
		p("## Cold-start stampede\n\n")
		slow := "not counted"
		if s.SlowQueries != nil {
			slow = fmt.Sprint(*s.SlowQueries)
		}
		p("%d instances, one empty memcached, %d concurrent requests to `GET /`, TASKLIST_SLOW_QUERY=%s: "+
			"slow queries run: **%s**; latency p50 %s, p99 %s, max %s; %d errors. %s\n\n",
			s.Instances, s.Requests, s.SlowQuery, slow, ms(s.P50), ms(s.P99), ms(s.Max), s.Errors, s.How)
	}

	if len(run.Targets) > 0 {
		p("## Targets\n\n| target | want | got | met |\n| --- | --- | --- | --- |\n")
		for _, t := range run.Targets {
			met := "yes"
			switch {
			case t.Missing:
				met = "not measured"
			case !t.Met:
				met = "**missed**"
			}
			p("| %s | %s | %s | %s |\n", t.Name, t.Want, t.Got, met)
		}
		p("\n")
		whyMissed(&b, run.Targets)
	}
	if len(run.Notes) > 0 {
		p("## How it was measured\n\n")
		for _, n := range run.Notes {
			p("- %s\n", n)
		}
	}
	return b.String()
}

// writes writes the table of the mixed runs' adds, when there were any.
func writes(b *strings.Builder, run *Run) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	head := false
	for _, r := range run.Results {
		w := r.Writes
		if w == nil {
			continue
		}
		if !head {
			p("## Adds under the mixed load\n\nEach add timed from its request to the end of its answer, beside wrk's reads.\n\n")
			p("| mode | encoding | adds | reads per add | p50 | p99 | max | failed |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
			head = true
		}
		p("| %s | %s | %d | %.1f | %s | %s | %s | %d |\n", label(r), r.Encoding, w.Count, w.ReadsPerWrite, ms(w.P50), ms(w.P99), ms(w.Max), w.Errors)
	}
	if head {
		p("\n")
	}
}

// whyMissed writes, for each target missed, the CPU profiles of the modes
// it is about: where their time went.
func whyMissed(b *strings.Builder, targets []Target) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	for _, t := range targets {
		if t.Met || t.Missing || len(t.Why) == 0 {
			continue
		}
		p("### Why missed: %s\n\n%s, want %s.\n\n", t.Name, t.Got, t.Want)
		for _, pr := range t.Why {
			if pr.Err != "" {
				p("%s (`%s`): no profile: %s\n\n", pr.Name, pr.Key, pr.Err)
				continue
			}
			how := "in a run of its own after the measured ones, under the same wrk load"
			if pr.Reused {
				how = "while its figures above were measured"
			}
			p("%s (`%s`), profiled for %.0f s %s (%.0f req/s then): %.1f s of CPU, %.2f cores",
				pr.Name, pr.Key, pr.Seconds, how, pr.RPS, pr.CPU.Seconds(), pr.CPU.Seconds()/pr.Seconds)
			if pr.CPUPerRequest > 0 && pr.BareCPUPerRequest > 0 {
				p("; CPU time per request: the app's %s, the bare handler's sending the same response %s (driven right after it)",
					micros(pr.CPUPerRequest), micros(pr.BareCPUPerRequest))
			}
			p(". Inspect it from the results folder with `go tool pprof -top -cum %s`; the functions that take the most, "+
				"as shares of the app's CPU time (the scheduler's own frames left out):\n\n", pr.File)
			p("| function | cum | flat |\n| --- | ---: | ---: |\n")
			for _, f := range pr.Top {
				p("| `%s` | %.1f%% | %.1f%% |\n", f.Name, 100*f.Cum, 100*f.Flat)
			}
			p("\n")
		}
	}
}

func micros(d time.Duration) string {
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func count(n int) string {
	if n == 0 {
		return "—"
	}
	return fmt.Sprint(n)
}

// rate shows a ceiling's req/s, — when there is none.
func rate(v float64) string {
	if v == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f", v)
}

func ratio(r float64) string {
	if r == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", r)
}

// ms shows a latency in milliseconds, with more digits when it is small.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	if v < 10 {
		return fmt.Sprintf("%.2f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}

func perReq(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("%.2f", *v)
}

func mib(n int64) string {
	if n == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// cpu shows a result's CPU time per request, then the same-response
// handler's in parentheses; — when not measured.
func cpu(r Result) string {
	if r.CPUPerRequest == 0 {
		return "—"
	}
	us := func(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond)) }
	if r.CeilingCPUPerRequest == 0 {
		return us(r.CPUPerRequest)
	}
	return us(r.CPUPerRequest) + " (" + us(r.CeilingCPUPerRequest) + ")"
}

// ceiling shows a result's same-response ceiling: the mean, then the runs
// right before and right after the mode that it is the mean of.
func ceiling(r Result) string {
	if r.CeilingAfter == 0 {
		return rate(r.Ceiling)
	}
	return fmt.Sprintf("%s (%s / %s)", rate(r.Ceiling), rate(r.CeilingBefore), rate(r.CeilingAfter))
}
