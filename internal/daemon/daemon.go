// Package daemon starts the programs that tasklist's tests and its
// benchmark run beside the app, nginx and memcached, as child processes
// listening on 127.0.0.1: their command lines and configuration, and their
// start and stop. A process is stopped by its own process id, never by
// name, so nothing the caller did not start is touched.
//
// The tests (package testenv) and the benchmark command (package bench)
// both start these programs; this package is what they share, so that one
// configuration is tested and measured. It takes no testing.TB: callers
// report errors their own way.
package daemon

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Process is a started program. Its methods are safe for concurrent use.
type Process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // the exit status, once exited is closed
}

// Start starts cmd, whose output and environment the caller has set, and
// watches for its exit.
func Start(cmd *exec.Cmd) (*Process, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// PID is the process's id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Err is the process's exit status; call it once Exited is closed.
func (p *Process) Err() error {
	<-p.exited
	return p.err
}

// Signal sends sig to the process, by its id.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Stop sends sig to the process (by its id), kills it if it has not exited
// after grace, and returns once it has exited. Stopping a process that has
// exited does nothing.
func (p *Process) Stop(sig os.Signal, grace time.Duration) {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(grace):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// WaitListening returns once the process listens on addr, a 127.0.0.1
// address: per Linux's /proc where it can tell, so that another process
// holding the port (which makes the program exit instead) is not taken
// for it; elsewhere, once the port accepts connections. It fails when the
// process exits first (the error wraps its exit status) or timeout passes.
func (p *Process) WaitListening(addr string, timeout time.Duration) error {
	_, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("daemon: port of %s: %w", addr, err)
	}
	for deadline := time.Now().Add(timeout); ; {
		if listening(p.PID(), addr, port) {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("daemon: the process exited (%v) before it listened on %s", p.err, addr)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("daemon: nothing listens on %s after %v", addr, timeout)
		}
	}
}

// listening reports whether process pid listens on addr (port is its
// port): from /proc where it can tell, else whether addr accepts
// connections.
func listening(pid int, addr string, port int) bool {
	if owns, known := listensOn(pid, port); known {
		return owns
	}
	c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// listensOn reports whether process pid has a socket listening on
// 127.0.0.1:port, per Linux's /proc; known is false where /proc cannot
// tell.
func listensOn(pid, port int) (owns, known bool) {
	table, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return false, false
	}
	local := fmt.Sprintf("0100007F:%04X", port)
	inodes := map[string]bool{}
	for _, line := range strings.Split(string(table), "\n") {
		// sl local_address rem_address st ... uid timeout inode
		if f := strings.Fields(line); len(f) > 9 && f[1] == local && f[3] == "0A" {
			inodes["socket:["+f[9]+"]"] = true
		}
	}
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(fdDir)
	if err != nil {
		return false, false
	}
	for _, fd := range fds {
		if link, err := os.Readlink(filepath.Join(fdDir, fd.Name())); err == nil && inodes[link] {
			return true, true
		}
	}
	return false, true
}

// NginxOptions configure NginxCommand.
type NginxOptions struct {
	// Dir is nginx's prefix (-p): its configuration, pid file, error log
	// and temporary files go there, and relative paths in Site start there.
	Dir string
	// Site is the configuration of the http block: the servers, which must
	// listen on 127.0.0.1 ports.
	Site string
	// Master runs a master process and one worker, which SIGQUIT stops
	// gracefully; without it one process serves, so that its memory is
	// nginx's.
	Master bool
}

// NginxCommand writes nginx's main configuration into o.Dir (nginx.conf,
// including o.Site from site.conf) and returns the command that runs bin
// in the foreground with it: one worker, access logging off, errors in
// o.Dir/error.log. Run as root, the worker runs as root too, so that it
// can read files in the caller's directories.
func NginxCommand(bin string, o NginxOptions) (*exec.Cmd, error) {
	siteFile := filepath.Join(o.Dir, "site.conf")
	if err := os.WriteFile(siteFile, []byte(o.Site), 0o644); err != nil {
		return nil, err
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root root;"
	}
	master := "off"
	if o.Master {
		master = "on"
	}
	main := fmt.Sprintf(`daemon off;
master_process %[1]s;
worker_processes 1;
%[2]s
pid %[3]s/nginx.pid;
error_log %[3]s/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path %[3]s/client_body;
	proxy_temp_path %[3]s/proxy;
	fastcgi_temp_path %[3]s/fastcgi;
	uwsgi_temp_path %[3]s/uwsgi;
	scgi_temp_path %[3]s/scgi;
	include %[4]s;
}
`, master, user, o.Dir, siteFile)
	mainFile := filepath.Join(o.Dir, "nginx.conf")
	if err := os.WriteFile(mainFile, []byte(main), 0o644); err != nil {
		return nil, err
	}
	return exec.Command(bin, "-p", o.Dir, "-c", mainFile), nil
}

// MemcachedOptions configure MemcachedCommand. The zero value is a plain
// server with memcached's defaults: 64 MiB of memory, 1 MiB items.
type MemcachedOptions struct {
	// MemoryMB is the memory limit in MiB (-m); 0 means 64.
	MemoryMB int
	// MaxItemSize is the item size limit in bytes (-I); 0 means 1 MiB.
	MaxItemSize int
	// SASL requires SASL authentication (-S), with the users of the
	// configuration that SASL_CONF_PATH in the command's environment names.
	// Such a server speaks only the binary protocol.
	SASL bool
}

// MemcachedCommand returns the command that runs bin on 127.0.0.1:port,
// TCP only.
func MemcachedCommand(bin string, port int, o MemcachedOptions) *exec.Cmd {
	mem, item := o.MemoryMB, o.MaxItemSize
	if mem == 0 {
		mem = 64
	}
	if item == 0 {
		item = 1 << 20
	}
	args := []string{"-l", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "0", "-m", strconv.Itoa(mem), "-I", strconv.Itoa(item)}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "root") // memcached refuses root without -u
	}
	if o.SASL {
		args = append(args, "-S")
	}
	return exec.Command(bin, args...)
}
