package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	floods "github.com/tasklist/tasklist/internal/bench/flood"
	"github.com/tasklist/tasklist/internal/testenv"
)

// startApp runs the program on a loopback port over a fresh SQLite
// database, with the variables of extra too, until the test ends, and
// returns its base URL.
func startApp(t *testing.T, extra map[string]string) string {
	t.Helper()
	var logs testenv.LockedBuffer
	env := map[string]string{
		"TASKLIST_ADDR": "127.0.0.1:0",
		"DATABASE_URL":  testenv.SQLiteURL(t, "limits.db"),
	}
	maps.Copy(env, extra)
	base, stop, done := start(t, env, &logs)
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("run = %v\n%s", err, logs.String())
		}
	})
	return base
}

// TestHeaderLimit: the server refuses request headers well below
// net/http's 1 MB default with 431, and serves ordinary ones.
func TestHeaderLimit(t *testing.T) {
	base := startApp(t, nil)
	many := http.Header{}
	for i := range 1000 {
		many.Set("X-Filler-"+strconv.Itoa(i), strings.Repeat("f", 30))
	}
	tests := []struct {
		name   string
		header http.Header
		status int
	}{
		{"8 KiB cookie", http.Header{"Cookie": {"c=" + strings.Repeat("a", 8<<10)}}, http.StatusOK},
		{"64 KiB cookie", http.Header{"Cookie": {"c=" + strings.Repeat("a", 64<<10)}}, http.StatusRequestHeaderFieldsTooLarge},
		{"64 KiB header", http.Header{"X-Big": {strings.Repeat("b", 64<<10)}}, http.StatusRequestHeaderFieldsTooLarge},
		{"1000 headers", many, http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), "GET", base+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header = tt.header
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.status)
			}
		})
	}
}

// TestSlowClients: 500 slowloris connections, each sending a header byte
// every so often and never finishing, do not keep a normal request from
// being answered, and the server closes every one of them once
// readHeaderTimeout has passed. It takes a little over readHeaderTimeout.
func TestSlowClients(t *testing.T) {
	const conns = 500
	base := startApp(t, nil)
	addr := strings.TrimPrefix(base, "http://")
	// Each connection gives up by itself after twice the timeout, so the
	// test ends even if the server never closes it; that fails the test. (A
	// bound past the server's 15 s ReadTimeout would not tell the two apart.)
	bound := 2 * readHeaderTimeout
	start := time.Now()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		closedBy = map[string]int{} // how connections ended: "server" or why not
		ended    int
		lastEnd  time.Duration
	)
	for i := range conns {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		t.Cleanup(func() { conn.Close() })
		if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		wg.Go(func() {
			how := trickle(conn, start.Add(bound))
			mu.Lock()
			defer mu.Unlock()
			closedBy[how]++
			ended++
			lastEnd = max(lastEnd, time.Since(start))
		})
	}

	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatalf("GET / with %d slow connections open: %v", conns, err)
	}
	resp.Body.Close()
	mu.Lock()
	endedEarly := ended
	mu.Unlock()
	if resp.StatusCode != http.StatusOK || endedEarly != 0 {
		t.Fatalf("GET / with %d slow connections open = %d (%d had already ended)", conns, resp.StatusCode, endedEarly)
	}

	wg.Wait()
	if closedBy["server"] != conns {
		t.Errorf("of %d slow connections, ended: %v; want all closed by the server", conns, closedBy)
	}
	t.Logf("%d slow connections closed by the server within %v (readHeaderTimeout %v)", closedBy["server"], lastEnd.Round(time.Millisecond), readHeaderTimeout)
	if body := get(t, base+"/"); !strings.Contains(body, "Current Tasks") {
		t.Errorf("GET / after the slow connections = %q", body)
	}
}

// trickle sends conn one more header byte every 500 ms until the server
// closes the connection ("server"), the server answers instead (a status
// line), or deadline passes ("still open").
func trickle(conn net.Conn, deadline time.Time) string {
	buf := make([]byte, 512)
	for time.Now().Before(deadline) {
		conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := conn.Read(buf)
		switch {
		case n > 0:
			return "answered " + strings.SplitN(string(buf[:n]), "\r\n", 2)[0]
		case errors.Is(err, os.ErrDeadlineExceeded):
			if _, err := conn.Write([]byte("a")); err != nil {
				return "server" // reset by the server, seen on write
			}
		case err != nil:
			return "server" // EOF or reset
		}
	}
	return "still open"
}

// TestClientsThatNeverRead: 1,500 connections that each send requests at
// once and never read an answer do not keep a normal visitor or /metrics
// from being answered: each waits its turn behind at most one request per
// connection (the time it took is logged; docs/reliability.md has the
// figures of a build without the race detector, with 20 requests each).
func TestClientsThatNeverRead(t *testing.T) {
	const conns, pipelined = 1500, 4
	base := startApp(t, nil)
	flood(t, strings.TrimPrefix(base, "http://"), conns, strings.Repeat("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", pipelined))
	client := &http.Client{Timeout: time.Minute}
	for _, path := range []string{"/", "/metrics"} {
		asked := time.Now()
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s beside %d connections that do not read: %v", path, conns, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s beside %d connections that do not read = %d", path, conns, resp.StatusCode)
		}
		t.Logf("GET %s answered in %v beside %d connections that do not read", path, time.Since(asked).Round(time.Millisecond), conns)
	}
}

// TestAnswersNotRead: connections whose answers the client does not read
// (50, each asking 100 times for a page of 100 long tasks, some 70 KB: more
// than the sockets' buffers hold) are closed by the server's WriteTimeout,
// and the server writes only what their small send buffers take.
func TestAnswersNotRead(t *testing.T) {
	const conns, pipelined = 50, 100
	base := startApp(t, nil)
	for i := range 100 {
		addTask(t, base, fmt.Sprintf("%03d %s", i, strings.Repeat("x", 190)))
	}
	pages := func() int {
		t.Helper()
		m := regexp.MustCompile(`(?m)^tasklist_http_requests_total\{code="200",route="GET /\{\$\}"\} (\d+)$`).FindStringSubmatch(get(t, base+"/metrics"))
		if m == nil {
			t.Fatal("/metrics does not count the pages")
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	before := pages()
	idle := runtime.NumGoroutine()
	sent := time.Now()
	flood(t, strings.TrimPrefix(base, "http://"), conns, strings.Repeat("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", pipelined))
	// First the server takes the connections up: each gets a page or more
	// (its first answer fits in the socket's buffers). Only then does the
	// count of goroutines below show them closed rather than not yet open.
	testenv.WaitForWithin(t, time.Minute, fmt.Sprintf("the server answering each of the %d connections once", conns),
		func() bool { return pages()-before >= conns })
	// First the server takes the connections up: each gets a page or more
	// (its first answer fits in the socket's buffers). Only then does the
	// count of goroutines below show them closed rather than not yet open.
	testenv.WaitForWithin(t, time.Minute, fmt.Sprintf("the server answering each of the %d connections once", conns),
		func() bool { return pages()-before >= conns })
	// The server's goroutines for those connections (in this process) end
	// once it has closed them.
	testenv.WaitForWithin(t, time.Minute, fmt.Sprintf("the server closing the connections whose answers are not read (goroutines back near %d)", idle),
		func() bool { return runtime.NumGoroutine() <= idle+conns/2 })
	t.Logf("the connections whose answers were not read were closed within %v", time.Since(sent).Round(100*time.Millisecond))
	// The server stopped working for them once the sockets' buffers were
	// full: a page or a few each (sendBuffer), not the dozens that the
	// kernel's own send buffer, grown up to 4 MB, would take.
	if n := pages() - before; n > 8*conns {
		t.Errorf("the server wrote %d pages for %d connections that do not read, want at most 8 each", n, conns)
	} else {
		t.Logf("the server wrote %d pages for %d connections that do not read", n, conns)
	}
}

// flood opens n connections to addr with a small receive buffer, sends
// requests on each, and never reads; the test's end closes them.
func flood(t *testing.T, addr string, n int, requests string) {
	t.Helper()
	conns, err := floods.Unread(t.Context(), addr, n, requests)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
}

// TestConnectionCap: with TASKLIST_MAX_CONNS=20, 50 clients that each make
// a request and keep their connection open are all answered, and the
// server keeps at most 20 connections open: to take a new one at the cap
// it closes the one idle the longest.
func TestConnectionCap(t *testing.T) {
	const max, clients = 20, 50
	base := startApp(t, map[string]string{"TASKLIST_MAX_CONNS": strconv.Itoa(max)})
	addr := strings.TrimPrefix(base, "http://")
	var open []net.Conn
	for i := range clients {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		t.Cleanup(func() { conn.Close() })
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("client %d: GET /healthz = %d", i, resp.StatusCode)
		}
		open = append(open, conn)
	}
	// A connection the server closed reads EOF at once; one it keeps open
	// has nothing to read.
	stillOpen := 0
	for _, conn := range open {
		conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := conn.Read(make([]byte, 1)); errors.Is(err, os.ErrDeadlineExceeded) {
			stillOpen++
		}
	}
	if stillOpen > max {
		t.Errorf("%d of %d idle connections still open, want at most TASKLIST_MAX_CONNS=%d", stillOpen, clients, max)
	}
}
