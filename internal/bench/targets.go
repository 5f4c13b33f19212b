package bench

import (
	"fmt"
	"time"

	"github.com/tasklist/tasklist/internal/bench/report"
)

// The targets of issue 11, as docs/benchmarks.md states them.
const (
	allInProcessRatio  = 0.8
	allMemcachedRatio  = 0.4
	fragInProcessRatio = 0.5
	noneRatio          = 0.1
	mixedSpeedup       = 5.0
	stampedeP99        = 1500 // ms
	rssBaseMiB         = 64
	localCacheMiB      = 64 // TASKLIST_LOCAL_CACHE_MB's default, which the run keeps
)

// targets checks run against the targets. A target whose figure the run
// does not have (a mode filtered out) is reported as not measured.
func targets(run *report.Run) []report.Target {
	var ts []report.Target
	ratio := func(name, key string, want float64) {
		t := report.Target{Name: name, Want: fmt.Sprintf("≥ %.1f× bare", want), Modes: []string{key}}
		if r := run.Find(key); r == nil || r.Ratio == 0 {
			t.Missing, t.Got = true, "—"
		} else {
			t.Got, t.Met = fmt.Sprintf("%.2f× (%.0f/s)", r.Ratio, r.RPS), r.Ratio >= want
		}
		ts = append(ts, t)
	}
	ratio("all layers, page hit, in-process cache", appKey(SQLite, 100, InProcess, LayersAll, false), allInProcessRatio)
	ratio("all layers, page hit, memcached", appKey(SQLite, 100, Memcached, LayersAll, false), allMemcachedRatio)
	ratio("query+fragment (page off), in-process", appKey(SQLite, 100, InProcess, LayersFrag, false), fragInProcessRatio)
	ratio("layers none", appKey(SQLite, 100, NoCache, LayersNone, false), noneRatio)

	// A miss of the mixed target asks the all-layers mode to go faster:
	// its profile is the one that explains it.
	allKey := appKey(SQLite, 100, Memcached, LayersAll, true)
	mixed := report.Target{Name: "mixed workload, all layers, memcached ÷ query only, memcached", Want: fmt.Sprintf("≥ %.0f×", mixedSpeedup),
		Modes: []string{allKey}}
	all, q := run.Find(allKey), run.Find(appKey(SQLite, 100, Memcached, LayersQuery, true))
	if all == nil || q == nil || q.Ratio == 0 {
		mixed.Missing, mixed.Got = true, "—"
	} else {
		// Each over the bare rate measured just before it, so that a
		// change in the machine's load between the two does not count.
		x := all.Ratio / q.Ratio
		mixed.Got, mixed.Met = fmt.Sprintf("%.1f× (%.2f× ÷ %.2f× bare; %.0f/s and %.0f/s)", x, all.Ratio, q.Ratio, all.RPS, q.RPS), x >= mixedSpeedup
	}
	ts = append(ts, mixed)

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

	rss := report.Target{Name: "peak RSS of the app, SQLite, 100 tasks", Want: fmt.Sprintf("< %d MiB, + %d MiB with the in-process cache", rssBaseMiB, localCacheMiB), Met: true}
	worst := ""
	for _, r := range run.Results {
		if !inScope(r) {
			continue
		}
		limit := int64(rssBaseMiB) << 20
		if r.Cache == InProcess {
			limit += localCacheMiB << 20
		}
		if r.PeakRSS >= limit {
			rss.Met = false
			worst += fmt.Sprintf("%s: %.1f MiB; ", r.Key, float64(r.PeakRSS)/(1<<20))
		}
	}
	switch {
	case worst != "":
		rss.Got = worst
	case largest(run) == nil:
		rss.Missing, rss.Got = true, "—"
	default:
		l := largest(run)
		rss.Got = fmt.Sprintf("largest %.1f MiB (%s)", float64(l.PeakRSS)/(1<<20), l.Key)
	}
	return append(ts, rss)
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
			"listening on 127.0.0.1, warmed up with 20 sequential `GET /` before wrk starts; logging stays on (`TASKLIST_LOG_LEVEL=info`, " +
			"one line per request, written to a file in the results folder's logs/).",
		"req/s is wrk's completed requests over its run time; p50 and p99 are wrk's latency percentiles. × bare divides by the " +
			"bare Go handler's req/s measured right before the mode (the same wrk, for half the time): a separate Go process, " +
			"started once, sending the very same page bytes with only a Content-Type and a Content-Length. Pairing each mode " +
			"with its own ceiling keeps changes in the machine's load during the run (other work on the shared cores) out of " +
			"the ratios; the bare handler's own row is its first run.",
		"cache ops/req, with memcached, is memcached's own counters (`stats`: cmd_get, cmd_set, cmd_touch, deletes, incr/decr) " +
			"read before and after wrk, over wrk's requests: keys touched per request, so a multi-get of the version and a page " +
			"counts 2 though it is one round trip. With the in-process cache (no round trips) it is the app's own count of cache " +
			"operations (`" + cacheOpsMetric + "` at /metrics: gets, sets, deletes of every layer), when the app serves /metrics.",
		"DB queries/req is the app's own count of database queries (`" + dbQueriesMetric + "` at /metrics, every kind) read " +
			"before and after wrk, over wrk's requests. An app without /metrics is counted on PostgreSQL only: pg_stat_database's " +
			"transactions in the mode's own database over the app's whole life (start-up, warm-up and wrk) over the warm-up and " +
			"wrk requests; SQLite and MariaDB then show —.",
		"peak RSS is the server process's VmHWM from /proc just before it is stopped.",
		"The mixed workload is wrk with a small Lua script: GET / and, every 51st request, POST /toggle of one of the page's " +
			"tasks with Sec-Fetch-Site: same-origin (a 303).",
	}
}
