package testenv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/daemon"
)

// Environment variables naming the programs StartMemcached runs. When unset,
// they are looked up on PATH (saslpasswd2 also in /usr/sbin).
const (
	MemcachedEnv   = "TASKLIST_TEST_MEMCACHED"
	SASLPasswd2Env = "TASKLIST_TEST_SASLPASSWD2"
)

// memcachedStartTimeout bounds how long a starting memcached may take to
// accept connections.
const memcachedStartTimeout = 10 * time.Second

// MemcachedOptions configures StartMemcached. The zero value is a plain
// server with 64 MiB of memory and 1 MiB items, memcached's defaults.
type MemcachedOptions struct {
	// Username and Password, when Username is set, start the server with
	// SASL (-S) and this one user. Such a server speaks only the binary
	// protocol.
	Username, Password string
	// MemoryMB is the memory limit in MiB (-m); 0 means 64.
	MemoryMB int
	// MaxItemSize is the item size limit in bytes (-I); 0 means 1 MiB.
	MaxItemSize int
}

// Memcached is a memcached process owned by one test, listening on its own
// 127.0.0.1 port. The port stays the same across Stop and Start, so a client
// sees a restarted server at the same address. It is stopped when the test
// ends. Its methods are safe for concurrent use.
type Memcached struct {
	t    testing.TB
	addr string
	port int
	bin  string
	opts daemon.MemcachedOptions

	mu   sync.Mutex
	env  []string
	proc *daemon.Process // nil while stopped
	log  string          // memcached's output, for errors
}

// StartMemcached starts a memcached for the test on a free 127.0.0.1 port
// and returns once it accepts connections. It skips the test (or fails it
// under CI=true) when memcached, or for SASL saslpasswd2, is missing.
func StartMemcached(t testing.TB, opts MemcachedOptions) *Memcached {
	t.Helper()
	bin := findProgram(t, MemcachedEnv, "memcached", "install memcached or set "+MemcachedEnv)
	m := &Memcached{t: t, bin: bin, log: filepath.Join(t.TempDir(), "memcached.log"),
		opts: daemon.MemcachedOptions{MemoryMB: opts.MemoryMB, MaxItemSize: opts.MaxItemSize, SASL: opts.Username != ""}}
	if opts.Username != "" {
		m.env = append(os.Environ(), "SASL_CONF_PATH="+saslConfig(t, opts.Username, opts.Password))
	}
	// A free port can be taken by someone else before memcached binds it;
	// try a few.
	var err error
	for range 5 {
		var release func()
		m.addr, release = reservePort(t)
		_, port, _ := net.SplitHostPort(m.addr)
		m.port, _ = strconv.Atoi(port)
		if err = m.start(); err == nil {
			t.Cleanup(release) // after Stop, which is registered next
			t.Cleanup(m.Stop)
			return m
		}
		release()
	}
	t.Fatalf("start memcached: %v", err)
	return nil
}

// Addr returns the server's address, 127.0.0.1:port.
func (m *Memcached) Addr() string { return m.addr }

// Start restarts a stopped server on the same port; it does nothing if the
// server runs. A restarted memcached is empty.
func (m *Memcached) Start() {
	m.t.Helper()
	if err := m.start(); err != nil {
		m.t.Fatalf("restart memcached on %s: %v", m.addr, err)
	}
}

// UseCredentials makes the server, started with SASL, accept only this user
// and password from its next Start on: a server restarted with other
// credentials.
func (m *Memcached) UseCredentials(user, password string) {
	m.t.Helper()
	conf := saslConfig(m.t, user, password)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.env = append(os.Environ(), "SASL_CONF_PATH="+conf)
}

// Stop kills the server (by its own process id) and waits for it to exit; it
// does nothing if the server is stopped.
func (m *Memcached) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc == nil {
		return
	}
	m.proc.Stop(syscall.SIGKILL, memcachedStartTimeout) // SIGKILL also ends a paused process
	m.proc = nil
}

// Pause stops the process with SIGSTOP: it keeps its port and the kernel
// still accepts connections, but nothing answers, like a server that is
// alive but unreachable. It returns once all the server's threads have
// stopped (where /proc shows them). Resume undoes it.
func (m *Memcached) Pause() {
	m.t.Helper()
	pid := m.signal(syscall.SIGSTOP)
	deadline := time.Now().Add(memcachedStartTimeout)
	for !allThreadsStopped(pid) {
		if time.Now().After(deadline) {
			m.t.Fatalf("memcached on %s did not stop within %v", m.addr, memcachedStartTimeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// Resume continues a paused server with SIGCONT.
func (m *Memcached) Resume() { m.signal(syscall.SIGCONT) }

// signal sends sig to the server and returns its process id.
func (m *Memcached) signal(sig syscall.Signal) int {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc == nil {
		m.t.Fatalf("memcached on %s: %v while stopped", m.addr, sig)
	}
	if err := m.proc.Signal(sig); err != nil {
		m.t.Fatalf("memcached on %s: %v: %v", m.addr, sig, err)
	}
	return m.proc.PID()
}

// allThreadsStopped reports whether every thread of process pid is in
// state T (stopped), or that /proc cannot tell.
func allThreadsStopped(pid int) bool {
	stats, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(stats) == 0 {
		return true
	}
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the thread ended
		}
		// The state follows the command name, which is in parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) || b[i+2] != 'T' {
			return false
		}
	}
	return true
}

// start runs memcached on m.addr and waits until it listens there (when
// another process holds the port, memcached exits instead, though the port
// answers).
func (m *Memcached) start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc != nil {
		return nil
	}
	cmd := daemon.MemcachedCommand(m.bin, m.port, m.opts)
	cmd.Env = m.env
	log, err := os.Create(m.log)
	if err != nil {
		return err
	}
	defer log.Close() // the child has its own copy
	cmd.Stdout, cmd.Stderr = log, log
	p, err := daemon.Start(cmd)
	if err != nil {
		return err
	}
	if err := p.WaitListening(m.addr, memcachedStartTimeout); err != nil {
		p.Stop(syscall.SIGKILL, memcachedStartTimeout)
		out, _ := os.ReadFile(m.log)
		return fmt.Errorf("memcached: %w: %s", err, bytes.TrimSpace(out))
	}
	m.proc = p
	return nil
}

// saslConfig writes a SASL configuration and password database holding
// user into a temporary directory and returns the directory. The recipe is
// scripts/memcached-sasl.sh's (its --conf mode), the one operators use to
// start a local MemCachier.
func saslConfig(t testing.TB, user, password string) string {
	t.Helper()
	dir := t.TempDir()
	cmd := SASLScript(t, "--conf", dir, user)
	cmd.Stdin = strings.NewReader(password)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("memcached-sasl.sh --conf: %v: %s", err, out)
	}
	return dir
}

// SASLScript returns a command running scripts/memcached-sasl.sh (of the
// module the test runs in) with args, told where memcached and saslpasswd2
// are. It skips the test (or fails it under CI=true) when they are missing.
func SASLScript(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	memcached := findProgram(t, MemcachedEnv, "memcached", "install memcached or set "+MemcachedEnv)
	saslpasswd2 := findProgram(t, SASLPasswd2Env, "saslpasswd2", "install sasl2-bin or set "+SASLPasswd2Env)
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
	cmd := exec.Command("bash", append([]string{filepath.Join(dir, "scripts", "memcached-sasl.sh")}, args...)...)
	cmd.Env = append(os.Environ(), "MEMCACHED="+memcached, "SASLPASSWD2="+saslpasswd2)
	return cmd
}

// findProgram returns the program named by env, else name on PATH or in
// /usr/sbin, or reports it Unavailable.
func findProgram(t testing.TB, env, name, hint string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := filepath.Join("/usr/sbin", name); isExecutable(p) {
		return p
	}
	Unavailable(t, name, hint)
	return ""
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// reservePort returns a free 127.0.0.1 address and a func that releases
// it. Until then, a lock on a file named after the port, in a directory
// every test process shares, keeps other StartMemcached callers (in this
// or another test binary) from taking the port while its server is
// stopped.
func reservePort(t testing.TB) (addr string, release func()) {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "tasklist-testenv-ports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatalf("reserve a port: %v", err)
	}
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("find a free port: %v", err)
		}
		addr = l.Addr().String()
		l.Close()
		_, port, _ := net.SplitHostPort(addr)
		f, err := os.OpenFile(filepath.Join(dir, port), os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			t.Fatalf("reserve a port: %v", err)
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			return addr, func() { f.Close() }
		}
		f.Close() // another test holds it
	}
	t.Fatal("reserve a port: every free port tried is held by another test")
	return "", nil
}
