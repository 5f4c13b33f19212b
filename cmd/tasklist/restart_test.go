package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/config"
	"github.com/tasklist/tasklist/internal/daemon"
	"github.com/tasklist/tasklist/internal/testenv"
)

// deploySetting returns the duration that re's first group matches in the
// file of deploy/ named name: the test runs with the shipped settings.
func deploySetting(t *testing.T, name string, re *regexp.Regexp) time.Duration {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", name))
	if err != nil {
		t.Fatal(err)
	}
	m := re.FindSubmatch(b)
	if m == nil {
		t.Fatalf("deploy/%s has no line matching %s", name, re)
	}
	d, err := time.ParseDuration(string(m[1]))
	if err != nil {
		t.Fatalf("deploy/%s: %v", name, err)
	}
	return d
}

// activated is one instance as systemd runs it with deploy/tasklist@.socket:
// the socket is the test's and outlives the processes, each started with
// it as file descriptor 3 (LISTEN_FDS, LISTEN_PID).
type activated struct {
	t      *testing.T
	bin    string
	env    []string
	socket *os.File
	addr   string
	proc   *daemon.Process
	logs   *testenv.LockedBuffer // every process's output, for a failure
}

// start runs a new process on the socket.
func (a *activated) start() {
	a.t.Helper()
	// The shell's pid is the program's after exec: LISTEN_PID names it.
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" serve`, a.bin)
	cmd.Env = a.env
	cmd.ExtraFiles = []*os.File{a.socket}
	cmd.Stdout, cmd.Stderr = a.logs, a.logs
	p, err := daemon.Start(cmd)
	if err != nil {
		a.t.Fatal(err)
	}
	a.proc = p
}

// exited reports whether the process has exited.
func (a *activated) exited() bool {
	select {
	case <-a.proc.Exited():
		return true
	default:
		return false
	}
}

// stop sends SIGTERM (by the process id it started), kills the process if
// it is still running after limit, and returns its exit status.
func (a *activated) stop(limit time.Duration) error {
	a.proc.Stop(syscall.SIGTERM, limit)
	return a.proc.Err()
}

// healthz reports whether the instance's /healthz answers want.
func (a *activated) healthz(want int) bool {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + a.addr + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == want
}

// up waits until the instance's /healthz answers 200.
func (a *activated) up() {
	a.t.Helper()
	testenv.WaitFor(a.t, "instance "+a.addr+" answering /healthz 200", func() bool { return a.healthz(http.StatusOK) })
}

// TestRollingRestart runs deploy/nginx.conf in front of three instances of
// the built program, socket-activated as deploy/tasklist@.socket and
// deploy/tasklist@.service run them (the drain as the unit sets it), on one
// PostgreSQL database and one memcached, and restarts the instances one
// after the other as deploy/README.md says — each once the one before is
// back — while 32 clients add tasks and read the list through nginx
// without pausing. No answer may be a 5xx or missing: a POST that meets an
// instance closing a connection gets nginx's 502, since nginx cannot know
// whether it was served. Every add answered 303 must be in the database.
// A draining instance answers /healthz 503.
func TestRollingRestart(t *testing.T) {
	const clients = 32
	drain := deploySetting(t, "tasklist@.service", regexp.MustCompile(`(?m)^Environment=TASKLIST_SHUTDOWN_DRAIN=(\S+)$`))
	stopLimit := deploySetting(t, "tasklist@.service", regexp.MustCompile(`(?m)^TimeoutStopSec=(\S+)$`))
	if b, err := os.ReadFile("../../deploy/tasklist@.socket"); err != nil || !strings.Contains(string(b), "ListenStream=127.0.0.1:%i") {
		t.Fatalf("deploy/tasklist@.socket does not listen on 127.0.0.1:%%i: %v", err)
	}
	dbURL := testenv.PostgresURL(t)
	mc := testenv.StartMemcached(t, testenv.MemcachedOptions{})
	bin := buildBinary(t)

	var logs testenv.LockedBuffer
	instances := make([]*activated, 3)
	var addrs []string
	for i := range instances {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		socket, err := ln.(*net.TCPListener).File()
		if err != nil {
			t.Fatal(err)
		}
		ln.Close() // socket holds it now, as systemd would
		t.Cleanup(func() { socket.Close() })
		addr := ln.Addr().String()
		a := &activated{t: t, bin: bin, socket: socket, addr: addr, logs: &logs, env: []string{
			"PATH=" + os.Getenv("PATH"),
			"TASKLIST_ADDR=" + addr,
			"DATABASE_URL=" + dbURL,
			"MEMCACHE_SERVERS=" + mc.Addr(),
			"TASKLIST_DB_MAX_CONNS=4",
			"TASKLIST_SHUTDOWN_DRAIN=" + drain.String(),
			"TASKLIST_LOG_LEVEL=info",
		}}
		a.start()
		a.up()
		t.Cleanup(func() { a.stop(stopLimit) })
		instances[i] = a
		addrs = append(addrs, addr)
	}
	nginx := testenv.StartNginx(t, func(listen string) string { return renderNginx(t, listen, addrs) })
	base := "http://" + nginx.Addr()
	transport := &http.Transport{MaxIdleConnsPerHost: clients}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ledger := &soakLedger{added: map[string]bool{}, statuses: map[int]int{}}

	ctx, endLoad := context.WithCancel(t.Context())
	defer endLoad()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				if i%2 == 1 {
					soakDo(ctx, client, base, "/", nil, ledger)
					continue
				}
				name := fmt.Sprintf("restart c%d n%d", c, i)
				if status, ok := soakDo(ctx, client, base, "/add", url.Values{"name": {name}}, ledger); ok && status == http.StatusSeeOther {
					ledger.mu.Lock()
					ledger.added[name] = true
					ledger.mu.Unlock()
				}
			}
		})
	}
	testenv.WaitFor(t, "a steady load: 4 answers per client", func() bool {
		ledger.mu.Lock()
		defer ledger.mu.Unlock()
		return ledger.requests >= 4*clients
	})
	for _, a := range instances {
		t.Logf("%s SIGTERM %s", time.Now().Format("15:04:05.000"), a.addr)
		stopped := make(chan error, 1)
		go func() { stopped <- a.stop(stopLimit) }()
		draining := false
		testenv.WaitFor(t, "instance "+a.addr+" answering /healthz 503 or exiting", func() bool {
			draining = a.healthz(http.StatusServiceUnavailable)
			return draining || a.exited()
		})
		if !draining {
			t.Errorf("instance %s: /healthz did not answer 503 while draining", a.addr)
		}
		if err := <-stopped; err != nil {
			t.Errorf("instance %s: %v, want a clean exit", a.addr, err)
		}
		t.Logf("%s exited %s", time.Now().Format("15:04:05.000"), a.addr)
		a.start()
		a.up()
		t.Logf("%s up %s", time.Now().Format("15:04:05.000"), a.addr)
	}
	endLoad()
	wg.Wait()

	t.Logf("%d requests through nginx while 3 instances restarted in turn (drain %v): %d reads, %d adds acknowledged; statuses %v",
		ledger.requests, drain, ledger.reads, len(ledger.added), ledger.statuses)
	for _, p := range ledger.problems {
		t.Error(p)
	}
	if len(ledger.added) == 0 || ledger.reads == 0 {
		t.Errorf("the load did too little to show anything")
	}
	stored := storedNames(t, dbURL)
	var lost []string
	for name := range ledger.added {
		if !stored[name] {
			lost = append(lost, name)
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d acknowledged adds are missing from the database, e.g. %s", len(lost), strings.Join(lost[:min(len(lost), 5)], ", "))
	}
	if t.Failed() {
		t.Logf("nginx's error log:\n%.5000s", nginx.ErrorLog())
		// The instances' log lines, but those of requests answered as
		// they should be: the drains, the shutdowns, the failures.
		var lines []string
		for line := range strings.Lines(logs.String()) {
			if !answeredWell.MatchString(line) {
				lines = append(lines, line)
			}
		}
		t.Logf("the instances' logs, without the requests answered 200 or 303:\n%.20000s", strings.Join(lines, ""))
	}
}

// answeredWell matches the log line of a request answered 200 or 303.
var answeredWell = regexp.MustCompile(`msg=request .*status=(200|303) `)

// TestListenActivation: a socket passed for another process is not taken,
// and a service manager passing other than one socket is an error.
func TestListenActivation(t *testing.T) {
	pid := strconv.Itoa(os.Getpid())
	cfg := config.Config{Addr: "127.0.0.1:0"}
	ln, err := listen(cfg, lookup(envOf(map[string]string{"LISTEN_PID": "1", "LISTEN_FDS": "1"})))
	if err != nil {
		t.Fatalf("sockets for another process: %v, want a listener of its own", err)
	}
	ln.Close()
	for _, n := range []string{"", "0", "2"} {
		if _, err := listen(cfg, lookup(envOf(map[string]string{"LISTEN_PID": pid, "LISTEN_FDS": n}))); err == nil || !strings.Contains(err.Error(), "LISTEN_FDS") {
			t.Errorf("LISTEN_FDS=%q: %v, want an error naming LISTEN_FDS", n, err)
		}
	}
}
