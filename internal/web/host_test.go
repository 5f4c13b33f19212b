package web_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/tasklist/tasklist/internal/web"
)

// TestAllowedHosts: a request whose Host is not allowed gets the 400 page
// and a log line; allowed hosts match without regard to case or port, and
// ".domain" matches the domain and its subdomains. (TestBadInput has the
// DNS rebinding request, whose Origin matches its Host.)
func TestAllowedHosts(t *testing.T) {
	var logs bytes.Buffer
	app := newStack(t, stackOptions{log: slog.New(slog.NewTextHandler(&logs, nil)),
		hosts: []string{"localhost", "127.0.0.1", "::1", "Tasks.Example.com", ".example.org"}})
	if _, err := web.New(web.Config{Tasks: app.Tasks()}); err == nil {
		t.Error("web.New without AllowedHosts succeeded")
	}
	h := app.handler
	tests := []struct {
		host string
		ok   bool
	}{
		{"localhost", true},
		{"localhost:8000", true},
		{"LocalHost:8000", true},
		{"localhost.:8000", true},
		{"127.0.0.1:8000", true},
		{"[::1]:8000", true},
		{"[::1]", true},
		{"tasks.example.com", true},
		{"TASKS.EXAMPLE.COM:443", true},
		{"example.org", true},
		{"a.b.example.org:8443", true},
		{"evil.example", false},
		{"evil.example:8000", false},
		{"example.com", false},
		{"badexample.org", false},
		{"localhost.evil.example", false},
		{"127.0.0.2", false},
		{"[::2]:8000", false},
		{"localhost:80@evil.example", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			logs.Reset()
			w := do(h, "GET", "/", nil, "Host", tt.host)
			if ok := w.Code == http.StatusOK; ok != tt.ok {
				t.Errorf("GET / with Host %q = %d, want allowed %v", tt.host, w.Code, tt.ok)
			}
			if tt.ok {
				return
			}
			if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "does not answer for the host name") {
				t.Errorf("GET / with Host %q = %d, want the 400 page:\n%s", tt.host, w.Code, w.Body)
			}
			if !strings.Contains(logs.String(), "host not allowed") {
				t.Errorf("no log line for Host %q:\n%s", tt.host, logs.String())
			}
		})
	}
}

// TestAnyHost: "*" allows every host, even an empty one.
func TestAnyHost(t *testing.T) {
	h := newStack(t, stackOptions{hosts: []string{"*"}}).handler
	for _, host := range []string{"evil.example", "", "anything:1"} {
		if w := do(h, "GET", "/", nil, "Host", host); w.Code != http.StatusOK {
			t.Errorf("GET / with Host %q = %d, want 200", host, w.Code)
		}
	}
}

// TestHealthzAnyHost: /healthz answers whatever the Host, as load balancers
// and restart loops ask an instance by its address; everything else stays
// behind the Host check.
func TestHealthzAnyHost(t *testing.T) {
	h := newStack(t, stackOptions{hosts: []string{"tasks.example.com"}}).handler
	for _, host := range []string{"127.0.0.1:8001", "10.0.0.7", "", "evil.example"} {
		if w := do(h, "GET", "/healthz", nil, "Host", host); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"status":"ok"`) {
			t.Errorf("GET /healthz with Host %q = %d %s, want 200 ok", host, w.Code, w.Body)
		}
		if w := do(h, "GET", "/healthz/x", nil, "Host", host); w.Code != http.StatusBadRequest {
			t.Errorf("GET /healthz/x with Host %q = %d, want 400", host, w.Code)
		}
	}
}
