// Package logbuf buffers a program's log output and writes it out a few
// times a second, so that a log line per request costs a copy into memory
// instead of a system call per line. Lines are never torn or reordered;
// what is buffered when the program stops is written by Close. What a
// crash (a kill, not a panic that unwinds to Close) leaves in the buffer
// is lost: at most one interval's worth of lines.
package logbuf

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// Writer buffers writes to an underlying writer and flushes them every
// interval, when the buffer fills, and on Close. Each Write is kept whole:
// a log handler's one Write per record stays one line. It is safe for
// concurrent use.
type Writer struct {
	mu     sync.Mutex
	buf    *bufio.Writer
	err    error // the first write error, reported by Write from then on
	closed bool

	stop chan struct{}
	done chan struct{}
}

// DefaultInterval is how often New's Writer flushes when given 0.
const DefaultInterval = 100 * time.Millisecond

// bufferSize is the buffer's size: larger writes go straight through.
const bufferSize = 64 << 10

// New returns a Writer that writes to w at least every interval
// (DefaultInterval if 0) until Close.
func New(w io.Writer, interval time.Duration) *Writer {
	if interval <= 0 {
		interval = DefaultInterval
	}
	b := &Writer{buf: bufio.NewWriterSize(w, bufferSize), stop: make(chan struct{}), done: make(chan struct{})}
	go b.flushEvery(interval)
	return b
}

func (b *Writer) flushEvery(interval time.Duration) {
	defer close(b.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.Flush()
		}
	}
}

// Write buffers p; it writes through when p does not fit, or after Close.
func (b *Writer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	if b.buf.Available() < len(p) && b.buf.Buffered() > 0 {
		// Flush first so that p lands whole, after what came before.
		if b.err = b.buf.Flush(); b.err != nil {
			return 0, b.err
		}
	}
	n, err := b.buf.Write(p)
	if err == nil && b.closed {
		err = b.buf.Flush()
	}
	b.err = err
	return n, err
}

// Flush writes out what is buffered.
func (b *Writer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err == nil {
		b.err = b.buf.Flush()
	}
	return b.err
}

// Close stops the periodic flush and writes out what is buffered. Writes
// after Close go straight through. It does not close the underlying
// writer.
func (b *Writer) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return b.err
	}
	b.closed = true
	b.mu.Unlock()
	close(b.stop)
	<-b.done
	return b.Flush()
}
