package main

import (
	"net/http"
	"time"
)

// answerTimeout is how long an answer may take to go out once it has
// started: a client that does not read what it asked for (one that sends
// requests and never reads, say) has its connection closed then, instead
// of holding it, its goroutine and its answer until the server's
// WriteTimeout. A 100 KB page in 10 s is 10 KB/s, far below any real
// client's speed.
const answerTimeout = 10 * time.Second

// turns lets at most cap(slots) requests work at once; the others wait
// their turn in the order they came (a channel's waiting senders are served
// first in, first out), so that a new visitor waits behind the requests
// already waiting, one per busy connection, rather than share the machine
// with every request every connection has sent. A request's turn ends when
// its answer starts going out (its first Write or WriteHeader) or its
// handler returns: writing to a client that does not read blocks, and must
// not keep others from their turn; from then on the answer has
// answerTimeout to go out.
//
// It is safe for concurrent use.
type turns struct {
	slots chan struct{}
	next  http.Handler
}

func newTurns(n int, next http.Handler) *turns {
	return &turns{slots: make(chan struct{}, n), next: next}
}

func (t *turns) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case t.slots <- struct{}{}:
	case <-r.Context().Done():
		return // the client went away, or the server is stopping
	}
	tw := &turnWriter{ResponseWriter: w, done: func() { <-t.slots }}
	defer tw.end()
	t.next.ServeHTTP(tw, r)
}

// turnWriter ends its request's turn when the answer starts going out, and
// gives the answer answerTimeout from then. Handlers call it from their own
// goroutine only, as any ResponseWriter.
type turnWriter struct {
	http.ResponseWriter
	done  func()
	ended bool
}

func (w *turnWriter) end() {
	if !w.ended {
		w.ended = true
		w.done()
	}
}

// start ends the turn as the answer starts to go out.
func (w *turnWriter) start() {
	if !w.ended {
		w.end()
		// Not every ResponseWriter can (a test's recorder): then the
		// server's WriteTimeout alone bounds the answer.
		_ = http.NewResponseController(w.ResponseWriter).SetWriteDeadline(time.Now().Add(answerTimeout))
	}
}

func (w *turnWriter) WriteHeader(code int) {
	w.start()
	w.ResponseWriter.WriteHeader(code)
}

func (w *turnWriter) Write(b []byte) (int, error) {
	w.start()
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the server's writer (Flush,
// deadlines).
func (w *turnWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
