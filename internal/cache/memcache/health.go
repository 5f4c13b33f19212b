package memcache

import (
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// maxPending bounds the deletes kept for one down server (see
// health.deferDelete); past it, deletes go to the server again, and fail.
const maxPending = 10000

// health tracks which servers are up. A server that fails threshold times
// in a row (connection refused, timeout, broken connection, rejected
// credentials) is marked down for backoff: the ring skips it without
// contacting it, so requests for its keys go to the next server at once
// instead of each waiting for a timeout. When backoff has passed, one
// request is let through as a probe; if it succeeds the server is up and
// takes its keys back, if it fails the server stays down for another
// backoff. A server marked down comes back only through a probe that
// replays the deletes it missed (see deferDelete and probe), never because
// some request happened to get an answer from it. It is safe for
// concurrent use.
type health struct {
	threshold  int
	backoff    time.Duration
	deferAfter time.Duration
	now        func() time.Time
	log        *slog.Logger // may be nil
	addrs      []string
	servers    []serverHealth
}

type serverHealth struct {
	down     atomic.Bool  // read without the lock on every request
	failures atomic.Int32 // consecutive; written under mu
	// failed counts every failure ever recorded, so that a note held by
	// this server can be known to have lived through no failure (see
	// noteRecord).
	failed  atomic.Uint64
	mu      sync.Mutex
	retryAt time.Time // while down: when the next probe may go
	// failingSince is when the current run of failures began; rejected is
	// set when the server refused the credentials (see markDown).
	failingSince time.Time
	rejected     bool
	// refused is set when the last failure was a refused connection: no
	// memcached was listening, and one may have started since, empty and
	// readable by other instances (see deferDelete).
	refused bool
	// answering is set when the server, marked down, answered since its
	// last failure: deletes go to it again (see deferDelete).
	answering bool
	// pending holds the keys deleted while the server was down, to be
	// deleted on it before it is used again.
	pending map[string]struct{}
	// probing is set while a probe replays (one at a time); replaying while
	// a background replay (see Client.keepReplaying) runs.
	probing, replaying bool
	// note is the note this client stored on other servers, saying that
	// it holds deletes for this one (see Client.note).
	note noteRecord
}

// noteRecord is a note a client stored for a server: until when it lives
// at most, and on which servers, with how many failures each had recorded
// before the store. The note counts (see health.noteValid) while it lives
// and one of its holders has recorded no failure since: a holder that
// failed may have been restarted, empty, or be one that readers cannot
// reach, and then nobody reads the note there.
type noteRecord struct {
	until   time.Time
	holders []noteHolder
}

type noteHolder struct {
	server int
	failed uint64
}

func newHealth(addrs []string, threshold int, backoff, deferAfter time.Duration, now func() time.Time, log *slog.Logger) *health {
	return &health{
		threshold: threshold, backoff: backoff, deferAfter: deferAfter, now: now, log: log,
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

// success records that server i answered. It does not bring a down server
// back: only probe does, after replaying what the server missed; but
// deletes are no longer deferred for it (see deferDelete).
func (h *health) success(i int) {
	s := &h.servers[i]
	if s.failures.Load() == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.down.Load() {
		s.failures.Store(0)
		return
	}
	s.answering = true
}

// deferDelete records key for deletion on server i if it is marked down
// and either noted (see noted: every other instance reading the server's
// volatile keys learns that they may be stale) or known down, and reports
// whether it did: the delete is then as good as done for this process,
// since a probe replays it before the server is used again. Known down
// means failing for deferAfter already (so a write has waited that long for
// it, and given up) or refusing the credentials: the rule for a cluster
// with no other server to hold the note. Until then a delete that fails is
// retried by its caller. It does not record, and reports false, for a
// server that is up, that answered since it last failed (a delete reaches
// it: deferring one would leave it to whoever reads the server before the
// replay), or that already has maxPending keys waiting. startReplay is
// true for the first deferred delete while no background replay runs: the
// caller starts one.
//
// Before it has tried (tried false), a delete for a server that last
// refused the connection is not deferred: a refusal costs nothing, and the
// server may have restarted since, empty, and been filled by an instance
// that brought it back, with a value this delete must remove (a server
// killed and started again: TestDeleteReachesARestartedServer).
func (h *health) deferDelete(i int, key string, tried bool) (deferred, startReplay bool) {
	s := &h.servers[i]
	if !s.down.Load() {
		return false, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !tried && s.refused {
		return false, false
	}
	now := h.now()
	known := s.rejected || now.Sub(s.failingSince) >= h.deferAfter || h.noteValid(s, now)
	if !s.down.Load() || !known || s.answering || len(s.pending) >= maxPending {
		return false, false
	}
	if s.pending == nil {
		s.pending = map[string]struct{}{}
	}
	s.pending[key] = struct{}{}
	startReplay = !s.replaying
	s.replaying = true
	return true, startReplay
}

// needsNote reports whether deletes for server i may be deferred (it is
// marked down, has not answered since its last failure, and has room for
// more) and this client's note for it (see noted) is missing or past half
// its life: the caller stores it again before deferring. With pending set
// it also asks that deletes be waiting for the server: a background replay
// renews the note only while there are.
func (h *health) needsNote(i int, pending bool) bool {
	s := &h.servers[i]
	if !s.down.Load() {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.answering || len(s.pending) >= maxPending || pending && len(s.pending) == 0 {
		return false
	}
	now := h.now()
	return !h.noteValid(s, now.Add(noteTTL/2))
}

// noteValid reports whether the note recorded in s still counts at t: it
// lives until then, and a server holding it has recorded no failure since
// it was stored. The caller holds s.mu.
func (h *health) noteValid(s *serverHealth, t time.Time) bool {
	if !t.Before(s.note.until) {
		return false
	}
	return slices.ContainsFunc(s.note.holders, func(n noteHolder) bool {
		return h.servers[n.server].failed.Load() == n.failed
	})
}

// failedCount returns how many failures server j has recorded, for a note
// about to be stored there (see noted).
func (h *health) failedCount(j int) uint64 { return h.servers[j].failed.Load() }

// noted records that a note for server i, stored at start, is readable on
// holders (with the failures each had recorded before the store) until it
// may expire.
func (h *health) noted(i int, start time.Time, holders []noteHolder) {
	s := &h.servers[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	// memcached counts expiry in whole seconds, and may end an item up to
	// a second early.
	s.note = noteRecord{until: start.Add(noteTTL - 2*time.Second), holders: holders}
}

// replayDone records that the background replay of server i has ended.
func (h *health) replayDone(i int) {
	s := &h.servers[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replaying = false
}

// probe tries to bring server i, marked down, back once its backoff has
// passed (see bringBack), deleting there the keys always returns too; it
// asks for them only then, not on every request that finds the server
// down. Only one request at a time probes a server, and the next waits a
// backoff.
func (h *health) probe(i int, always func() []string, replay func(keys []string) error) bool {
	return h.usable(i) && h.bringBack(i, always(), replay)
}

// bringBack tries to bring server i, marked down, back: replay deletes
// keys on it — first always plus the keys deferred for it, then the ones
// deferred meanwhile — and the server is up once a replay has answered and
// nothing more is left to delete. The first replay runs even with no keys
// (replay then makes a round trip): a server comes back only by answering,
// never because nobody had anything to delete there. It reports whether
// the server is up; false also when another bringBack of the server is
// running.
func (h *health) bringBack(i int, always []string, replay func(keys []string) error) bool {
	s := &h.servers[i]
	s.mu.Lock()
	if !s.down.Load() || s.probing {
		s.mu.Unlock()
		return !s.down.Load()
	}
	s.probing = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.probing = false
		s.mu.Unlock()
	}()
	keys := always
	for contacted := false; ; contacted = true {
		s.mu.Lock()
		for k := range s.pending {
			if !slices.Contains(always, k) {
				keys = append(keys, k)
			}
		}
		s.pending = nil
		if len(keys) == 0 && contacted {
			s.failures.Store(0)
			s.rejected = false
			s.note = noteRecord{} // the next outage needs a note of its own
			s.down.Store(false)
			s.mu.Unlock()
			if h.log != nil {
				h.log.Info("memcache: server is up again", "server", h.addrs[i])
			}
			return true
		}
		s.mu.Unlock()
		if err := replay(keys); err != nil {
			s.mu.Lock()
			if s.pending == nil {
				s.pending = map[string]struct{}{}
			}
			for _, k := range keys { // even past maxPending: none may be lost
				s.pending[k] = struct{}{}
			}
			s.mu.Unlock()
			h.failure(i, err)
			return false
		}
		keys = nil
	}
}

// failure records that server i failed, and marks it down once it has
// failed threshold times in a row; a failed probe keeps it down for
// another backoff.
func (h *health) failure(i int, err error) { h.fail(i, err, false) }

// markDown marks server i down at once, for a failure that no retry will
// change, such as rejected credentials.
func (h *health) markDown(i int, err error) { h.fail(i, err, true) }

func (h *health) fail(i int, err error, now bool) {
	s := &h.servers[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failed.Add(1)
	n := s.failures.Add(1)
	if n == 1 {
		s.failingSince = h.now()
	}
	s.answering = false
	s.refused = errors.Is(err, syscall.ECONNREFUSED)
	s.rejected = s.rejected || now
	if s.down.Load() || int(n) >= h.threshold || now {
		s.retryAt = h.now().Add(h.backoff)
		if !s.down.Swap(true) && h.log != nil {
			h.log.Warn("memcache: server marked down", "server", h.addrs[i],
				"failures", n, "retry_in", h.backoff, "error", err)
		}
	}
}
