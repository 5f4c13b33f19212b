package flood

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/testenv"
)

// TestLoopback: only loopback IP addresses are flooded.
func TestLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:8000": true, "[::1]:8000": true, "127.9.9.9:1": true,
		"10.0.0.1:8000": false, "example.com:80": false, "localhost:8000": false, "127.0.0.1": false,
	} {
		if err := Loopback(addr); (err == nil) != ok {
			t.Errorf("Loopback(%q) = %v, want accepted %v", addr, err, ok)
		}
	}
	if _, err := Unread(t.Context(), "192.0.2.1:80", 1, "GET / HTTP/1.1\r\n\r\n"); err == nil {
		t.Error("Unread to a non-loopback address succeeded")
	}
	if _, err := Cycle(t.Context(), []string{"http://192.0.2.1/"}, 1, time.Second); err == nil {
		t.Error("Cycle to a non-loopback address succeeded")
	}
}

// TestUnread: every connection is opened and carries the requests, and
// nothing is read from it.
func TestUnread(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const n, requests = 20, "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"
	var got atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for range 2 {
					if _, err := http.ReadRequest(r); err != nil {
						return
					}
				}
				got.Add(1)
			}()
		}
	}()
	conns, err := Unread(t.Context(), ln.Addr().String(), n, requests)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if len(conns) != n {
		t.Errorf("%d connections, want %d", len(conns), n)
	}
	testenv.WaitFor(t, "every connection's two requests read by the server", func() bool { return got.Load() == n })
}

// TestCycle: the URLs are asked for in turn, redirects are counted, not
// followed, and the time asked for bounds the flood.
func TestCycle(t *testing.T) {
	var asked [3]atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/a":
			asked[0].Add(1)
		case "/b":
			asked[1].Add(1)
			http.Redirect(w, r, "/c", http.StatusSeeOther)
		case "/c":
			asked[2].Add(1)
		}
	}))
	defer srv.Close()
	start := time.Now()
	r, err := Cycle(t.Context(), []string{srv.URL + "/a", srv.URL + "/b"}, 2, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("a 300 ms flood took %v", took)
	}
	if asked[0].Load() == 0 || asked[1].Load() == 0 || asked[2].Load() != 0 {
		t.Errorf("asked /a %d, /b %d, /c %d times; want /a and /b, never the redirect's /c", asked[0].Load(), asked[1].Load(), asked[2].Load())
	}
	if r.Statuses[200] != int(asked[0].Load()) || r.Statuses[303] != int(asked[1].Load()) || r.Errors != 0 {
		t.Errorf("counted %v and %d errors; the server answered 200 %d and 303 %d times", r.Statuses, r.Errors, asked[0].Load(), asked[1].Load())
	}
	if r.Rate() <= 0 || r.Percentile(0.5) <= 0 {
		t.Errorf("rate %v, p50 %v", r.Rate(), r.Percentile(0.5))
	}
}
