package bench

import (
	"fmt"
	"strings"
	"time"

	"github.com/tasklist/tasklist/internal/bench/report"
)

// The targets docs/benchmarks.md states: ratios to the bare handler
// sending the same response, the adds' latency under the mixed load, and
// the stampede's.
const (
	pageInProcessRatio = 0.85
	pageMemcachedRatio = 0.6
	fragInProcessRatio = 0.8
	noneRatio          = 0.15
	mixedRatio         = 0.35
	addsP99            = 50   // ms
	stampedeP99        = 1500 // ms
	peakRSSMiB         = 128
)

// targets checks run against the targets. A target whose figures the run
// does not all have (a mode filtered out) is reported as not measured.
func targets(run *report.Run) []report.Target {
	var ts []report.Target
	// ratio is a target on the same-response ratio of each of keys; a
	// miss is about the modes that fell short.
	ratio := func(name string, want float64, keys ...string) {
		t := report.Target{Name: name, Want: fmt.Sprintf("≥ %.2f× the same response", want), Met: true}
		var got []string
		for _, key := range keys {
			r := run.Find(key)
			if r == nil || r.Ratio == 0 {
				t.Missing = true
				continue
			}
			g := fmt.Sprintf("%.2f× (%.0f of %.0f req/s)", r.Ratio, r.RPS, r.Ceiling)
			if len(keys) > 1 {
				g = r.Encoding + " " + g
			}
			got = append(got, g)
			if r.Ratio < want {
				t.Met = false
				t.Modes = append(t.Modes, key)
			}
		}
		t.Got = strings.Join(got, "; ")
		if t.Got == "" {
			t.Got = "—"
		}
		t.Met = t.Met && !t.Missing
		ts = append(ts, t)
	}
	both := func(cache, layers string) []string {
		return []string{appKey(SQLite, 100, cache, layers, false, false), appKey(SQLite, 100, cache, layers, false, true)}
	}
	ratio("page hit, in-process, identity", pageInProcessRatio, appKey(SQLite, 100, InProcess, LayersAll, false, false))
	ratio("page hit, in-process, gzip", pageInProcessRatio, appKey(SQLite, 100, InProcess, LayersAll, false, true))
	ratio("page hit, memcached (identity and gzip)", pageMemcachedRatio, both(Memcached, LayersAll)...)
	ratio("query+fragment, in-process (identity and gzip)", fragInProcessRatio, both(InProcess, LayersFrag)...)
	ratio("layers none (identity and gzip)", noneRatio, both(NoCache, LayersNone)...)
	mixedKey := appKey(SQLite, 100, Memcached, LayersAll, true, true)
	ratio(fmt.Sprintf("mixed (one add per %d reads), all layers, memcached, gzip", run.Load.WritesEvery), mixedRatio, mixedKey)
	ts = append(ts, addsTarget(run.Find(mixedKey), mixedKey))

	if s := run.Stampede; s != nil {
		t := report.Target{Name: "stampede: slow queries", Want: "exactly 1"}
		if s.SlowQueries == nil {
			t.Missing, t.Got = true, "not counted"
		} else {
			t.Got, t.Met = fmt.Sprint(*s.SlowQueries), *s.SlowQueries == 1
		}
		p99 := s.P99.Round(time.Millisecond).Milliseconds() // as the stampede's own line rounds it
		ts = append(ts, t, report.Target{Name: "stampede: p99 latency", Want: fmt.Sprintf("< %d ms", stampedeP99),
			Got: fmt.Sprintf("%d ms", p99), Met: p99 < stampedeP99 && s.Errors == 0})
	}
	return append(ts, errorsTarget(run), rssTarget(run))
}

// addsTarget is the target on the adds' latency under the mixed load of
// r (key, nil when not measured): their p99, and none failed.
func addsTarget(r *report.Result, key string) report.Target {
	t := report.Target{Name: "mixed: the adds' p99 latency", Want: fmt.Sprintf("< %d ms, every add answered 303", addsP99)}
	if r == nil || r.Writes == nil || r.Writes.Count == 0 {
		t.Missing, t.Got = true, "—"
		return t
	}
	w := r.Writes
	p99 := w.P99.Round(time.Millisecond).Milliseconds()
	t.Got = fmt.Sprintf("%d ms (p50 %d ms; %d adds, %d failed)", p99, w.P50.Round(time.Millisecond).Milliseconds(), w.Count, w.Errors)
	t.Met = p99 < addsP99 && w.Errors == 0
	if !t.Met {
		t.Modes = []string{key}
	}
	return t
}

// errorsTarget: no mode had a failed request, the references included.
func errorsTarget(run *report.Run) report.Target {
	t := report.Target{Name: "every mode: no error responses", Want: "0 errors", Met: true}
	var bad []string
	for _, r := range run.Results {
		if r.Errors > 0 {
			bad = append(bad, fmt.Sprintf("%s: %d", r.Key, r.Errors))
		}
	}
	switch {
	case len(run.Results) == 0:
		t.Missing, t.Got = true, "—"
	case len(bad) > 0:
		t.Met, t.Got = false, strings.Join(bad, "; ")
	default:
		t.Got = fmt.Sprintf("0 in %d modes", len(run.Results))
	}
	return t
}

// rssTarget: the app's peak RSS in every mode in scope.
func rssTarget(run *report.Run) report.Target {
	rss := report.Target{Name: "every mode: peak RSS of the app, SQLite, 100 tasks", Want: fmt.Sprintf("< %d MiB", peakRSSMiB), Met: true}
	var over []string
	for _, r := range run.Results {
		if inScope(r) && r.PeakRSS >= peakRSSMiB<<20 {
			rss.Met = false
			over = append(over, fmt.Sprintf("%s: %.1f MiB", r.Key, float64(r.PeakRSS)/(1<<20)))
		}
	}
	switch l := largest(run); {
	case len(over) > 0:
		rss.Got = strings.Join(over, "; ")
	case l == nil:
		rss.Missing, rss.Got = true, "—"
	default:
		rss.Got = fmt.Sprintf("largest %.1f MiB (%s)", float64(l.PeakRSS)/(1<<20), l.Key)
	}
	return rss
}

// inScope reports whether r is an app run the memory target is about:
// the targets are stated for SQLite and 100 tasks.
func inScope(r report.Result) bool {
	return r.Kind == report.App && r.PeakRSS > 0 && r.DB == SQLite && r.Tasks == 100
}

// largest is the app result in scope with the largest peak RSS.
func largest(run *report.Run) *report.Result {
	var l *report.Result
	for i, r := range run.Results {
		if inScope(r) && (l == nil || r.PeakRSS > l.PeakRSS) {
			l = &run.Results[i]
		}
	}
	return l
}

// notes say how the run's figures were measured.
func notes(run *report.Run) []string {
	return []string{
		"Every mode is a fresh tasklist process (built from this checkout) on a fresh database seeded with the tasks shown, " +
			"listening on 127.0.0.1, warmed up with 20 sequential `GET /` (in the mode's encoding) before wrk starts; logging stays on " +
			"(`TASKLIST_LOG_LEVEL=info`, one line per request, written to a file in the results folder's logs/).",
		"Every read mode runs twice: wrk without Accept-Encoding (identity) and with `-H 'Accept-Encoding: gzip'` (what every browser sends).",
		"req/s is wrk's completed requests over its run time; p50 and p99 are wrk's latency percentiles. × same response divides by " +
			"the req/s of a bare Go handler sending the very response the app sent at the start of the mode, once warm: its status, " +
			"every header but Date (which net/http writes, as the app's does) and its body, the identity response or the gzip one as the " +
			"request asks, captured from the app with wrk's request and checked byte for byte (but the Date) against the handler's own " +
			"answer before it is driven. × three headers divides by the bare handler of the first runs: the identity body with only " +
			"Content-Type, Content-Length and Date, whatever the request asks. Both are separate Go processes, driven by the same wrk " +
			"for half the mode's time right before it (the three-header one first); the same-response handler is driven again for as " +
			"long right after it, and × same response divides by the mean of the two, so that changes in the machine's load during the " +
			"run (other work on the shared cores) stay out of the ratios. The references' own rows send a page hit's response from " +
			"the app with all layers and the in-process cache.",
		"cache ops/req, with memcached, is memcached's own counters (`stats`: cmd_get, cmd_set, cmd_touch, deletes, incr/decr) " +
			"read before and after wrk, over wrk's requests: keys touched per request, so a multi-get of the version and a page " +
			"counts 2 though it is one round trip. With the in-process cache (no round trips) it is the app's own count of cache " +
			"operations (`" + cacheOpsMetric + "` at /metrics: gets, sets, deletes of every layer), when the app serves /metrics.",
		"DB queries/req is the app's own count of database queries (`" + dbQueriesMetric + "` at /metrics, every kind) read " +
			"before and after wrk, over wrk's requests. An app without /metrics is counted on PostgreSQL only: pg_stat_database's " +
			"transactions in the mode's own database over the app's whole life (start-up, warm-up and wrk) over the warm-up and " +
			"wrk requests; SQLite and MariaDB then show —.",
		"CPU/req is the server process's CPU time (user and system, from /proc) over its run, per request wrk counted (the " +
			"mixed workload's adds are in the time, not the count); in parentheses the same-response handler's over its runs " +
			"before and after. nginx's row has none: its workers are processes of their own.",
		"peak RSS is the server process's VmHWM from /proc just before it is stopped.",
		fmt.Sprintf("The mixed workload is wrk's reads (`GET /`) and, from a second client in the bench process, one `POST /add` "+
			"per %d reads the app counted (`%s` at /metrics, read every %v and extrapolated between). Each add starts when it is due, "+
			"whether those before it are answered or not (up to %d at once), from a new visitor with Sec-Fetch-Site: same-origin, "+
			"and is timed from its request to the end of its 303. The mode's errors count the adds that failed too.",
			run.Load.WritesEvery, requestsMetric, countEvery, addsInFlight),
	}
}
