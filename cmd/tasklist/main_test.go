package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/config"
	"github.com/tasklist/tasklist/internal/testenv"
)

// envOf is kv as os.Environ gives an environment.
func envOf(kv map[string]string) []string {
	var environ []string
	for k, v := range kv {
		environ = append(environ, k+"="+v)
	}
	return environ
}

// runLimit bounds every run of the program a test makes: a start-up that
// hangs, or a program that serves when it should have stopped, fails its
// test at once or after this long instead of holding the whole suite until
// go test's own timeout.
const runLimit = 3 * time.Minute

// runToEnd runs the program with args until it returns, and returns its
// result. It fails the test if the program starts serving (runToEnd is for
// commands and for start-ups that must fail) or runs past runLimit.
func runToEnd(t *testing.T, args []string, env []string, stdout, logs io.Writer) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), runLimit)
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, env, stdout, logs, ready) }()
	select {
	case err := <-done:
		if ctx.Err() != nil {
			t.Fatalf("tasklist %v did not end within %v: %v", args, runLimit, err)
		}
		return err
	case addr := <-ready:
		cancel()
		<-done
		t.Fatalf("tasklist %v started serving on %s; it should have ended", args, addr)
		return nil
	}
}

// start runs the program in the background and returns its base URL, a
// function that stops it (like SIGTERM), and a channel with run's result.
// The program stops by itself after runLimit.
func start(t *testing.T, env map[string]string, logs io.Writer) (string, context.CancelFunc, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), runLimit)
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, envOf(env), io.Discard, logs, ready) }()
	select {
	case addr := <-ready:
		return "http://" + addr, cancel, done
	case err := <-done:
		cancel()
		t.Fatalf("run ended before serving: %v", err)
	case <-ctx.Done():
		cancel()
		t.Fatalf("tasklist did not start serving within %v", runLimit)
	}
	return "", cancel, done
}

func TestServeAndGracefulShutdown(t *testing.T) {
	var logs testenv.LockedBuffer
	base, stop, done := startLabelled(t, t.Name(), map[string]string{
		"TASKLIST_ADDR":       "127.0.0.1:0",
		"DATABASE_URL":        testenv.SQLiteURL(t, "app.db"),
		"TASKLIST_SLOW_QUERY": "1s",
	}, &logs)

	// Not followed to the list: the list is read first by the request in
	// flight, which must run the slow query.
	if r := do(http.MethodPost, base+"/add", url.Values{"name": {"survive shutdown"}}); r.status != http.StatusSeeOther {
		t.Fatalf("POST /add = %d, %v", r.status, r.err)
	}

	// A request in flight when the signal comes still gets its answer.
	type result struct {
		status int
		body   string
		err    error
	}
	inflight := make(chan result, 1)
	go func() {
		resp, err := http.Get(base + "/")
		if err != nil {
			inflight <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		inflight <- result{status: resp.StatusCode, body: string(b)}
	}()
	testenv.WaitFor(t, "the request reaching the slow query", func() bool {
		return goroutinesIn(t, t.Name(), "github.com/tasklist/tasklist/internal/tasks.(*Store).slow") > 0
	})
	stop()
	r := <-inflight
	if r.err != nil || r.status != 200 || !strings.Contains(r.body, "survive shutdown") {
		t.Errorf("in-flight request during shutdown = %d, %v", r.status, r.err)
	}
	if err := <-done; err != nil {
		t.Errorf("run = %v, want a clean stop", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Errorf("server still answers after shutdown")
	}
	for _, want := range []string{"tasklist serving", "shutting down", "stopped", "cache=local"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}
}

func TestMigrateCommand(t *testing.T) {
	var logs testenv.LockedBuffer
	env := envOf(map[string]string{
		"DATABASE_URL":         testenv.SQLiteURL(t, "m.db"),
		"MEMCACHIER_USERNAME":  "someone", // without MEMCACHIER_SERVERS: a warning
		"TASKLIST_INVALIDATON": "delete",  // misspelled: a warning
	})
	if err := runToEnd(t, []string{"migrate"}, env, io.Discard, &logs); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"migration applied",
		"database is up to date",
		`level=WARN msg="MEMCACHIER_USERNAME is ignored: MEMCACHIER_SERVERS is not set (nor MEMCACHIER_PASSWORD)"`,
		`level=WARN msg="TASKLIST_INVALIDATON is not a variable tasklist reads, so it is ignored; the nearest one that is: TASKLIST_INVALIDATION (tasklist help lists them all)"`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("migrate logs lack %q:\n%s", want, logs.String())
		}
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		says string
	}{
		{"unknown command", []string{"frobnicate"}, nil, "usage"},
		{"bad config", nil, map[string]string{"PORT": "high"}, "PORT"},
		{"bad database", nil, map[string]string{"DATABASE_URL": "oracle://db/x"}, "oracle"},
		{"misspelled sslmode", nil, map[string]string{"DATABASE_URL": "postgres://u:topsecret@127.0.0.1:1/x?sslmode=disabled"},
			"sslmode=disabled: unknown value, expected one of disable, allow, prefer, require, verify-ca, verify-full"},
		{"password without user", nil, map[string]string{"MEMCACHIER_SERVERS": "127.0.0.1:1", "MEMCACHIER_PASSWORD": "topsecret"},
			"MEMCACHIER_USERNAME is not set"},
		{"unreachable database", nil, map[string]string{"DATABASE_URL": "postgres://u:topsecret@127.0.0.1:1/x?connect_timeout=2"}, "unreachable"},
		{"sqlite in a missing directory", nil, map[string]string{"DATABASE_URL": "sqlite:/nonexistent-dir/t.db"},
			"cannot open SQLite database /nonexistent-dir/t.db: directory /nonexistent-dir: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := runToEnd(t, tt.args, envOf(tt.env), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("run = %v, want an error saying %q", err, tt.says)
			}
			if err != nil && strings.Contains(err.Error(), "topsecret") {
				t.Errorf("error reveals the password: %v", err)
			}
		})
	}
}

// TestMemCachierConfiguration: the tutorial's three variables against a
// SASL memcached serve the app through the cache; a wrong password stops
// start-up with an error naming the server and the user, not the password.
func TestMemCachierConfiguration(t *testing.T) {
	mc := testenv.StartMemcached(t, testenv.MemcachedOptions{Username: "tasklist", Password: "right-password"})
	env := map[string]string{
		"TASKLIST_ADDR":       "127.0.0.1:0",
		"DATABASE_URL":        testenv.SQLiteURL(t, "mc.db"),
		"MEMCACHIER_SERVERS":  mc.Addr(),
		"MEMCACHIER_USERNAME": "tasklist",
		"MEMCACHIER_PASSWORD": "right-password",
	}
	logs := serveThroughCache(t, env, "cached in memcached")
	if !strings.Contains(logs, "backend=memcache+sasl") || strings.Contains(logs, "right-password") {
		t.Errorf("start-up logs must name the SASL backend and never the password:\n%s", logs)
	}

	env["MEMCACHIER_PASSWORD"] = "wrong-password"
	err := runToEnd(t, nil, envOf(env), io.Discard, io.Discard)
	if err == nil {
		t.Fatal("start-up with a wrong password succeeded")
	}
	for _, want := range []string{mc.Addr(), `"tasklist"`, "authentication failed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "wrong-password") {
		t.Errorf("error reveals the password: %v", err)
	}
}

// TestPlainMemcacheAndUnreachableServer: MEMCACHE_SERVERS selects a plain
// cluster; a server that is down at start-up does not stop the app, which
// serves from the database and uses the cache once it answers.
func TestPlainMemcacheAndUnreachableServer(t *testing.T) {
	mc := testenv.StartMemcached(t, testenv.MemcachedOptions{})
	mc.Stop()
	var logs testenv.LockedBuffer
	base, stop, done := start(t, map[string]string{
		"TASKLIST_ADDR":    "127.0.0.1:0",
		"DATABASE_URL":     testenv.SQLiteURL(t, "plain.db"),
		"MEMCACHE_SERVERS": mc.Addr(),
	}, &logs)
	defer func() {
		stop()
		<-done
	}()
	addTask(t, base, "served without a cache")
	if body := get(t, base+"/"); !strings.Contains(body, "served without a cache") {
		t.Errorf("page lacks the task with memcached down")
	}
	if body := get(t, base+"/healthz"); !strings.Contains(body, `"status":"degraded"`) {
		t.Errorf("/healthz with memcached down = %s, want degraded", body)
	}
	if !strings.Contains(logs.String(), "memcached servers unreachable: serving from the database; the cache is used once they answer\" backend=memcache ") ||
		strings.Contains(logs.String(), "cache ready") {
		t.Errorf("logs should name the plain backend and the unreachable server, and not call the cache ready:\n%s", logs.String())
	}
	mc.Start()
	// Once the server answers again (after the client's backoff), the
	// cache is used: /healthz reports it up.
	testenv.WaitFor(t, "the cache coming back after memcached restarted", func() bool {
		return strings.Contains(get(t, base+"/healthz"), `"cache":{"status":"up"}`)
	})
	if body := get(t, base+"/"); !strings.Contains(body, "served without a cache") {
		t.Errorf("page lacks the task after memcached came back")
	}
}

// serveThroughCache starts the program with env, adds task, checks that
// the page shows it and that /healthz reports the cache up, stops the
// program and returns its logs.
func serveThroughCache(t *testing.T, env map[string]string, task string) string {
	t.Helper()
	var logs testenv.LockedBuffer
	base, stop, done := start(t, env, &logs)
	addTask(t, base, task)
	if body := get(t, base+"/"); !strings.Contains(body, task) {
		t.Errorf("page lacks the task")
	}
	if body := get(t, base+"/healthz"); !strings.Contains(body, `"cache":{"status":"up"}`) {
		t.Errorf("/healthz = %s, want the cache up", body)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return logs.String()
}

func addTask(t *testing.T, base, name string) {
	t.Helper()
	resp, err := http.PostForm(base+"/add", url.Values{"name": {name}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK { // after following the 303
		t.Fatalf("add %q: status %d", name, resp.StatusCode)
	}
}

func get(t *testing.T, u string) string {
	t.Helper()
	_, body := fetch(t, u)
	return body
}

// fetch GETs u and returns the response, its body read and closed, and the
// body.
func fetch(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestJSONLogDurations: JSON logs write durations as the text logs do
// ("5s"), in groups too, and leave other values alone.
func TestJSONLogDurations(t *testing.T) {
	var buf strings.Builder
	log := newLogger(config.Config{LogFormat: "json", LogLevel: slog.LevelInfo}, &buf)
	log.Info("x", "timeout", 5*time.Second, slog.Group("db", "time", 1500*time.Microsecond), "count", 7)
	var line struct {
		Timeout string
		DB      struct{ Time string }
		Count   int
	}
	if err := json.Unmarshal([]byte(buf.String()), &line); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	if line.Timeout != "5s" || line.DB.Time != "1.5ms" || line.Count != 7 {
		t.Errorf("JSON log line %s: want timeout \"5s\", db.time \"1.5ms\", count 7", buf.String())
	}
}
