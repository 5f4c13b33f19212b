package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func envOf(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

// start runs the program in the background and returns its base URL, a
// function that stops it (like SIGTERM), and a channel with run's result.
func start(t *testing.T, env map[string]string, logs io.Writer) (string, context.CancelFunc, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, envOf(env), logs, ready) }()
	select {
	case addr := <-ready:
		return "http://" + addr, cancel, done
	case err := <-done:
		cancel()
		t.Fatalf("run ended before serving: %v", err)
	}
	return "", cancel, done
}

func TestServeAndGracefulShutdown(t *testing.T) {
	var logs syncBuffer
	base, stop, done := start(t, map[string]string{
		"TASKLIST_ADDR":       "127.0.0.1:0",
		"DATABASE_URL":        "sqlite:" + filepath.Join(t.TempDir(), "app.db"),
		"TASKLIST_SLOW_QUERY": "1s",
	}, &logs)

	resp, err := http.PostForm(base+"/add", url.Values{"name": {"survive shutdown"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	// A request in flight when the signal comes still gets its answer.
	type result struct {
		status int
		body   string
		err    error
	}
	inflight := make(chan result, 1)
	go func() {
		resp, err := http.Get(base + "/")
		if err != nil {
			inflight <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		inflight <- result{status: resp.StatusCode, body: string(b)}
	}()
	time.Sleep(300 * time.Millisecond) // let the request reach the slow query
	stop()
	r := <-inflight
	if r.err != nil || r.status != 200 || !strings.Contains(r.body, "survive shutdown") {
		t.Errorf("in-flight request during shutdown = %d, %v", r.status, r.err)
	}
	if err := <-done; err != nil {
		t.Errorf("run = %v, want a clean stop", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Errorf("server still answers after shutdown")
	}
	for _, want := range []string{"tasklist serving", "shutting down", "stopped", "cache=local"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}
}

func TestMigrateCommand(t *testing.T) {
	var logs syncBuffer
	env := envOf(map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "m.db")})
	if err := run(t.Context(), []string{"migrate"}, env, &logs, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "migration applied") || !strings.Contains(logs.String(), "database is up to date") {
		t.Errorf("migrate logs:\n%s", logs.String())
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		says string
	}{
		{"unknown command", []string{"frobnicate"}, nil, "usage"},
		{"bad config", nil, map[string]string{"PORT": "high"}, "PORT"},
		{"bad database", nil, map[string]string{"DATABASE_URL": "oracle://db/x"}, "oracle"},
		{"unreachable database", nil, map[string]string{"DATABASE_URL": "postgres://u:topsecret@127.0.0.1:1/x?connect_timeout=2"}, "unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(t.Context(), tt.args, envOf(tt.env), io.Discard, nil)
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("run = %v, want an error saying %q", err, tt.says)
			}
			if err != nil && strings.Contains(err.Error(), "topsecret") {
				t.Errorf("error reveals the password: %v", err)
			}
		})
	}
}
