package testenv

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/daemon"
)

// NginxEnv names the nginx binary the tests use (scripts/test.sh sets it);
// unset, nginx is looked up on PATH and in /usr/sbin.
const NginxEnv = "TASKLIST_TEST_NGINX"

// Nginx is an nginx process a test started. It is safe for concurrent use.
type Nginx struct {
	addr string
	dir  string // its prefix: configuration, pid file, logs
	proc *daemon.Process
}

// StartNginx runs nginx in the foreground with a main configuration of its
// own (daemon.NginxCommand: pid file, logs and temporary files in the
// test's directory, a master and one worker) whose http block holds
// site(listen), the configuration of a server that must listen on listen, a
// free 127.0.0.1 address. It waits until nginx listens there and stops
// nginx, by its PID, when the test ends. It skips the test (fails under
// CI=true) without nginx.
func StartNginx(t testing.TB, site func(listen string) string) *Nginx {
	t.Helper()
	bin := NginxPath(t)
	dir := t.TempDir()
	addr, release := reservePort(t)
	cmd, err := daemon.NginxCommand(bin, daemon.NginxOptions{Dir: dir, Site: site(addr), Master: true})
	if err != nil {
		t.Fatal(err)
	}
	release()
	var out LockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	p, err := daemon.Start(cmd)
	if err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	n := &Nginx{addr: addr, dir: dir, proc: p}
	t.Cleanup(n.Stop)
	if err := p.WaitListening(addr, 10*time.Second); err != nil {
		t.Fatalf("nginx: %v: %s%s", err, out.String(), n.ErrorLog())
	}
	return n
}

// NginxPath returns the nginx program's path ($TASKLIST_TEST_NGINX, else
// found on PATH or in /usr/sbin). It skips the test (fails under CI=true)
// without nginx.
func NginxPath(t testing.TB) string {
	t.Helper()
	return findProgram(t, NginxEnv, "nginx", "install nginx or set "+NginxEnv)
}

// Addr is the host:port nginx listens on.
func (n *Nginx) Addr() string { return n.addr }

// ErrorLog returns what nginx has written to its error log (level warn and
// above): why it answered 502, for instance.
func (n *Nginx) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "error.log"))
	return string(b)
}

// PID is the nginx master process's id.
func (n *Nginx) PID() int { return n.proc.PID() }

// Stop asks nginx to finish its requests and exit (SIGQUIT to its master,
// by PID), kills it after 10 s, and waits for it. Stopping twice is fine.
func (n *Nginx) Stop() { n.proc.Stop(syscall.SIGQUIT, 10*time.Second) }
