package main

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/testenv"
)

// TestSlowSASLServerAtStartUp: a SASL memcached that answers, but slower
// than TASKLIST_CACHE_TIMEOUT (as on a loaded machine), is not taken for an
// unreachable one at start-up: with a wrong password start-up stops with
// "authentication failed" (before, the login's i/o timeout passed for a
// server that was down and the app started serving), and with the right
// one the cache is ready.
func TestSlowSASLServerAtStartUp(t *testing.T) {
	mc := testenv.StartMemcached(t, testenv.MemcachedOptions{Username: "tasklist", Password: "right-password"})
	slow := slowServer(t, mc.Addr(), 300*time.Millisecond) // three request timeouts
	env := map[string]string{
		"TASKLIST_ADDR":          "127.0.0.1:0",
		"DATABASE_URL":           testenv.SQLiteURL(t, "slow.db"),
		"MEMCACHIER_SERVERS":     slow,
		"MEMCACHIER_USERNAME":    "tasklist",
		"MEMCACHIER_PASSWORD":    "wrong-password",
		"TASKLIST_CACHE_TIMEOUT": "100ms",
	}
	err := runToEnd(t, nil, envOf(env), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "authentication failed") || !strings.Contains(err.Error(), slow) {
		t.Errorf("start-up with a wrong password on a slow server = %v, want authentication failed at %s", err, slow)
	}

	env["MEMCACHIER_PASSWORD"] = "right-password"
	var logs testenv.LockedBuffer
	_, stop, done := start(t, env, &logs)
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "cache ready") {
		t.Errorf("start-up on a slow server with the right password did not find the cache ready:\n%s", logs.String())
	}
}

// slowServer forwards connections from a loopback port to target, holding
// every answer of the server for delay: a server that works, slowly. It
// returns its address; the test's end closes it and its connections.
func slowServer(t *testing.T, target string, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, client, server)
			mu.Unlock()
			wg.Go(func() { io.Copy(server, client); server.Close() })
			wg.Go(func() {
				defer client.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := server.Read(buf)
					if err != nil {
						return
					}
					// The clock is what is tested: each answer comes later than
					// the client's request timeout.
					time.Sleep(delay)
					if _, err := client.Write(buf[:n]); err != nil {
						return
					}
				}
			})
		}
	})
	return ln.Addr().String()
}
