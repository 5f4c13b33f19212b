package bench

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/tasklist/tasklist/internal/daemon"
)

// memcached is a memcached server the run started on 127.0.0.1 (the run's
// procs stop it).
type memcached struct {
	addr string
}

// startMemcached starts bin on a free 127.0.0.1 port with memMB of memory.
func startMemcached(ps *procs, bin string, memMB int) (*memcached, error) {
	var lastErr error
	for range 5 { // the free port may be taken before memcached binds it
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		_, portStr, _ := net.SplitHostPort(addr)
		port, _ := strconv.Atoi(portStr)
		p, err := ps.start("memcached-"+portStr, daemon.MemcachedCommand(bin, port, daemon.MemcachedOptions{MemoryMB: memMB}))
		if err != nil {
			return nil, err
		}
		if lastErr = p.WaitListening(addr, 10*time.Second); lastErr == nil {
			return &memcached{addr: addr}, nil
		}
		p.stop()
		lastErr = fmt.Errorf("%w: %s", lastErr, p.tail())
	}
	return nil, lastErr
}

// command sends one text-protocol command and returns the reply's lines up
// to and including the one for which last reports true.
func (m *memcached) command(cmd string, last func(string) bool) ([]string, error) {
	c, err := net.DialTimeout("tcp", m.addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		return nil, err
	}
	var lines []string
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		lines = append(lines, line)
		if last(line) {
			return lines, nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("memcached %s: %q: reply ended early", m.addr, cmd)
}

// stats returns memcached's own counters ("stats"): cmd_get, cmd_set,
// get_hits and the rest, by name.
func (m *memcached) stats() (map[string]int64, error) {
	lines, err := m.command("stats", func(l string) bool { return l == "END" || strings.HasSuffix(l, "ERROR") })
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) == 3 && f[0] == "STAT" {
			if n, err := strconv.ParseInt(f[2], 10, 64); err == nil {
				out[f[1]] = n
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("memcached %s: no stats in %q", m.addr, lines)
	}
	return out, nil
}

// flush empties the server ("flush_all").
func (m *memcached) flush() error {
	lines, err := m.command("flush_all", func(string) bool { return true })
	if err == nil && lines[0] != "OK" {
		err = fmt.Errorf("memcached %s: flush_all: %q", m.addr, lines[0])
	}
	return err
}

// opsCounters are memcached's counters of commands a client sent, one
// per key for retrievals: what cacheOps sums.
var opsCounters = []string{"cmd_get", "cmd_set", "cmd_touch", "delete_hits", "delete_misses",
	"incr_hits", "incr_misses", "decr_hits", "decr_misses"}

// cacheOps is how many keys were read, written, touched, deleted or
// counted between two snapshots of stats.
func cacheOps(before, after map[string]int64) int64 {
	var n int64
	for _, k := range opsCounters {
		n += after[k] - before[k]
	}
	return n
}
