package testenv

import (
	"testing"
	"time"
)

// WaitLimit bounds WaitFor: a condition that has not held by then is a
// failure with a message, not a test that hangs until go test's timeout.
const WaitLimit = 30 * time.Second

// WaitFor polls cond every millisecond until it holds, and fails the test
// naming what did not happen if it still does not after WaitLimit. Tests
// wait with it for a condition instead of sleeping for time to pass. Like
// t.Fatal, it must be called from the test's goroutine (see Await).
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	WaitForWithin(t, WaitLimit, what, cond)
}

// WaitForWithin is WaitFor with a limit of its own, for a condition that
// waits out a timeout of the code under test longer than WaitLimit.
func WaitForWithin(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	if err := poll(t, limit, cond); err != "" {
		t.Fatalf("%s %s", what, err)
	}
}

// Await is WaitFor for other goroutines than the test's (a fault injected
// while the test's goroutine runs the load): it reports a condition that
// did not hold with t.Errorf and returns false instead of ending the test.
func Await(t testing.TB, what string, cond func() bool) bool {
	t.Helper()
	if err := poll(t, WaitLimit, cond); err != "" {
		t.Errorf("%s %s", what, err)
		return false
	}
	return true
}

// poll polls cond every millisecond until it holds, limit passes or the
// test ends, and says which of the last two happened ("" when cond held).
// In a Cleanup, where the test's context has ended already, only limit
// bounds it.
func poll(t testing.TB, limit time.Duration, cond func() bool) string {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(limit)
	ended := t.Context().Done()
	if t.Context().Err() != nil {
		ended = nil
	}
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			return "did not happen within " + limit.String()
		case <-ended:
			return "was still awaited when the test ended"
		}
	}
	return ""
}
