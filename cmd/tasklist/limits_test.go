package main

import (
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tasklist/tasklist/internal/testenv"
)

// startApp runs the program on a loopback port over a fresh SQLite
// database until the test ends, and returns its base URL.
func startApp(t *testing.T) string {
	t.Helper()
	var logs testenv.LockedBuffer
	base, stop, done := start(t, map[string]string{
		"TASKLIST_ADDR": "127.0.0.1:0",
		"DATABASE_URL":  "sqlite:" + filepath.Join(t.TempDir(), "limits.db"),
	}, &logs)
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("run = %v\n%s", err, logs.String())
		}
	})
	return base
}

// TestHeaderLimit: the server refuses request headers well below
// net/http's 1 MB default with 431, and serves ordinary ones.
func TestHeaderLimit(t *testing.T) {
	base := startApp(t)
	many := http.Header{}
	for i := range 1000 {
		many.Set("X-Filler-"+strconv.Itoa(i), strings.Repeat("f", 30))
	}
	tests := []struct {
		name   string
		header http.Header
		status int
	}{
		{"8 KiB cookie", http.Header{"Cookie": {"c=" + strings.Repeat("a", 8<<10)}}, http.StatusOK},
		{"64 KiB cookie", http.Header{"Cookie": {"c=" + strings.Repeat("a", 64<<10)}}, http.StatusRequestHeaderFieldsTooLarge},
		{"64 KiB header", http.Header{"X-Big": {strings.Repeat("b", 64<<10)}}, http.StatusRequestHeaderFieldsTooLarge},
		{"1000 headers", many, http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), "GET", base+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header = tt.header
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.status)
			}
		})
	}
}
