package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// NginxEnv names the nginx binary the tests use (scripts/test.sh sets it);
// unset, nginx is looked up on PATH and in /usr/sbin.
const NginxEnv = "TASKLIST_TEST_NGINX"

// Nginx is an nginx process a test started. It is safe for concurrent use.
type Nginx struct {
	addr string
	dir  string // its prefix: configuration, pid file, logs
	cmd  *exec.Cmd
	done chan struct{}
}

// StartNginx runs nginx in the foreground with a main configuration of its
// own (pid file, logs and temporary files in the test's directory, one
// worker) whose http block holds site(listen), the configuration of a server
// that must listen on listen, a free 127.0.0.1 address. It waits until that
// address accepts connections and stops nginx, by its PID, when the test
// ends. It skips the test (fails under CI=true) without nginx.
func StartNginx(t testing.TB, site func(listen string) string) *Nginx {
	t.Helper()
	bin := findProgram(t, NginxEnv, "nginx", "install nginx or set "+NginxEnv)
	dir := t.TempDir()
	addr, release := reservePort(t)
	siteFile := filepath.Join(dir, "site.conf")
	if err := os.WriteFile(siteFile, []byte(site(addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root root;" // workers must read the test's directory
	}
	main := fmt.Sprintf(`daemon off;
master_process on;
worker_processes 1;
%s
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path %[2]s/client_body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	include %[3]s;
}
`, user, dir, siteFile)
	mainFile := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(mainFile, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	release()
	n := &Nginx{addr: addr, dir: dir, cmd: exec.Command(bin, "-p", dir, "-c", mainFile), done: make(chan struct{})}
	var out LockedBuffer
	n.cmd.Stdout, n.cmd.Stderr = &out, &out
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	go func() { n.cmd.Wait(); close(n.done) }()
	t.Cleanup(n.Stop)
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return n
		}
		select {
		case <-n.done:
			t.Fatalf("nginx exited: %s%s", out.String(), n.ErrorLog())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx does not accept connections on %s after 10 s: %s", addr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
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
func (n *Nginx) PID() int { return n.cmd.Process.Pid }

// Stop asks nginx to finish its requests and exit (SIGQUIT to its master,
// by PID), kills it after 10 s, and waits for it. Stopping twice is fine.
func (n *Nginx) Stop() {
	select {
	case <-n.done:
		return
	default:
	}
	n.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
	}
}
