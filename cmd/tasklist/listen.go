package main

import (
	"fmt"
	"net"
	"os"
	"strconv"

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
