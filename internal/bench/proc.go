package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tasklist/tasklist/internal/daemon"
)

// stopGrace is how long a process gets to exit after SIGTERM before it is
// killed.
const stopGrace = 10 * time.Second

// procs starts the processes of one run and stops them: each by its own
// process id, never by name, so nothing the run did not start is touched.
// It is safe for concurrent use.
type procs struct {
	logDir string

	mu      sync.Mutex
	running map[int]*proc
}

func newProcs(logDir string) *procs {
	return &procs{logDir: logDir, running: map[int]*proc{}}
}

// proc is one started process; its output goes to a log file.
type proc struct {
	*daemon.Process
	name string
	log  string
}

// start runs cmd with exactly the environment it has (plus PATH and HOME),
// its output in the run's log folder under name.
func (ps *procs) start(name string, cmd *exec.Cmd) (*proc, error) {
	logPath := filepath.Join(ps.logDir, name+".log")
	out, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, cmd.Env...)
	cmd.Stdout, cmd.Stderr = out, out
	dp, err := daemon.Start(cmd)
	if err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{Process: dp, name: name, log: logPath}
	ps.mu.Lock()
	ps.running[p.PID()] = p
	ps.mu.Unlock()
	go func() {
		<-p.Exited()
		out.Close()
		ps.mu.Lock()
		delete(ps.running, p.PID())
		ps.mu.Unlock()
	}()
	return p, nil
}

// stop sends SIGTERM, and SIGKILL after stopGrace; it returns once the
// process has exited.
func (p *proc) stop() { p.Stop(syscall.SIGTERM, stopGrace) }

// stopAll stops every process still running.
func (ps *procs) stopAll() {
	ps.mu.Lock()
	var all []*proc
	for _, p := range ps.running {
		all = append(all, p)
	}
	ps.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range all {
		wg.Go(p.stop)
	}
	wg.Wait()
}

// tail returns the end of the process's log, for error messages.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// clockTick is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// cpuTime returns the CPU time the process has used, user and system, from
// /proc (0 when it cannot be read).
func (p *proc) cpuTime() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.PID()))
	if err != nil {
		return 0
	}
	// The fields after the command's name, which is in parentheses and may
	// hold spaces and parentheses: state is the first; utime and stime the
	// 12th and 13th.
	stat := string(b)
	f := strings.Fields(stat[strings.LastIndexByte(stat, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * clockTick
}

// peakRSS returns the process's peak resident set size in bytes (VmHWM in
// /proc), 0 when it cannot be read.
func (p *proc) peakRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.PID()))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// waitReady polls url until it answers 200, the process exits, or
// timeout passes.
func (p *proc) waitReady(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.Exited():
			return fmt.Errorf("%s exited before it was ready: %v\n%s", p.name, p.Err(), p.tail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready at %s within %v\n%s", p.name, url, timeout, p.tail())
		}
	}
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment
// ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// errSkipped reports a part of the run that could not happen here (a
// database that does not answer, a program that is missing).
var errSkipped = errors.New("bench: skipped")
