package bench

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// latencies collects the latencies of the requests that succeeded and counts
// those that failed. It is safe for concurrent use.
type latencies struct {
	mu   sync.Mutex
	lat  []time.Duration
	errs int64
}

// record adds one request's outcome: its latency d, or its failure err.
func (t *latencies) record(d time.Duration, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.errs++
		return
	}
	t.lat = append(t.lat, d)
}

// sorted returns the latencies recorded, sorted, and the failures.
func (t *latencies) sorted() ([]time.Duration, int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	slices.Sort(t.lat)
	return t.lat, t.errs
}

// timedDo sends req and reads its answer; it returns the time from the
// request to the end of the answer, and an error unless the status was
// want.
func timedDo(client *http.Client, req *http.Request, want int) (time.Duration, error) {
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	d := time.Since(t0)
	if err == nil && resp.StatusCode != want {
		err = fmt.Errorf("%s %s: %s", req.Method, req.URL.Path, resp.Status)
	}
	return d, err
}

// percentile returns the p-th percentile of sorted durations (nearest
// rank).
func percentile(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)]
}
