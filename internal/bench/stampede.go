package bench

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tasklist/tasklist/internal/bench/report"
)

// The cold-start stampede: this many instances share one database and one
// empty memcached, and this many requests arrive at once, spread over
// them, while the list query takes slowQuery.
const (
	stampedeInstances = 3
	stampedeRequests  = 200
	slowQuery         = time.Second
)

// stampede runs the cold-start stampede on SQLite, counting the slow
// queries with the app's own metrics. An app without /metrics runs it
// again on PostgreSQL when that answers, whose statistics count them.
func (r *runner) stampede(ctx context.Context) (*report.Stampede, error) {
	s, err := r.stampedeOn(ctx, SQLite)
	if err != nil || s.SlowQueries != nil {
		return s, err
	}
	if admin, err := r.dbs.admin(ctx, Postgres); err == nil {
		admin.Close()
		return r.stampedeOn(ctx, Postgres)
	}
	s.How = "It ran on SQLite; the app serves no /metrics and PostgreSQL did not answer, so the slow queries were not counted."
	return s, nil
}

// stampedeOn runs the stampede on a fresh database of kind db.
func (r *runner) stampedeOn(ctx context.Context, db string) (*report.Stampede, error) {
	m := mode{kind: report.App, db: db, tasks: 100, cache: Memcached, layers: LayersAll}
	dbURL, err := r.dbs.fresh(ctx, db, m.tasks)
	if err != nil {
		return nil, err
	}
	var scansBefore int64
	if db == Postgres {
		if scansBefore, err = pgScans(ctx, dbURL, "tasks"); err != nil {
			return nil, err
		}
	}
	if err := r.mc.flush(); err != nil {
		return nil, err
	}
	prefix := "stampede-" + randomHex() + ":"
	var apps []*app
	defer func() {
		for _, a := range apps {
			a.proc.stop()
		}
	}()
	for i := range stampedeInstances {
		a, err := r.startOn(ctx, fmt.Sprintf("stampede-%s-%d", db, i), m, dbURL, prefix, []string{"TASKLIST_SLOW_QUERY=" + slowQuery.String()})
		if err != nil {
			return nil, err
		}
		apps = append(apps, a)
	}
	// The instances' own counts, when they have /metrics.
	slowBefore, counted := 0.0, true
	for _, a := range apps {
		met, ok, err := scrapeMetrics(a.base)
		if err != nil {
			return nil, err
		}
		counted = counted && ok
		slowBefore += met.queries(slowKinds...)
	}

	s := &report.Stampede{Instances: stampedeInstances, Requests: stampedeRequests, SlowQuery: slowQuery}
	lat, errs := burst(ctx, apps, stampedeRequests)
	s.Errors = errs
	if len(lat) > 0 {
		s.P50, s.P99, s.Max = percentile(lat, 50), percentile(lat, 99), lat[len(lat)-1]
	}
	if counted {
		slowAfter := 0.0
		for _, a := range apps {
			met, _, err := scrapeMetrics(a.base)
			if err != nil {
				return nil, err
			}
			slowAfter += met.queries(slowKinds...)
		}
		n := int(slowAfter - slowBefore)
		s.SlowQueries = &n
		s.How = fmt.Sprintf("Run on %s with all layers; the slow queries are the list and page queries the three instances "+
			"counted themselves (%s, kinds %s, read from each instance's /metrics before and after).",
			map[string]string{SQLite: "SQLite", Postgres: "PostgreSQL"}[db], dbQueriesMetric, strings.Join(slowKinds, " and "))
		return s, nil
	}
	for _, a := range apps {
		a.proc.stop()
	}
	if db != Postgres {
		return s, nil
	}
	scans, err := pgScans(ctx, dbURL, "tasks")
	if err != nil {
		return nil, err
	}
	n := int(scans - scansBefore)
	s.SlowQueries = &n
	s.How = "Run on PostgreSQL with all layers, as the app serves no /metrics; the slow queries are PostgreSQL's own count of " +
		"scans of the tasks table (pg_stat_user_tables, read after the instances stopped): with the query layer on, the only " +
		"query that reads that table is the list query, the one TASKLIST_SLOW_QUERY slows down."
	return s, nil
}

// burst sends n GET / at once, spread over apps, and returns the latency
// of each that answered 200, sorted, and the number that did not.
func burst(ctx context.Context, apps []*app, n int) ([]time.Duration, int) {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	defer client.CloseIdleConnections()
	var (
		t      latencies
		wg     sync.WaitGroup
		starts = make(chan struct{})
	)
	for i := range n {
		url := apps[i%len(apps)].base + "/"
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			<-starts
			t.record(timedDo(client, req, http.StatusOK))
		})
	}
	close(starts)
	wg.Wait()
	lat, errs := t.sorted()
	return lat, int(errs)
}
