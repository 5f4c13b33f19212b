package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/tasklist/tasklist/internal/config"
)

// listenFDStart is the first file descriptor a service manager passes
// (systemd's SD_LISTEN_FDS_START).
const listenFDStart = 3

// listen returns the server's listener: the socket the service manager
// passed to this process (socket activation: deploy/tasklist@.socket),
// or else a new one on cfg.Addr.
//
// Why socket activation: the socket then belongs to systemd and outlives
// the process. While an instance restarts, connections wait in the
// socket's queue for the next process instead of being refused, and the
// stopping process never closes a socket with connections still queued in
// it (closing resets them: a POST that nginx had sent on one would get a
// 502, since nginx cannot know whether it was served).
func listen(cfg config.Config, getenv func(string) string) (net.Listener, error) {
	if getenv("LISTEN_PID") != strconv.Itoa(os.Getpid()) {
		return net.Listen("tcp", cfg.Addr)
	}
	if n := getenv("LISTEN_FDS"); n != "1" {
		return nil, fmt.Errorf("socket activation: LISTEN_FDS=%q, want exactly one socket (ListenStream= once)", n)
	}
	f := os.NewFile(listenFDStart, "activation socket")
	defer f.Close() // the listener has its own copy
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("socket activation: %w", err)
	}
	return ln, nil
}

// accepted is a listener that counts the connections it has accepted and
// the server has not closed yet (its connState is the server's ConnState),
// and keeps them to max.
//
// Why count: a stop waits until every connection the listener handed out
// has had its request answered and is closed (see serve), and only this
// listener knows them all: the server's own tracking can miss a connection
// its Serve loop has just accepted, and the process would exit under it,
// closing a request it never read (a POST that nginx sent on it gets a
// 502). With a socket that outlives the process (socket activation),
// connections arrive until the very end, so that moment comes.
//
// Why a maximum: each open connection costs memory (some 50 KB while a
// request is on it), and clients that open connections and never read
// would otherwise take as much as they like. At the maximum, Accept closes
// the connection that has been idle (between keep-alive requests) the
// longest, so that a new visitor is not kept out by connections nobody
// uses; with none idle it waits until one closes (a client that does not
// read is cut off by the server's WriteTimeout). Meanwhile new
// connections wait in the listen queue.
//
// It is safe for concurrent use.
type accepted struct {
	net.Listener
	max int // 0: no maximum

	mu   sync.Mutex
	open int
	// between are the open connections not in a request: idle between
	// two, since when, or fresh, not begun a first one yet (the zero
	// time). A request's start and end each change one entry.
	between map[net.Conn]time.Time
	// From stopping on, the connections accepted, and those closed while
	// idle or fresh: a request a proxy sends on one of those as it closes
	// gets no answer, so the shutdown's log line counts them.
	stopped                              bool
	lateAccepts, closedIdle, closedFresh int
	// freed has a value when a connection has closed since Accept last
	// looked; stop is closed with the listener.
	freed    chan struct{}
	stop     chan struct{}
	stopOnce sync.Once
}

func newAccepted(ln net.Listener, max int) *accepted {
	return &accepted{Listener: ln, max: max, between: map[net.Conn]time.Time{}, freed: make(chan struct{}, 1), stop: make(chan struct{})}
}

func (a *accepted) Accept() (net.Conn, error) {
	if err := a.room(); err != nil {
		return nil, err
	}
	c, err := a.Listener.Accept()
	if err != nil {
		a.closed(nil)
		return nil, err
	}
	if tcp, ok := c.(*net.TCPConn); ok {
		tcp.SetWriteBuffer(sendBuffer)
	}
	return c, nil
}

// sendBuffer is the kernel's send buffer of each connection (SO_SNDBUF;
// Linux doubles it). Left to itself the kernel grows it up to 4 MB
// (net.ipv4.tcp_wmem), so that a client that pipelines requests and never
// reads has fifty 80 KB pages written for it, each a copy, before the
// server waits: 1,500 such clients made the server copy 2.4 GB and kept
// visitors waiting seconds. With 128 KB the server waits after a page or
// two; a client that reads is not slowed (128 KB in flight is 10 MB/s at
// 10 ms of round trip).
const sendBuffer = 128 << 10

// room waits until a connection may be accepted, and counts it.
func (a *accepted) room() error {
	for {
		a.mu.Lock()
		if a.max == 0 || a.open < a.max {
			a.open++
			a.mu.Unlock()
			return nil
		}
		var oldest net.Conn
		for c, since := range a.between {
			if !since.IsZero() && (oldest == nil || since.Before(a.between[oldest])) {
				oldest = c
			}
		}
		delete(a.between, oldest)
		a.mu.Unlock()
		if oldest != nil {
			oldest.Close() // the server sees it closed, and connState counts it
		}
		select {
		case <-a.freed:
		case <-a.stop:
			return net.ErrClosed
		}
	}
}

// Close closes the listener and ends a wait in Accept.
func (a *accepted) Close() error {
	a.stopOnce.Do(func() { close(a.stop) })
	return a.Listener.Close()
}

func (a *accepted) connState(c net.Conn, st http.ConnState) {
	if st == http.StateClosed || st == http.StateHijacked {
		a.closed(c)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch st {
	case http.StateNew:
		a.between[c] = time.Time{}
		if a.stopped {
			a.lateAccepts++
		}
	case http.StateIdle:
		a.between[c] = time.Now()
	case http.StateActive:
		delete(a.between, c)
	}
}

// stopping marks the start of the shutdown, from which unused reports.
func (a *accepted) stopping() {
	a.mu.Lock()
	a.stopped = true
	a.mu.Unlock()
}

// unused reports, since stopping, how many connections were accepted and how
// many were closed while idle or before their first request.
func (a *accepted) unused() (late, idle, fresh int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lateAccepts, a.closedIdle, a.closedFresh
}

// closed counts a connection closed (c, or one whose Accept failed: nil).
func (a *accepted) closed(c net.Conn) {
	a.mu.Lock()
	if since, ok := a.between[c]; ok && a.stopped {
		if since.IsZero() {
			a.closedFresh++
		} else {
			a.closedIdle++
		}
	}
	delete(a.between, c)
	a.open--
	a.mu.Unlock()
	select {
	case a.freed <- struct{}{}:
	default:
	}
}

// state reports how many accepted connections are open, how many of them
// are idle between requests, and for how long the longest idle one has
// been: what a shutdown is about to close, for its log line.
func (a *accepted) state() (open, idle int, longestIdle time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	for _, since := range a.between {
		if !since.IsZero() {
			idle++
			longestIdle = max(longestIdle, now.Sub(since))
		}
	}
	return a.open, idle, longestIdle
}

// wait returns once every accepted connection is closed, or when ctx ends.
func (a *accepted) wait(ctx context.Context) error {
	for {
		a.mu.Lock()
		open := a.open
		a.mu.Unlock()
		if open == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}
