package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
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
// the server has not closed yet (its connState is the server's ConnState).
//
// Why: http.Server.Shutdown can return while a connection its Serve loop
// has just accepted is not yet tracked, and the process would exit under
// it, closing a request it never read (a POST that nginx sent on it gets a
// 502). With a socket that outlives the process (socket activation),
// connections arrive until the very end, so that moment comes; wait
// closes the gap.
type accepted struct {
	net.Listener
	open atomic.Int64
}

func (a *accepted) Accept() (net.Conn, error) {
	c, err := a.Listener.Accept()
	if err == nil {
		a.open.Add(1)
	}
	return c, err
}

func (a *accepted) connState(_ net.Conn, st http.ConnState) {
	if st == http.StateClosed || st == http.StateHijacked {
		a.open.Add(-1)
	}
}

// wait returns once every accepted connection is closed, or when ctx ends.
func (a *accepted) wait(ctx context.Context) error {
	for a.open.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}
