package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
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

// stampede runs the cold-start stampede on PostgreSQL when it answers (its
// statistics count the list queries), else on SQLite, uncounted.
func (r *runner) stampede(ctx context.Context) (*report.Stampede, error) {
	db := SQLite
	if admin, err := r.dbs.admin(ctx, Postgres); err == nil {
		admin.Close()
		db = Postgres
	}
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
		a, err := r.startOn(ctx, fmt.Sprintf("stampede-%d", i), m, dbURL, prefix, []string{"TASKLIST_SLOW_QUERY=" + slowQuery.String()})
		if err != nil {
			return nil, err
		}
		apps = append(apps, a)
	}

	s := &report.Stampede{Instances: stampedeInstances, Requests: stampedeRequests, SlowQuery: slowQuery}
	lat, errs := burst(ctx, apps, stampedeRequests)
	s.Errors = errs
	slices.Sort(lat)
	if len(lat) > 0 {
		s.P50, s.P99, s.Max = percentile(lat, 50), percentile(lat, 99), lat[len(lat)-1]
	}
	for _, a := range apps {
		a.proc.stop()
	}
	if db != Postgres {
		s.How = "It ran on SQLite because PostgreSQL did not answer, and SQLite gives no count of the queries."
		return s, nil
	}
	scans, err := pgScans(ctx, dbURL, "tasks")
	if err != nil {
		return nil, err
	}
	n := int(scans - scansBefore)
	s.SlowQueries = &n
	s.How = "Run on PostgreSQL, with all layers; the slow queries are PostgreSQL's own count of scans of the tasks table " +
		"(pg_stat_user_tables, read after the instances stopped): with the query layer on, the only query that reads that " +
		"table is the list query, the one TASKLIST_SLOW_QUERY slows down."
	return s, nil
}

// burst sends n GET / at once, spread over apps, and returns the latency
// of each that answered 200 and the number that did not.
func burst(ctx context.Context, apps []*app, n int) ([]time.Duration, int) {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	defer client.CloseIdleConnections()
	var (
		mu     sync.Mutex
		lat    []time.Duration
		errs   int
		wg     sync.WaitGroup
		starts = make(chan struct{})
	)
	for i := range n {
		url := apps[i%len(apps)].base + "/"
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			<-starts
			t0 := time.Now()
			resp, err := client.Do(req)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			d := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil || resp.StatusCode != http.StatusOK {
				errs++
				return
			}
			lat = append(lat, d)
		})
	}
	close(starts)
	wg.Wait()
	return lat, errs
}

// percentile returns the p-th percentile of sorted durations (nearest
// rank).
func percentile(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)]
}
