package daemon_test

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/daemon"
	"github.com/tasklist/tasklist/internal/testenv"
)

// freeAddr returns a 127.0.0.1 address nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestWaitListening: a process that exits is not taken for a server, nor
// is one when another process holds the port; Stop returns once the
// process has exited, and stopping twice is fine.
func TestWaitListening(t *testing.T) {
	t.Run("exits", func(t *testing.T) {
		p, err := daemon.Start(exec.Command("sh", "-c", "exit 3"))
		if err != nil {
			t.Fatal(err)
		}
		err = p.WaitListening(freeAddr(t), 10*time.Second)
		if err == nil || !strings.Contains(err.Error(), "exit status 3") {
			t.Errorf("WaitListening = %v, want the exit status", err)
		}
	})
	t.Run("another process holds the port", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		p, err := daemon.Start(exec.Command("sleep", "30"))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Stop(syscall.SIGTERM, 10*time.Second)
		if _, err := os.Stat("/proc/net/tcp"); err != nil {
			testenv.Unavailable(t, "/proc/net/tcp", "Linux's /proc tells whose port it is")
		}
		if err := p.WaitListening(l.Addr().String(), 200*time.Millisecond); err == nil {
			t.Error("WaitListening took another process's port for this one's")
		}
	})
	t.Run("stop", func(t *testing.T) {
		p, err := daemon.Start(exec.Command("sleep", "30"))
		if err != nil {
			t.Fatal(err)
		}
		p.Stop(syscall.SIGTERM, 10*time.Second)
		select {
		case <-p.Exited():
		default:
			t.Fatal("Stop returned before the process exited")
		}
		p.Stop(syscall.SIGTERM, 10*time.Second) // stopping twice is fine
	})
}

// TestNginxCommand: the configuration NginxCommand writes, with and
// without a master process, is one nginx accepts (nginx -t), and nginx
// serves from it on the site's address.
func TestNginxCommand(t *testing.T) {
	bin := testenv.NginxPath(t)
	for _, master := range []bool{false, true} {
		dir := t.TempDir()
		addr := freeAddr(t)
		cmd, err := daemon.NginxCommand(bin, daemon.NginxOptions{Dir: dir, Master: master,
			Site: "server { listen " + addr + "; location / { return 204; } }"})
		if err != nil {
			t.Fatal(err)
		}
		check := exec.Command(cmd.Path, append(cmd.Args[1:], "-t")...)
		if out, err := check.CombinedOutput(); err != nil {
			t.Fatalf("master %v: nginx -t: %v\n%s", master, err, out)
		}
		p, err := daemon.Start(cmd)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.WaitListening(addr, 10*time.Second); err != nil {
			t.Errorf("master %v: %v", master, err)
		}
		// As its users stop it: the tests' (with a master) gracefully,
		// the benchmark's (one process) with SIGTERM.
		sig := syscall.SIGTERM
		if master {
			sig = syscall.SIGQUIT
		}
		start := time.Now()
		p.Stop(sig, 10*time.Second)
		t.Logf("master %v: stopped with %v in %v", master, sig, time.Since(start).Round(time.Millisecond))
	}
}
