package bench

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tasklist/tasklist/internal/bench/report"
)

// The adds of the mixed workload come from a client of their own, not
// from wrk: wrk's Lua cannot tell one request's latency from another's,
// and the adds' own latency is what the mixed target is about.
const (
	// addsInFlight is how many adds may be in flight at once. Each add
	// starts when it is due, whether the ones before it are answered or
	// not, as visitors' adds would: slow adds do not thin out the mix
	// (nor hide their own slowness) until this many wait at once.
	addsInFlight = 256
	// countEvery is how often the adder reads the app's count of reads;
	// between two readings it extrapolates at the last rate.
	countEvery = 100 * time.Millisecond
	// paceTick is how often the adder looks whether an add is due.
	paceTick = 2 * time.Millisecond
)

var errNoReadCount = errors.New("bench: the app serves no /metrics: the adds cannot follow its reads")

// drive runs spec: wrk's reads and, for the mixed workload, the adds
// beside them until wrk is done.
func (r *runner) drive(ctx context.Context, spec loadSpec) (loadResult, error) {
	if spec.writesEvery <= 0 {
		return runWrk(ctx, r.opts.Wrk, r.work, spec)
	}
	base := strings.TrimSuffix(spec.url, "/")
	addCtx, stopAdds := context.WithCancel(ctx)
	defer stopAdds()
	var adds latencies
	done := make(chan error, 1)
	go func() { done <- runAdds(addCtx, base, spec.writesEvery, &adds) }()
	lr, err := runWrk(ctx, r.opts.Wrk, r.work, spec)
	stopAdds()
	if aerr := <-done; err == nil {
		err = aerr
	}
	lat, errs := adds.sorted()
	lr.writes = writeFigures(lat, errs, lr.requests)
	lr.errors += errs
	return lr, err
}

// writeFigures sums up the adds' latencies (sorted) and failures beside
// reads requests.
func writeFigures(lat []time.Duration, errs, reads int64) *report.Writes {
	w := &report.Writes{Count: int64(len(lat)), Errors: errs}
	if len(lat) == 0 {
		return w
	}
	w.P50, w.P99, w.Max = percentile(lat, 50), percentile(lat, 99), lat[len(lat)-1]
	w.ReadsPerWrite = float64(reads) / float64(len(lat))
	return w
}

// runAdds sends POST /add to the app at base, one per every reads the app
// has answered since it started (its own count at /metrics), until ctx is
// done. Into t go the latency of each add answered 303 and the failures of
// the others; adds cut short by ctx are neither. Each add comes from a new
// visitor (no cookie), with a browser's same-origin header.
func runAdds(ctx context.Context, base string, every int, t *latencies) error {
	start, ok, err := scrapeMetrics(base)
	if err == nil && !ok {
		err = errNoReadCount
	}
	if err != nil {
		return err
	}
	client := &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{MaxIdleConnsPerHost: addsInFlight},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	var (
		adds     sync.WaitGroup
		due      = make(chan int)
		inFlight = make(chan struct{}, addsInFlight)
		paced    = make(chan error, 1)
	)
	go func() {
		paced <- pace(ctx, every, start.reads, func() (float64, error) {
			m, _, err := scrapeMetrics(base)
			return m.reads, err
		}, due)
		close(due)
	}()
	for n := range due {
		inFlight <- struct{}{}
		adds.Go(func() {
			defer func() { <-inFlight }()
			if d, err := add(ctx, client, base, n); err == nil || ctx.Err() == nil {
				t.record(d, err)
			}
		})
	}
	adds.Wait()
	err = <-paced
	if ctx.Err() != nil {
		err = nil // wrk is done: the adds stop with it
	}
	return err
}

// pace sends the numbers 0, 1, 2… on due, one per every reads counted
// since from, until ctx is done: count reads the count every countEvery,
// and between two readings the count is extrapolated at the last rate.
func pace(ctx context.Context, every int, from float64, count func() (float64, error), due chan<- int) error {
	tick := time.NewTicker(paceTick)
	defer tick.Stop()
	var (
		sent   int
		last   = from
		lastAt = time.Now()
		rate   float64 // reads per second
	)
	for {
		var now time.Time
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now = <-tick.C:
		}
		if now.Sub(lastAt) >= countEvery {
			n, err := count()
			if err != nil {
				return err
			}
			rate, last, lastAt = (n-last)/now.Sub(lastAt).Seconds(), n, now
		}
		reads := last - from + rate*now.Sub(lastAt).Seconds()
		for sent < int(reads)/every {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case due <- sent:
				sent++
			}
		}
	}
}

// add sends the n-th add and returns its latency: from the request to the
// end of a 303 answer.
func add(ctx context.Context, client *http.Client, base string, n int) (time.Duration, error) {
	form := url.Values{"name": {"Bench add " + strconv.Itoa(n) + ": file the expense report"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/add", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return timedDo(client, req, http.StatusSeeOther)
}
