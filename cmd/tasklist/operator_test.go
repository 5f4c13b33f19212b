package main

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/config"
	"github.com/tasklist/tasklist/internal/testenv"
)

// TestHelp: help, -h and --help list every command and every variable the
// configuration reads, with its default, and succeed.
func TestHelp(t *testing.T) {
	for _, arg := range []string{"help", "-h", "--help"} {
		var out bytes.Buffer
		if err := runToEnd(t, []string{arg}, envOf(nil), &out, io.Discard); err != nil {
			t.Fatalf("tasklist %s = %v", arg, err)
		}
		help := out.String()
		for _, c := range commands {
			if !strings.Contains(help, "  "+c.name+" ") {
				t.Errorf("tasklist %s does not list the command %q:\n%s", arg, c.name, help)
			}
		}
		for _, v := range config.Vars() {
			def := "(unset)"
			if v.Default != "" {
				def = "(default " + v.Default + ")"
			}
			if !strings.Contains(help, "  "+v.Name+" "+def+"\n") {
				t.Errorf("tasklist %s does not list %s %s", arg, v.Name, def)
			}
		}
	}
}

func TestWriteVersion(t *testing.T) {
	info := func(settings ...debug.BuildSetting) *debug.BuildInfo {
		return &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/tasklist/tasklist", Version: "v1.2.3"}, Settings: settings}
	}
	tests := []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{"stamped", info(
			debug.BuildSetting{Key: "vcs", Value: "git"},
			debug.BuildSetting{Key: "vcs.revision", Value: "0123456789abcdef"},
			debug.BuildSetting{Key: "vcs.time", Value: "2026-11-26T13:00:00Z"},
			debug.BuildSetting{Key: "vcs.modified", Value: "false"},
		), "tasklist v1.2.3\nmodule github.com/tasklist/tasklist\nrevision 0123456789abcdef (2026-11-26T13:00:00Z)\nbuilt with go1.26.8\n"},
		{"modified", info(
			debug.BuildSetting{Key: "vcs.revision", Value: "0123456789abcdef"},
			debug.BuildSetting{Key: "vcs.modified", Value: "true"},
		), "tasklist v1.2.3\nmodule github.com/tasklist/tasklist\nrevision 0123456789abcdef, with uncommitted changes\nbuilt with go1.26.8\n"},
		{"not stamped", info(), "tasklist v1.2.3\nmodule github.com/tasklist/tasklist\nrevision unknown (built without VCS information)\nbuilt with go1.26.8\n"},
		{"no build information", nil, "tasklist: no build information in this binary\n"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		if err := writeVersion(&out, tt.info); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, out.String()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestCommandErrors(t *testing.T) {
	for _, args := range [][]string{{"frobnicate"}, {"serve", "now"}, {"--port=80"}} {
		err := runToEnd(t, args, envOf(nil), io.Discard, io.Discard)
		if !errors.Is(err, errUsage) {
			t.Errorf("tasklist %v = %v, want the usage", args, err)
		}
	}
}

// TestBinary runs the built program: what it prints and how it exits.
// buildBinary builds the program into the test's directory and returns its
// path.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tasklist")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestBinary(t *testing.T) {
	bin := buildBinary(t)
	// runBin runs the program with env (and PATH) in a fresh directory.
	runBin := func(env map[string]string, args ...string) (stdout, stderr string, code int) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = t.TempDir()
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		return o.String(), e.String(), cmd.ProcessState.ExitCode()
	}

	t.Run("help", func(t *testing.T) {
		var want bytes.Buffer
		if err := writeHelp(&want); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code := runBin(nil, "--help")
		if code != 0 || stdout != want.String() || stderr != "" {
			t.Errorf("tasklist --help: exit %d, stderr %q, stdout:\n%s", code, stderr, stdout)
		}
	})

	t.Run("version", func(t *testing.T) {
		// The binary prints its own build information, which go version
		// -m reads too: the revision is there when go build stamped it.
		info, err := buildinfo.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		if err := writeVersion(&want, info); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code := runBin(nil, "version")
		if code != 0 || stdout != want.String() || stderr != "" {
			t.Errorf("tasklist version: exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, stderr, stdout, want.String())
		}
	})

	t.Run("every line of a start-up report is prefixed", func(t *testing.T) {
		_, stderr, code := runBin(map[string]string{"PORT": "x", "TASKLIST_LOG_LEVEL": "loud", "TASKLIST_CACHE_TTL": "0s",
			"TASKLIST_INVALIDATION": "sometimes", "TASKLIST_SESSION_ENGINE": "files"})
		lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
		if code != 1 || len(lines) != 5 {
			t.Fatalf("exit %d, %d lines, want 1 and 5 (config's errors and the names the packages check, at once):\n%s", code, len(lines), stderr)
		}
		for _, line := range lines {
			if !strings.HasPrefix(line, "tasklist: config: ") {
				t.Errorf("line %q lacks the prefix", line)
			}
		}
		if !strings.Contains(stderr, `TASKLIST_LOG_LEVEL="loud"`) {
			t.Errorf("the log level's error does not show the value:\n%s", stderr)
		}
		for _, want := range []string{
			`TASKLIST_INVALIDATION="sometimes": must be one of version, expire, delete, update`,
			`TASKLIST_SESSION_ENGINE="files": must be one of cached_db, cache, db`,
		} {
			if !strings.Contains(stderr, want) {
				t.Errorf("the report lacks %q:\n%s", want, stderr)
			}
		}
	})

	t.Run("a refused connection is reported once", func(t *testing.T) {
		_, stderr, code := runBin(map[string]string{"DATABASE_URL": "postgres://postgres:topsecret@127.0.0.1:1/x"})
		if code != 1 || strings.Count(stderr, "\n") != 1 || strings.Count(stderr, "connection refused") != 1 ||
			!strings.HasPrefix(stderr, "tasklist: sqldb: postgres server 127.0.0.1:1 unreachable: ") || strings.Contains(stderr, "topsecret") {
			t.Errorf("exit %d:\n%s", code, stderr)
		}
	})
}

// TestSASLScript: scripts/memcached-sasl.sh starts a local MemCachier whose
// printed lines, as they are, start tasklist on the SASL backend; the
// memcached is stopped by the process id it printed.
func TestSASLScript(t *testing.T) {
	cmd := testenv.SASLScript(t, "tasklist-operator")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("memcached-sasl.sh: %v\n%s", err, out)
	}
	env := map[string]string{
		"TASKLIST_ADDR": "127.0.0.1:0",
		"DATABASE_URL":  testenv.SQLiteURL(t, "sasl.db"),
	}
	pid := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if comment, ok := strings.CutPrefix(line, "# memcached with SASL PLAIN: pid "); ok {
			pid, _ = strconv.Atoi(strings.Fields(comment)[0])
			dir := comment[strings.LastIndex(comment, " ")+1:]
			t.Cleanup(func() { os.RemoveAll(dir) })
			continue
		}
		name, value, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok || !strings.HasPrefix(name, "MEMCACHIER_") {
			t.Fatalf("unexpected output line %q", line)
		}
		env[name] = value // generated passwords need no shell quoting
	}
	if pid == 0 || len(env) != 5 {
		t.Fatalf("the script's output lacks the pid or a variable:\n%s", out)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
			t.Errorf("kill %d: %v", pid, err)
			return
		}
		// It is not our child: wait until the process is gone.
		testenv.WaitFor(t, "memcached "+strconv.Itoa(pid)+" ending after SIGTERM", func() bool { return syscall.Kill(pid, 0) != nil })
	}
	t.Cleanup(stop)
	if env["MEMCACHIER_USERNAME"] != "tasklist-operator" || len(env["MEMCACHIER_PASSWORD"]) < 16 {
		t.Errorf("credentials = %q, %q", env["MEMCACHIER_USERNAME"], env["MEMCACHIER_PASSWORD"])
	}

	logs := serveThroughCache(t, env, "through the local MemCachier")
	if !strings.Contains(logs, `msg="cache ready" backend=memcache+sasl`) || strings.Contains(logs, env["MEMCACHIER_PASSWORD"]) {
		t.Errorf("start-up logs must say the SASL cache is ready and never show the password:\n%s", logs)
	}
	stop()
}

// TestPlainClientAgainstSASLServer: MEMCACHE_SERVERS naming a server that
// requires SASL stops start-up saying so, instead of timing out as if the
// server were down; a plain server is not taken for one.
func TestPlainClientAgainstSASLServer(t *testing.T) {
	sasl := testenv.StartMemcached(t, testenv.MemcachedOptions{Username: "u", Password: "secret-pw"})
	plain := testenv.StartMemcached(t, testenv.MemcachedOptions{})
	env := map[string]string{
		"TASKLIST_ADDR":    "127.0.0.1:0",
		"DATABASE_URL":     testenv.SQLiteURL(t, "p.db"),
		"MEMCACHE_SERVERS": plain.Addr() + "," + sasl.Addr(),
	}
	err := runToEnd(t, nil, envOf(env), io.Discard, io.Discard)
	want := "cache: MEMCACHE_SERVERS " + sasl.Addr() + " needs SASL: set MEMCACHIER_SERVERS, MEMCACHIER_USERNAME and MEMCACHIER_PASSWORD instead"
	if err == nil || err.Error() != want {
		t.Errorf("run = %v, want %q", err, want)
	}
}
