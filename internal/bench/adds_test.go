package bench

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/bench/report"
)

// TestPace: one add is due per every reads counted since the start, in
// order; between two counts the last rate is extrapolated, and the count
// corrects it.
func TestPace(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	// The app counted 1000 reads before the start and 1500 at every count
	// after it: 500 reads, 10 adds, and a rate of 5000/s from the first
	// count to the second, which may send up to 19 before the second
	// count says the reads stopped.
	counts := 0
	count := func() (float64, error) {
		counts++
		if counts == 4 {
			cancel()
		}
		return 1500, nil
	}
	due := make(chan int, 100)
	if err := pace(ctx, 50, 1000, count, due); !errors.Is(err, context.Canceled) {
		t.Fatalf("pace: %v, want cancelled", err)
	}
	close(due)
	var got []int
	for n := range due {
		got = append(got, n)
	}
	if len(got) < 10 || len(got) >= 20 || !slices.Equal(got, seq(len(got))) {
		t.Errorf("due %v; want 0, 1, 2… 10 to 19 of them", got)
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func TestPaceCountFails(t *testing.T) {
	broken := errors.New("connection refused")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err := pace(ctx, 50, 0, func() (float64, error) { return 0, broken }, make(chan int))
	if !errors.Is(err, broken) {
		t.Errorf("pace: %v, want %v", err, broken)
	}
}

func TestWriteFigures(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 100; i++ { // sorted, as latencies.sorted returns them
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	want := &report.Writes{Count: 100, Errors: 2, ReadsPerWrite: 50.5, P50: 50 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}
	if diff := cmp.Diff(want, writeFigures(lat, 2, 5050)); diff != "" {
		t.Errorf("writeFigures (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&report.Writes{Errors: 3}, writeFigures(nil, 3, 5050)); diff != "" {
		t.Errorf("writeFigures with no add answered (-want +got):\n%s", diff)
	}
}

// TestLatencies: concurrent records, sorted on the way out, failures
// counted apart.
func TestLatencies(t *testing.T) {
	var l latencies
	done := make(chan struct{})
	for i := range 50 {
		go func() {
			defer func() { done <- struct{}{} }()
			if i%10 == 0 {
				l.record(0, errors.New("refused"))
				return
			}
			l.record(time.Duration(50-i)*time.Millisecond, nil)
		}()
	}
	for range 50 {
		<-done
	}
	lat, errs := l.sorted()
	if errs != 5 || len(lat) != 45 || !slices.IsSorted(lat) || lat[0] != time.Millisecond {
		t.Errorf("latencies %v, %d failures; want 45 sorted from 1ms, 5 failures", lat, errs)
	}
}
