package main

import (
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

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
		"DATABASE_URL":  "sqlite:" + filepath.Join(t.TempDir(), "limits.db"),
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
