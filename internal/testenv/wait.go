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
// wait with it for a condition instead of sleeping for time to pass.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(WaitLimit)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s did not happen within %v", what, WaitLimit)
		case <-t.Context().Done():
			t.Fatalf("%s: the test ended while waiting", what)
		}
	}
}
