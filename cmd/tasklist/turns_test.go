package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/testenv"
)

// TestTurns: with every turn taken, a request waits; one whose client goes
// away meanwhile is not served, and one whose turn comes is.
func TestTurns(t *testing.T) {
	release := make(chan struct{})
	var served atomic.Int64
	tr := newTurns(1, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if r.URL.Path == "/hold" {
			<-release // holds the turn: it writes nothing
		}
	}))
	serve := func(ctx context.Context, path string) chan struct{} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			tr.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(ctx, "GET", path, nil))
		}()
		return done
	}
	waitDone := func(done chan struct{}, what string) {
		t.Helper()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not return within 10s", what)
		}
	}

	holding := serve(t.Context(), "/hold")
	testenv.WaitFor(t, "the first request has its turn", func() bool { return served.Load() == 1 })
	ctx, cancel := context.WithCancel(t.Context())
	gone := serve(ctx, "/gone")
	waiting := serve(t.Context(), "/waits")
	cancel()
	waitDone(gone, "the request whose client went away")
	if n := served.Load(); n != 1 {
		t.Fatalf("%d requests served while the only turn was held, want 1", n)
	}
	close(release)
	waitDone(holding, "the first request")
	waitDone(waiting, "the waiting request")
	if n := served.Load(); n != 2 {
		t.Errorf("%d requests served, want 2: the first and the one that waited", n)
	}
}
