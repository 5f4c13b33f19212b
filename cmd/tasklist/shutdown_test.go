package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/testenv"
)

// shutdownOutcome is what one client request of TestShutdownUnderLoad saw.
type shutdownOutcome struct {
	add      string    // the task name, for an add
	written  time.Time // when the whole request had been sent (zero if never)
	answered time.Time // when the whole answer had been read (zero if none)
	status   int
	problem  string // what was wrong with an answer, if anything
}

// TestShutdownUnderLoad stops the whole program (as SIGTERM does) while 20
// clients send a steady mix of page reads and adds, and checks that every
// answer given was whole and not a 5xx, that every acknowledged add is in the
// database afterwards, that the requests in flight at the signal got their
// answers, and that run returns nil (so within TASKLIST_SHUTDOWN_TIMEOUT).
func TestShutdownUnderLoad(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			dbURL := testenv.Databases()[kind](t)
			shutdownUnderLoad(t, dbURL)
		})
	}
}

func shutdownUnderLoad(t *testing.T, dbURL string) {
	const (
		clients   = 20
		slowQuery = 500 * time.Millisecond
		grace     = 10 * time.Second
	)
	var logs testenv.LockedBuffer
	base, stop, done := start(t, map[string]string{
		"TASKLIST_ADDR":       "127.0.0.1:0",
		"DATABASE_URL":        dbURL,
		"TASKLIST_SLOW_QUERY": slowQuery.String(),
		// No cache: every page runs the slow query, so requests are surely
		// in flight when the stop comes (cached pages answer too fast).
		"TASKLIST_CACHE_LAYERS":     "none",
		"TASKLIST_SHUTDOWN_TIMEOUT": grace.String(),
		"TASKLIST_LOG_LEVEL":        "warn",
	}, &logs)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	})

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	loadCtx, endLoad := context.WithCancel(context.Background())
	var (
		mu       sync.Mutex
		outcomes []shutdownOutcome
		steady   atomic.Int64 // requests answered before the stop
		wg       sync.WaitGroup
		stopping atomic.Bool
		// sentAt holds, per client, when its request now waiting for an
		// answer was written (Unix nanoseconds), 0 when none waits.
		sentAt [clients]atomic.Int64
	)
	for g := range clients {
		wg.Go(func() {
			for i := 0; loadCtx.Err() == nil; i++ {
				o := shutdownRequest(client, base, g, i, &stopping, &sentAt[g])
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
				if o.answered.IsZero() && stopping.Load() {
					return // refused: the server is going
				}
				if !stopping.Load() {
					steady.Add(1)
				}
			}
		})
	}

	// Steady load first (every client answered a few times); then the stop
	// comes once some requests have been waiting long enough to count as in
	// flight (below). A stop at a fixed moment could fall where the
	// clients, which go in step, had all just sent a quick add (seen: 0 of
	// 20 in flight).
	testenv.WaitFor(t, "a steady load: 3 answers per client", func() bool { return steady.Load() >= 3*clients })
	testenv.WaitFor(t, "3 requests waiting long enough to be in flight", func() bool {
		waiting := 0
		for g := range sentAt {
			if at := sentAt[g].Load(); at != 0 && time.Since(time.Unix(0, at)) > slowQuery/2+20*time.Millisecond {
				waiting++
			}
		}
		return waiting >= 3
	})
	stopAt := time.Now()
	stopping.Store(true)
	stop()
	var runErr error
	select {
	case runErr = <-done:
	case <-time.After(grace + 5*time.Second):
		endLoad()
		t.Fatalf("run did not return within %v of the stop", grace+5*time.Second)
	}
	stopped := time.Since(stopAt)
	endLoad()
	wg.Wait()
	if runErr != nil {
		t.Errorf("run = %v, want nil (a clean stop within %v)", runErr, grace)
	}

	// In flight at the signal: sent well before it (so the server had read
	// it: requests are read at once, the handlers then take at least the slow
	// query) and not yet answered.
	var answered, adds, inflight, inflightAnswered, unanswered int
	for _, o := range outcomes {
		if o.problem != "" {
			t.Errorf("%s", o.problem)
		}
		if !o.answered.IsZero() {
			answered++
		} else {
			unanswered++
		}
		if o.add != "" && o.status == http.StatusSeeOther {
			adds++
		}
		if !o.written.IsZero() && o.written.Before(stopAt.Add(-slowQuery/2)) && (o.answered.IsZero() || o.answered.After(stopAt)) {
			inflight++
			if !o.answered.IsZero() {
				inflightAnswered++
			}
		}
	}
	t.Logf("%d requests: %d answered (%d adds acknowledged), %d without an answer (after the stop); %d in flight at the signal, %d of them answered; run returned %v after the stop",
		len(outcomes), answered, adds, unanswered, inflight, inflightAnswered, stopped.Round(time.Millisecond))
	if inflight == 0 {
		t.Errorf("no request was in flight at the signal: the test shows nothing")
	}
	if inflightAnswered != inflight {
		t.Errorf("%d of %d requests in flight at the signal got no answer", inflight-inflightAnswered, inflight)
	}
	if adds == 0 {
		t.Fatalf("no add was acknowledged")
	}

	stored := storedNames(t, dbURL)
	for _, o := range outcomes {
		if o.add != "" && o.status == http.StatusSeeOther && !stored[o.add] {
			t.Errorf("add %q was answered 303 but is not in the database", o.add)
		}
	}
}

// shutdownRequest sends client g's i-th request: an add on odd i, GET /
// otherwise, and says what came back. An answer must be whole: a 200 page
// that ends with </html>, or a 303 to the list for an add. A request with no
// answer is a problem unless stopped was set by the time it ended. sentAt
// holds when the request was written while it waits for its answer.
func shutdownRequest(client *http.Client, base string, g, i int, stopped *atomic.Bool, sentAt *atomic.Int64) shutdownOutcome {
	var o shutdownOutcome
	var req *http.Request
	var err error
	if i%2 == 1 {
		o.add = fmt.Sprintf("shutdown g%d n%d", g, i)
		req, err = http.NewRequest(http.MethodPost, base+"/add", strings.NewReader(url.Values{"name": {o.add}}.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", base)
		}
	} else {
		req, err = http.NewRequest(http.MethodGet, base+"/", nil)
	}
	if err != nil {
		o.problem = err.Error()
		return o
	}
	var wrote time.Time
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				wrote = time.Now()
				sentAt.Store(wrote.UnixNano())
			}
		},
	}))
	resp, err := client.Do(req)
	sentAt.Store(0)
	o.written = wrote
	if err != nil {
		if !stopped.Load() {
			o.problem = fmt.Sprintf("%s %s before the stop: %v", req.Method, req.URL.Path, err)
		}
		return o // no answer: refused or closed before the server read it
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	o.answered, o.status = time.Now(), resp.StatusCode
	switch {
	case err != nil:
		o.problem = fmt.Sprintf("%s %s: %d with a truncated body (%d bytes): %v", req.Method, req.URL.Path, resp.StatusCode, len(body), err)
	case resp.StatusCode >= 500:
		o.problem = fmt.Sprintf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, body)
	case o.add != "" && (resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") == ""):
		o.problem = fmt.Sprintf("POST /add: %d (Location %q), want 303 to the list", resp.StatusCode, resp.Header.Get("Location"))
	case o.add == "" && (resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "</html>")):
		o.problem = fmt.Sprintf("GET /: %d with %d bytes not ending the page, want 200 and a whole page", resp.StatusCode, len(body))
	}
	return o
}

// storedNames returns the names of the tasks in the database at dbURL, read
// directly (no cache).
func storedNames(t *testing.T, dbURL string) map[string]bool {
	t.Helper()
	store, err := tasks.Open(t.Context(), dbURL, tasks.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	snap, err := store.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	stored := make(map[string]bool, len(snap.Tasks))
	for _, task := range snap.Tasks {
		stored[task.Name] = true
	}
	return stored
}
