package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/config"
)

// watchedListener tells when it has handed out a connection and when it
// is closed.
type watchedListener struct {
	net.Listener
	accepted  chan struct{}
	closed    chan struct{}
	closeOnce sync.Once
}

func (l *watchedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted <- struct{}{}
	}
	return c, err
}

func (l *watchedListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// TestStopAnswersAcceptedConnections: a connection the server accepted
// before it stopped, whose request comes only once the server has stopped
// accepting, gets its answer, not a closed connection. With socket
// activation connections arrive until the very end, so a stop always
// meets such a one; a POST a proxy sent on it would get a 502 (the proxy
// cannot know whether it was served). Fails with http.Server.Shutdown
// begun before the connections are served: net/http drops a request it
// reads once Shutdown has begun.
func TestStopAnswersAcceptedConnections(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	watched := &watchedListener{Listener: ln, accepted: make(chan struct{}, 1), closed: make(chan struct{})}
	stop, stopServing := context.WithCancel(ctx)
	defer stopServing()
	cfg := config.Config{ShutdownTimeout: 10 * time.Second, MaxRequests: 4}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "answered") })
	ready := make(chan string, 1)
	served := make(chan error, 1)
	go func() { served <- serve(stop, cfg, slog.New(slog.DiscardHandler), watched, ok, ready) }()
	addr := <-ready

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	select {
	case <-watched.accepted:
	case <-ctx.Done():
		t.Fatal("the server did not accept the connection")
	}
	stopServing()
	select {
	case <-watched.closed:
	case <-ctx.Done():
		t.Fatal("the server did not stop accepting")
	}
	if _, err := io.WriteString(conn, "POST / HTTP/1.1\r\nHost: tasklist.test\r\nContent-Length: 0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("request on a connection accepted before the stop: %v, want its answer", err)
	}
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "answered" || err != nil {
		t.Errorf("answer %d %q (%v), want 200 %q", resp.StatusCode, body, err, "answered")
	}
	if resp.Close != true {
		t.Errorf("the answer keeps its connection open; a stopping server closes each connection after its answer")
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("serve = %v, want a clean stop", err)
		}
	case <-ctx.Done():
		t.Fatal("serve did not return after the connection's answer")
	}
}
