// Package flood holds the hostile but well-formed clients that
// docs/reliability.md ("Bounded resources") measures tasklist against:
// connections that send pipelined requests and never read the answers,
// and workers that cycle through URLs as fast as the server answers. They
// are for a server on this machine: Loopback checks an address first.
package flood

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"syscall"
	"time"
)

// Loopback returns an error unless addr (host:port) is a loopback IP
// address.
func Loopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("flood: %s is not a loopback address; the floods are for a server on this machine", addr)
	}
	return nil
}

// receiveBuffer is the receive buffer Unread asks for: the kernel keeps it
// small, so the server's answers fill it at once.
const receiveBuffer = 4096

// Unread opens n connections to addr, each with a small receive buffer,
// sends requests on each and never reads the answers. The caller closes
// the connections; on an error Unread closes those it opened.
func Unread(ctx context.Context, addr string, n int, requests string) ([]net.Conn, error) {
	if err := Loopback(addr); err != nil {
		return nil, err
	}
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, receiveBuffer)
		})
	}}
	conns := make([]net.Conn, 0, n)
	for i := range n {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			conns = append(conns, conn)
			conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
			_, err = io.WriteString(conn, requests)
		}
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, fmt.Errorf("flood: connection %d: %w", i, err)
		}
	}
	return conns, nil
}

// Result is what Cycle's requests got.
type Result struct {
	// Statuses counts the answers by status code; Errors the requests
	// that got none.
	Statuses map[int]int
	Errors   int
	// Latencies are the answered requests' times, shortest first.
	Latencies []time.Duration
	Elapsed   time.Duration
}

// Rate is the answers per second.
func (r Result) Rate() float64 { return float64(len(r.Latencies)) / r.Elapsed.Seconds() }

// Percentile is the latency below which the fraction p of the answers came
// (0 for none).
func (r Result) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	return r.Latencies[min(int(p*float64(len(r.Latencies))), len(r.Latencies)-1)]
}

// Cycle sends GET requests for urls, in turn, from workers keep-alive
// connections, for d (or until ctx ends), without following redirects and
// without asking for gzip, reading each answer whole. A request sent
// before d has passed is answered, not cut off: a request the client
// abandons is served differently (the page cache is bypassed).
func Cycle(ctx context.Context, urls []string, workers int, d time.Duration) (Result, error) {
	for _, u := range urls {
		parsed, err := url.Parse(u)
		if err != nil {
			return Result{}, err
		}
		if err := Loopback(parsed.Host); err != nil {
			return Result{}, err
		}
	}
	client := &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{MaxIdleConnsPerHost: workers, DisableCompression: true},
	}
	defer client.CloseIdleConnections()
	type answer struct {
		status  int
		elapsed time.Duration
	}
	results := make(chan []answer, workers)
	start := time.Now()
	end := start.Add(d)
	for w := range workers {
		go func() {
			var got []answer
			for i := w; ctx.Err() == nil && time.Now().Before(end); i += workers {
				asked := time.Now()
				status, err := get(ctx, client, urls[i%len(urls)])
				if ctx.Err() != nil {
					break // interrupted: neither an answer nor an error
				}
				if err != nil {
					status = 0
				}
				got = append(got, answer{status, time.Since(asked)})
			}
			results <- got
		}()
	}
	r := Result{Statuses: map[int]int{}}
	for range workers {
		for _, a := range <-results {
			if a.status == 0 {
				r.Errors++
				continue
			}
			r.Statuses[a.status]++
			r.Latencies = append(r.Latencies, a.elapsed)
		}
	}
	r.Elapsed = time.Since(start)
	slices.Sort(r.Latencies)
	if len(r.Latencies) == 0 {
		return r, errors.New("flood: no request was answered")
	}
	return r, nil
}

func get(ctx context.Context, client *http.Client, u string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}
