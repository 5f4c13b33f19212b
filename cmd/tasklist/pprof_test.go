package main

import (
	"io"
	"net/http"
	"regexp"
	"testing"

	"github.com/tasklist/tasklist/internal/testenv"
)

// TestPprofListener: TASKLIST_PPROF_ADDR serves the profiler on its own
// listener, never on the app's, and stops with the app.
func TestPprofListener(t *testing.T) {
	var logs testenv.LockedBuffer
	base, stop, done := start(t, map[string]string{
		"TASKLIST_ADDR":       "127.0.0.1:0",
		"DATABASE_URL":        testenv.SQLiteURL(t, "app.db"),
		"TASKLIST_PPROF_ADDR": "127.0.0.1:0",
	}, &logs)
	m := regexp.MustCompile(`msg="profiler serving" url=(http://\S+/debug/pprof/)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no profiler address in the logs:\n%s", logs.String())
	}
	get := func(url string) int {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(m[1] + "cmdline"); got != http.StatusOK {
		t.Errorf("profiler's cmdline = %d, want 200", got)
	}
	if got := get(m[1] + "goroutine?debug=1"); got != http.StatusOK {
		t.Errorf("profiler's goroutine profile = %d, want 200", got)
	}
	if got := get(base + "/debug/pprof/"); got != http.StatusNotFound {
		t.Errorf("the app's own listener answers /debug/pprof/ with %d, want 404", got)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("run = %v", err)
	}
	if _, err := http.Get(m[1]); err == nil {
		t.Errorf("profiler still answers after the app stopped")
	}
}
