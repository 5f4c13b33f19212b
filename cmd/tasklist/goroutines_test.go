package main

import (
	"context"
	"fmt"
	"io"
	"runtime/pprof"
	"strings"
	"testing"
)

// instanceLabel is the profiler label that marks the goroutines of one
// instance of the program that a test runs in its own process: those the
// instance starts inherit it, so that a test can see what that instance is
// doing (a request waiting for the database, say) apart from the test's
// own goroutines and other instances'.
const instanceLabel = "tasklist-instance"

// startLabelled is start with the instance's goroutines labelled name.
func startLabelled(t *testing.T, name string, env map[string]string, logs io.Writer) (base string, stop context.CancelFunc, done <-chan error) {
	t.Helper()
	pprof.Do(context.Background(), pprof.Labels(instanceLabel, name), func(context.Context) {
		base, stop, done = start(t, env, logs)
	})
	return base, stop, done
}

// requestFrame is in the stack of every goroutine that serves a request.
const requestFrame = "net/http.serverHandler.ServeHTTP"

// goroutinesIn counts the goroutines of the instance labelled name whose
// stacks hold every one of frames (function names as the runtime prints
// them, or a prefix such as "database/sql.").
func goroutinesIn(t *testing.T, name string, frames ...string) int {
	t.Helper()
	var b strings.Builder
	if err := pprof.Lookup("goroutine").WriteTo(&b, 1); err != nil {
		t.Fatal(err)
	}
	// debug=1: one block per stack and label set, "N @ addresses", then
	// "# labels: {...}", then one "#\taddress\tfunction+offset\tfile:line"
	// per frame.
	n := 0
	label := fmt.Sprintf("%q:%q", instanceLabel, name)
blocks:
	for _, block := range strings.Split(b.String(), "\n\n") {
		if !strings.Contains(block, label) {
			continue
		}
		for _, f := range frames {
			if !strings.Contains(block, "\t"+f) {
				continue blocks
			}
		}
		var count int
		if _, err := fmt.Sscanf(block, "%d @", &count); err == nil {
			n += count
		}
	}
	return n
}
