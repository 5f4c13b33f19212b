package bench

import (
	"bufio"
	"errors"
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
	requestsMetric  = "tasklist_http_requests_total"
)

// metricsRoute is the route of /metrics, whose own requests are no reads.
const metricsRoute = "GET /metrics"

// slowKinds are the kinds of database query TASKLIST_SLOW_QUERY slows down:
// the list and a page of it.
var slowKinds = []string{"list", "page"}

// appMetrics is what the app counted: database queries by kind, cache
// operations of every layer together, and the GET requests it answered
// (reads) but those to /metrics.
type appMetrics struct {
	dbQueries map[string]float64
	cacheOps  float64
	reads     float64
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
		name, labels, value, err := splitSample(line)
		if err != nil {
			return m, err
		}
		if name != dbQueriesMetric && name != cacheOpsMetric && name != requestsMetric {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return m, fmt.Errorf("metrics: %q: %w", line, err)
		}
		switch name {
		case cacheOpsMetric:
			m.cacheOps += v
		case requestsMetric:
			if route := labels["route"]; strings.HasPrefix(route, "GET ") && route != metricsRoute {
				m.reads += v
			}
		default:
			m.dbQueries[labels["kind"]] += v
		}
	}
	return m, sc.Err()
}

var errSample = errors.New("metrics: not a sample line")

// splitSample splits a sample line, `name{a="x",b="y"} value [timestamp]`,
// into its name, labels and value. Label values are quoted, and may hold
// spaces, commas, braces and escaped quotes ("GET /{$}").
func splitSample(line string) (name string, labels map[string]string, value string, err error) {
	bad := fmt.Errorf("%w: %q", errSample, line)
	i := strings.IndexAny(line, "{ ")
	if i <= 0 {
		return "", nil, "", bad
	}
	name, rest := line[:i], line[i:]
	labels = map[string]string{}
	if rest[0] == '{' {
		rest = rest[1:]
		for {
			rest = strings.TrimLeft(rest, " ,")
			if strings.HasPrefix(rest, "}") {
				rest = rest[1:]
				break
			}
			k, after, ok := strings.Cut(rest, "=")
			q, qerr := strconv.QuotedPrefix(after)
			if !ok || qerr != nil {
				return "", nil, "", bad
			}
			labels[strings.TrimSpace(k)], _ = strconv.Unquote(q)
			rest = after[len(q):]
		}
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return "", nil, "", bad
	}
	return name, labels, f[0], nil
}
