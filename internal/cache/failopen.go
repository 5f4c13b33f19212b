package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// fail handles err from the backend call op made for the caller's ctx. The
// answers a Backend gives by design (ErrMiss, ErrNotStored, ErrTooLarge,
// ErrInvalid) pass through. Anything else is the backend failing: it is
// returned matching ErrUnavailable and, unless the caller's own context
// ended (the visitor went away; not the cache's fault), counted and logged.
func (c *Cache) fail(ctx context.Context, op string, err error) error {
	switch {
	case errors.Is(err, ErrTooLarge):
		c.counts.Errors.Add(1)
		return err
	case errors.Is(err, ErrMiss), errors.Is(err, ErrNotStored), errors.Is(err, ErrInvalid):
		return err
	}
	if !errors.Is(err, ErrUnavailable) {
		err = fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	err = fmt.Errorf("cache: %s on %s: %w", op, c.b.Name(), err)
	if ctx.Err() == nil {
		c.counts.Errors.Add(1)
		c.errs.record(op, err)
	}
	return err
}

// errKind is what the rate limit of errorLog counts by.
type errKind int

const (
	kindTimeout errKind = iota // the call outlived its timeout
	kindFailure                // anything else: refused, down, broken
	numKinds
)

var kindNames = [numKinds]string{kindTimeout: "timeout", kindFailure: "failure"}

// errorLog logs backend failures: the first of each kind, then at most one
// line per kind per interval, saying how many it left out since the last.
// When the backend is down every request fails, and a line per request
// would drown the log. It is safe for concurrent use.
type errorLog struct {
	logger   *slog.Logger
	interval time.Duration
	now      func() time.Time

	mu    sync.Mutex
	kinds [numKinds]struct {
		logged     bool
		last       time.Time // when the last line was written
		suppressed int       // errors left out since then
	}
}

func (l *errorLog) record(op string, err error) {
	kind := kindFailure
	if errors.Is(err, context.DeadlineExceeded) {
		kind = kindTimeout
	}
	now := l.now()
	l.mu.Lock()
	k := &l.kinds[kind]
	if k.logged && now.Sub(k.last) < l.interval {
		k.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := k.suppressed
	k.logged, k.last, k.suppressed = true, now, 0
	l.mu.Unlock()
	l.logger.Warn("cache: backend failed; serving without the cache",
		"kind", kindNames[kind], "op", op, "err", err, "suppressed", suppressed)
}
