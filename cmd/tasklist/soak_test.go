package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/testenv"
)

// soakEnv sets the soak's duration (a Go duration, e.g. 60s); unset, 20 s.
const soakEnv = "TASKLIST_SOAK"

var upstreamServer = regexp.MustCompile(`(?m)^(\s*server )127\.0\.0\.1:\d+`)

// renderNginx returns deploy/nginx.conf with its upstream servers replaced by
// instances and its listen port by listen: the documented file, run as is.
func renderNginx(t *testing.T, listen string, instances []string) string {
	t.Helper()
	b, err := os.ReadFile("../../deploy/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	if n := len(upstreamServer.FindAllString(conf, -1)); n != len(instances) {
		t.Fatalf("deploy/nginx.conf has %d upstream servers on 127.0.0.1, want %d", n, len(instances))
	}
	if !strings.Contains(conf, "listen 80;") {
		t.Fatalf("deploy/nginx.conf has no `listen 80;` to replace")
	}
	i := 0
	conf = upstreamServer.ReplaceAllStringFunc(conf, func(m string) string {
		i++
		return upstreamServer.ReplaceAllString(m, "${1}"+instances[i-1])
	})
	return strings.Replace(conf, "listen 80;", "listen "+listen+";", 1)
}

// soakStats is the Go runtime's state: the live heap after a collection (the
// instances' and the clients', which share the process) and the instances'
// goroutines.
type soakStats struct {
	heap       uint64
	goroutines int
}

func readSoakStats(t *testing.T) soakStats {
	t.Helper()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return soakStats{heap: m.HeapAlloc, goroutines: goroutinesIn(t, "soak")}
}

// soakLedger is what the soak's clients were told: adds and removes answered
// 303, and requests whose outcome is unknown. It is safe for concurrent use.
type soakLedger struct {
	mu              sync.Mutex
	requests, reads int
	added, removed  map[string]bool
	uncertain       map[string]bool // a remove of it was not answered 303: it may or may not be gone
	problems        []string
	statuses        map[int]int
	addsNotAcked    int
}

func (l *soakLedger) problem(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.problems) < 20 {
		l.problems = append(l.problems, fmt.Sprintf(format, args...))
	}
}

// TestSoak runs deploy/nginx.conf in nginx in front of three instances of
// the program on one PostgreSQL database and one memcached, and has 200
// clients read the list, add tasks and remove their own for 20 s (or
// $TASKLIST_SOAK). No answer may be a 5xx or missing, every add answered 303
// must be in the database at the end and every remove answered 303 must be
// gone, the heap (of the instances and clients, which share this process)
// must stay flat after the warm-up, and once the load and nginx have
// stopped the instances must be back to the goroutines they had before it.
func TestSoak(t *testing.T) {
	duration := 20 * time.Second
	if v := os.Getenv(soakEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("%s=%q: want a positive Go duration", soakEnv, v)
		}
		duration = d
	}
	const (
		clients  = 200
		removers = 20 // of the clients, those that add then remove their own tasks
	)
	dbURL := testenv.PostgresURL(t)
	mc := testenv.StartMemcached(t, testenv.MemcachedOptions{})

	var logs testenv.LockedBuffer
	var instances []string
	var stops []context.CancelFunc
	var dones []<-chan error
	for range 3 {
		// The label marks the instances' goroutines, so that they are
		// counted apart from the clients'.
		base, stop, done := startLabelled(t, "soak", map[string]string{
			"TASKLIST_ADDR":      "127.0.0.1:0",
			"DATABASE_URL":       dbURL,
			"MEMCACHE_SERVERS":   mc.Addr(),
			"TASKLIST_MAX_TASKS": "10000000",
			// Three instances and the other packages' tests share the
			// server's 100 connections (docs/reliability.md, "Load").
			"TASKLIST_DB_MAX_CONNS": "8",
			"TASKLIST_LOG_LEVEL":    "warn",
			// The soak is about what time does (leaks, lost writes), not
			// about how fast a machine shared with other tests answers:
			// there, writes queued on the revision row have waited past
			// the default 5 s, and memcached past 100 ms. The clients
			// wait up to 60 s for an answer; so may the instances.
			"TASKLIST_DB_TIMEOUT":    "30s",
			"TASKLIST_CACHE_TIMEOUT": "2s",
		}, &logs)
		instances = append(instances, strings.TrimPrefix(base, "http://"))
		stops, dones = append(stops, stop), append(dones, done)
	}
	nginx := testenv.StartNginx(t, func(listen string) string { return renderNginx(t, listen, instances) })
	base := "http://" + nginx.Addr()
	// The instances' goroutines before any load. During it they rise and
	// fall with the connections nginx holds open, which grow as the
	// machine slows; a leak shows as goroutines that stay once every
	// connection has closed.
	idle := goroutinesIn(t, "soak")
	store, err := tasks.Open(t.Context(), dbURL, tasks.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	transport := &http.Transport{MaxIdleConnsPerHost: clients, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
	client := &http.Client{
		Transport:     transport,
		Timeout:       60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer transport.CloseIdleConnections()
	ledger := &soakLedger{added: map[string]bool{}, removed: map[string]bool{}, uncertain: map[string]bool{}, statuses: map[int]int{}}
	ctx, endLoad := context.WithCancel(t.Context())
	defer endLoad()
	var wg sync.WaitGroup
	began := time.Now()
	for c := range clients {
		wg.Go(func() { soakClient(ctx, client, store, base, c, c < removers, ledger) })
	}

	// The warm-up, while pools and caches fill, lasts until every client has
	// had a few answers; then the heap is the baseline.
	testenv.WaitFor(t, "a warm-up of 4 requests per client", func() bool {
		ledger.mu.Lock()
		defer ledger.mu.Unlock()
		return ledger.requests >= 4*clients
	})
	warmUp := time.Since(began)
	before := readSoakStats(t)
	// Time itself is what a soak tests: the heap must stay flat
	// while the load goes on for the rest of its duration.
	time.Sleep(max(duration-warmUp, duration*3/4))
	after := readSoakStats(t)
	endLoad()
	wg.Wait()
	took := time.Since(began)

	t.Logf("%d requests through nginx in %v (%d reads, %d adds and %d removes acknowledged; %d adds and %d removes not, or cut off by the end); statuses %v",
		ledger.requests, took.Round(time.Second), ledger.reads, len(ledger.added), len(ledger.removed), ledger.addsNotAcked, len(ledger.uncertain), ledger.statuses)
	t.Logf("after the warm-up (%v): heap %.1f MiB, %d goroutines of the instances; at the end: heap %.1f MiB, %d goroutines",
		warmUp, float64(before.heap)/(1<<20), before.goroutines, float64(after.heap)/(1<<20), after.goroutines)
	for _, p := range ledger.problems {
		t.Error(p)
	}
	if len(ledger.added) == 0 || len(ledger.removed) == 0 || ledger.reads == 0 {
		t.Errorf("the load did too little to show anything")
	}
	if after.heap > 2*before.heap+64<<20 {
		t.Errorf("heap grew from %d to %d bytes during the soak", before.heap, after.heap)
	}

	stored := storedNames(t, dbURL)
	var lost, back int
	for name := range ledger.added {
		if !stored[name] && !ledger.removed[name] && !ledger.uncertain[name] {
			lost++
		}
	}
	for name := range ledger.removed {
		if stored[name] {
			back++
		}
	}
	if lost > 0 || back > 0 {
		t.Errorf("%d acknowledged adds are missing from the database, %d acknowledged removes are still there", lost, back)
	}

	nginx.Stop()
	// Each instance keeps a few goroutines it starts on first use
	// (database/sql's connection cleaner, say: three in all, seen); a
	// goroutine left per request, or per connection, would be hundreds.
	const slack = 30
	var left int
	testenv.WaitForWithin(t, time.Minute, fmt.Sprintf("the instances back to at most %d+%d goroutines once nginx closed its connections", idle, slack), func() bool {
		left = goroutinesIn(t, "soak")
		return left <= idle+slack
	})
	t.Logf("the instances' goroutines: %d before the load, %d after it", idle, left)
	for i, stop := range stops {
		stop()
		if err := <-dones[i]; err != nil {
			t.Errorf("instance %d: run = %v, want a clean stop", i, err)
		}
	}
	if t.Failed() {
		t.Logf("instance logs:\n%s", logs.String())
	}
}

// soakClient sends requests, each after a pause, until ctx ends. A reader reads the list four
// times for each add; a remover adds a task, finds its id in the database and
// removes it, reading the list in between.
func soakClient(ctx context.Context, client *http.Client, store *tasks.Store, base string, c int, remover bool, l *soakLedger) {
	for i := 0; ctx.Err() == nil; i++ {
		// A person's pause between clicks, 0.5–1.5 s, so that the load is
		// steady and below what the machine can serve (see docs/reliability.md).
		select {
		case <-ctx.Done():
			return
		case <-time.After(soakThink(c, i)):
		}
		switch {
		case remover || i%5 == 4:
			name := fmt.Sprintf("soak c%d n%d", c, i)
			status, ok := soakDo(ctx, client, base, "/add", url.Values{"name": {name}}, l)
			if !ok {
				continue
			}
			l.mu.Lock()
			if status == http.StatusSeeOther {
				l.added[name] = true
			} else {
				l.addsNotAcked++
			}
			l.mu.Unlock()
			if !remover || status != http.StatusSeeOther {
				continue
			}
			snap, err := store.List(ctx)
			if err != nil {
				continue // the soak ended
			}
			for _, task := range snap.Tasks {
				if task.Name != name {
					continue
				}
				status, ok := soakDo(ctx, client, base, "/remove", url.Values{"id": {fmt.Sprint(task.ID)}}, l)
				l.mu.Lock()
				if ok && status == http.StatusSeeOther {
					l.removed[name] = true
				} else {
					l.uncertain[name] = true
				}
				l.mu.Unlock()
			}
		default:
			soakDo(ctx, client, base, "/", nil, l)
		}
	}
}

// soakThink is client c's pause before its i-th request: 0.5–1.5 s, spread
// so that the clients do not click in step.
func soakThink(c, i int) time.Duration {
	return 500*time.Millisecond + time.Duration((c*7919+i*104729)%1000)*time.Millisecond
}

// soakDo sends GET path (form nil) or POST path with form, as a browser on
// the same origin would, and checks the answer: a whole page (200) for a
// read, 303 for a write. It reports false when ctx ended first.
func soakDo(ctx context.Context, client *http.Client, base, path string, form url.Values, l *soakLedger) (int, bool) {
	method, body := http.MethodGet, io.Reader(nil)
	if form != nil {
		method, body = http.MethodPost, strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		l.problem("%s %s: %v", method, path, err)
		return 0, false
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", base)
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			l.problem("%s %s: no answer: %v", method, path, err)
		}
		return 0, false
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(resp.Body)
	if err != nil && ctx.Err() != nil {
		return 0, false
	}
	l.mu.Lock()
	l.requests++
	l.statuses[resp.StatusCode]++
	if form == nil && resp.StatusCode == http.StatusOK {
		l.reads++
	}
	l.mu.Unlock()
	switch want := map[bool]int{true: http.StatusSeeOther, false: http.StatusOK}[form != nil]; {
	case err != nil:
		l.problem("%s %s: %d with a truncated body: %v", method, path, resp.StatusCode, err)
	case resp.StatusCode != want:
		l.problem("%s %s: %d, want %d: %.300s", method, path, resp.StatusCode, want, page)
	case form == nil && !strings.Contains(string(page), "</html>"):
		l.problem("GET %s: a page without its end (%d bytes)", path, len(page))
	}
	return resp.StatusCode, true
}
