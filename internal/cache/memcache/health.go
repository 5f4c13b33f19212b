package memcache

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// health tracks which servers are up. A server that fails threshold times
// in a row (connection refused, timeout, broken connection, rejected
// credentials) is marked down for backoff: the ring skips it without
// contacting it, so requests for its keys go to the next server at once
// instead of each waiting for a timeout. When backoff has passed, one
// request is let through as a probe; if it succeeds the server is up and
// takes its keys back, if it fails the server stays down for another
// backoff. It is safe for concurrent use.
type health struct {
	threshold int
	backoff   time.Duration
	now       func() time.Time
	log       *slog.Logger // may be nil
	addrs     []string
	servers   []serverHealth
}

type serverHealth struct {
	down     atomic.Bool  // read without the lock on every request
	failures atomic.Int32 // consecutive; written under mu
	mu       sync.Mutex
	retryAt  time.Time // while down: when the next probe may go
}

func newHealth(addrs []string, threshold int, backoff time.Duration, now func() time.Time, log *slog.Logger) *health {
	return &health{
		threshold: threshold, backoff: backoff, now: now, log: log,
		addrs: addrs, servers: make([]serverHealth, len(addrs)),
	}
}

// up reports whether server i is not marked down.
func (h *health) up(i int) bool { return !h.servers[i].down.Load() }

// usable reports whether a request may go to server i: it is up, or it is
// down, its backoff has passed and this request is the probe. A granted
// probe pushes the next one a full backoff away, so that only one request
// at a time waits on a server that may still be dead.
func (h *health) usable(i int) bool {
	s := &h.servers[i]
	if !s.down.Load() {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.down.Load() {
		return true
	}
	now := h.now()
	if now.Before(s.retryAt) {
		return false
	}
	s.retryAt = now.Add(h.backoff)
	return true
}

// success records that server i answered.
func (h *health) success(i int) {
	s := &h.servers[i]
	if !s.down.Load() && s.failures.Load() == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures.Store(0)
	if s.down.Swap(false) && h.log != nil {
		h.log.Info("memcache: server is up again", "server", h.addrs[i])
	}
}

// failure records that server i failed, and marks it down once it has
// failed threshold times in a row; a failed probe keeps it down for
// another backoff.
func (h *health) failure(i int, err error) {
	s := &h.servers[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.failures.Add(1)
	if s.down.Load() || int(n) >= h.threshold {
		s.retryAt = h.now().Add(h.backoff)
		if !s.down.Swap(true) && h.log != nil {
			h.log.Warn("memcache: server marked down", "server", h.addrs[i],
				"failures", n, "retry_in", h.backoff, "error", err)
		}
	}
}
