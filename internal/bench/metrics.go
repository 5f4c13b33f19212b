package bench

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Metric names the app exports at /metrics (Prometheus text format).
const (
	dbQueriesMetric = "tasklist_db_queries_total"
	cacheOpsMetric  = "tasklist_cache_operations_total"
)

// slowKinds are the kinds of database query TASKLIST_SLOW_QUERY slows down:
// the list and a page of it.
var slowKinds = []string{"list", "page"}

// appMetrics is what the app counted: database queries by kind, and cache
// operations of every layer together.
type appMetrics struct {
	dbQueries map[string]float64
	cacheOps  float64
}

func (m appMetrics) queries(kinds ...string) float64 {
	if len(kinds) == 0 {
		var n float64
		for _, v := range m.dbQueries {
			n += v
		}
		return n
	}
	var n float64
	for _, k := range kinds {
		n += m.dbQueries[k]
	}
	return n
}

// scrapeMetrics reads the app's /metrics; ok is false when the app serves
// none (404), as before it had them.
func scrapeMetrics(base string) (m appMetrics, ok bool, err error) {
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(base + "/metrics")
	if err != nil {
		return m, false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return m, false, nil
	default:
		return m, false, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	m, err = parseMetrics(resp.Body)
	return m, err == nil, err
}

// parseMetrics reads the Prometheus text format: "name{labels} value"
// lines, comments skipped.
func parseMetrics(r io.Reader) (appMetrics, error) {
	m := appMetrics{dbQueries: map[string]float64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		series, value, ok := strings.Cut(line, " ")
		name, labels, _ := strings.Cut(series, "{")
		if !ok || (name != dbQueriesMetric && name != cacheOpsMetric) {
			continue
		}
		v, err := strconv.ParseFloat(strings.Fields(value)[0], 64)
		if err != nil {
			return m, fmt.Errorf("metrics: %q: %w", line, err)
		}
		if name == cacheOpsMetric {
			m.cacheOps += v
			continue
		}
		m.dbQueries[label(labels, "kind")] += v
	}
	return m, sc.Err()
}

// label returns the value of label name in a `a="x",b="y"}` label list.
func label(labels, name string) string {
	for _, l := range strings.Split(strings.TrimSuffix(labels, "}"), ",") {
		if k, v, ok := strings.Cut(l, "="); ok && k == name {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}
