package testenv

import (
	"runtime"
	"strings"
)

// Goroutines returns the stacks of this process's goroutines that have fn
// on their stack (a function as a stack names it: "fill.(*Group).miss("),
// only those blocked in a select when selecting is set. Some moments of
// concurrent code have no other outward sign — a request joining a flight
// that another one started, a flight waiting for another's lease — and
// tests wait for them with it; the stacks are for a failure to show.
func Goroutines(fn string, selecting bool) []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		header, _, _ := strings.Cut(g, "\n")
		if strings.Contains(g, fn) && (!selecting || strings.Contains(header, "[select")) {
			out = append(out, g)
		}
	}
	return out
}
