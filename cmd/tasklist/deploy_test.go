package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tasklist/tasklist/internal/testenv"
)

// TestDeployKeepsStatsPrivate runs deploy/nginx.conf in front of an
// instance: nginx connects from 127.0.0.1, which tasklist's loopback rule
// lets in, so nginx must refuse the statistics routes itself, however the
// path is spelled, while it serves the list. The instance's own /healthz
// answers a check by its address although that Host is not allowed, as
// deploy/README.md's restart loop asks it.
func TestDeployKeepsStatsPrivate(t *testing.T) {
	base := startApp(t, map[string]string{"TASKLIST_ALLOWED_HOSTS": "tasklist.example.com"})
	instance := strings.TrimPrefix(base, "http://")
	nginx := testenv.StartNginx(t, func(listen string) string {
		return renderNginx(t, listen, []string{instance, instance, instance})
	})
	get := func(u string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), "GET", u, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "tasklist.example.com"
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	front := "http://" + nginx.Addr()
	for path, want := range map[string]int{
		"/": 200, "/healthz": 200,
		"/stats": 403, "/stats.json": 403, "/metrics": 403, "/metrics?x=1": 403,
		"/%73tats": 403, "//stats": 403, "/stats/": 403, "/./metrics": 403,
	} {
		if got := get(front + path); got != want {
			t.Errorf("GET %s through nginx = %d, want %d\n%s", path, got, want, nginx.ErrorLog())
		}
	}
	// Straight to the instance, on loopback: the statistics answer (no
	// password in this test), and /healthz answers the instance's address.
	for _, path := range []string{"/stats.json", "/metrics"} {
		if got := get(base + path); got != 200 {
			t.Errorf("GET %s from the instance = %d, want 200", path, got)
		}
	}
	resp, _ := fetch(t, base+"/healthz") // Host 127.0.0.1:PORT, not allowed
	if resp.StatusCode != 200 {
		t.Errorf("GET /healthz by the instance's address = %d, want 200", resp.StatusCode)
	}
}

// TestDeployREADME: deploy/README.md's steps run as root without sudo, set
// a generated statistics password in the env file, and install every file
// the unit's Documentation= names from a file of the repository.
func TestDeployREADME(t *testing.T) {
	b, err := os.ReadFile("../../deploy/README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	if regexp.MustCompile(`(?m)^[^#\n]*\bsudo\b`).MatchString(readme) {
		t.Error("deploy/README.md's steps use sudo; they run as root")
	}
	env := regexp.MustCompile(`(?s)/etc/tasklist/env <<ENV\n(.*?)\nENV\n`).FindStringSubmatch(readme)
	if env == nil || !regexp.MustCompile(`(?m)^TASKLIST_STATS_PASSWORD=\$\(.*/dev/urandom.*\)$`).MatchString(env[1]) {
		t.Errorf("deploy/README.md's env file does not set a generated TASKLIST_STATS_PASSWORD (with an unquoted heredoc, so it is generated): %q", env)
	}
	unit, err := os.ReadFile("../../deploy/tasklist@.service")
	if err != nil {
		t.Fatal(err)
	}
	doc := regexp.MustCompile(`(?m)^Documentation=(.+)$`).FindSubmatch(unit)
	if doc == nil {
		t.Fatal("deploy/tasklist@.service has no Documentation=")
	}
	for _, uri := range strings.Fields(string(doc[1])) {
		path, ok := strings.CutPrefix(uri, "file://")
		if !ok {
			t.Errorf("Documentation= %s is not a file the steps install", uri)
			continue
		}
		m := regexp.MustCompile(`(?m)^install -D -m 0644 (\S+) ` + regexp.QuoteMeta(path) + `$`).FindStringSubmatch(readme)
		if m == nil {
			t.Errorf("deploy/README.md does not install %s", path)
			continue
		}
		if _, err := os.Stat(filepath.Join("..", "..", m[1])); err != nil {
			t.Errorf("%s is installed from %s: %v", path, m[1], err)
		}
	}
}
