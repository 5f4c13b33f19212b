package logbuf

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/testenv"
)

// sink records each write it gets. Safe for concurrent use.
type sink struct {
	mu     sync.Mutex
	writes []string
	err    error
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	s.writes = append(s.writes, string(p))
	return len(p), nil
}

func (s *sink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.writes, "")
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.writes)
}

// TestBuffersUntilFlushOrClose: lines wait in memory (no write per line)
// until Flush or Close; after Close, writes go straight through.
func TestBuffersUntilFlushOrClose(t *testing.T) {
	var s sink
	w := New(&s, time.Hour)
	for i := range 100 {
		fmt.Fprintf(w, "line %d\n", i)
	}
	if n := s.count(); n != 0 {
		t.Fatalf("%d writes reached the output before any flush, want 0", n)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := s.count(); n != 1 {
		t.Errorf("flush made %d writes, want 1", n)
	}
	fmt.Fprintf(w, "before close\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(w, "after close\n")
	if got := s.String(); !strings.HasSuffix(got, "line 99\nbefore close\nafter close\n") || strings.Count(got, "\n") != 102 {
		t.Errorf("output ends %q, %d lines", got[max(len(got)-60, 0):], strings.Count(got, "\n"))
	}
}

// TestFlushesByItself: without Flush or Close, a line reaches the output
// within the interval.
func TestFlushesByItself(t *testing.T) {
	var s sink
	w := New(&s, 10*time.Millisecond)
	defer w.Close()
	fmt.Fprintf(w, "hello\n")
	testenv.WaitFor(t, "the line reaching the output", func() bool { return s.String() == "hello\n" })
}

// TestLinesStayWholeAndInOrder: lines from many goroutines, some larger
// than the buffer, each reach the output whole, once, in each writer's
// order, and no write to the output splits a line.
func TestLinesStayWholeAndInOrder(t *testing.T) {
	var s sink
	w := New(&s, time.Millisecond)
	const writers, lines = 8, 500
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range lines {
				pad := strings.Repeat("x", (g*lines+i)%300)
				if i == lines/2 {
					pad = strings.Repeat("y", bufferSize+10) // bigger than the buffer
				}
				fmt.Fprintf(w, "%d %d %s\n", g, i, pad)
			}
		})
	}
	wg.Wait()
	w.Close()
	next := make([]int, writers)
	for _, write := range s.writes {
		if !strings.HasSuffix(write, "\n") {
			t.Fatalf("a write to the output ends mid-line: %.40q", write[max(len(write)-40, 0):])
		}
	}
	for _, line := range strings.Split(strings.TrimSuffix(s.String(), "\n"), "\n") {
		var g, i int
		if _, err := fmt.Sscanf(line, "%d %d", &g, &i); err != nil {
			t.Fatalf("torn line %.60q: %v", line, err)
		}
		if i != next[g] {
			t.Fatalf("writer %d: line %d after %d", g, i, next[g]-1)
		}
		next[g]++
	}
	want := make([]int, writers)
	for g := range want {
		want[g] = lines
	}
	if diff := cmp.Diff(want, next); diff != "" {
		t.Errorf("lines per writer (-want +got):\n%s", diff)
	}
}

// TestWriteError: once the output fails, writes say so.
func TestWriteError(t *testing.T) {
	broken := errors.New("disk full")
	s := sink{err: broken}
	w := New(&s, time.Hour)
	defer w.Close()
	fmt.Fprintf(w, "lost\n")
	if err := w.Flush(); !errors.Is(err, broken) {
		t.Errorf("Flush = %v, want %v", err, broken)
	}
	if _, err := fmt.Fprintf(w, "more\n"); !errors.Is(err, broken) {
		t.Errorf("Write after a failed flush = %v, want %v", err, broken)
	}
}
