package session

import (
	"context"
	"errors"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/fill"
	"github.com/tasklist/tasklist/internal/reqtrace"
	"github.com/tasklist/tasklist/internal/stats"
)

// cacheStore keeps sessions in the cache alone ("cache"). A cache failure
// loses the session (that is what this engine is for) and is counted and
// logged, never returned: it must not fail the request. It is safe for
// concurrent use.
type cacheStore struct {
	c      *cache.Cache
	opts   Options
	counts stats.Counter
}

func (s *cacheStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	if !validToken(token) {
		return nil, false, nil
	}
	it, err := s.c.Get(ctx, cacheKey(token))
	if err != nil {
		s.miss(err)
		reqtrace.From(ctx).Cache(reqtrace.Session, fill.Miss)
		return nil, false, nil
	}
	b, expiry, ok := decode(it.Value)
	if !ok || !s.opts.Now().Before(expiry) {
		s.counts.Misses.Add(1)
		reqtrace.From(ctx).Cache(reqtrace.Session, fill.Miss)
		return nil, false, nil
	}
	s.counts.Hits.Add(1)
	reqtrace.From(ctx).Cache(reqtrace.Session, fill.Hit)
	return b, true, nil
}

func (s *cacheStore) miss(err error) {
	s.counts.Misses.Add(1)
	if !errors.Is(err, cache.ErrMiss) {
		s.counts.Errors.Add(1)
	}
}

func (s *cacheStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	ctx, cancel := withoutCancel(ctx)
	defer cancel()
	ttl := cacheTTL(expiry, s.opts.Now())
	if ttl <= 0 {
		return s.DeleteCtx(ctx, token)
	}
	if err := s.c.Set(ctx, cache.Item{Key: cacheKey(token), Value: encode(b, expiry), TTL: ttl}); err != nil {
		s.counts.Errors.Add(1)
		s.opts.Logger.Warn("session: not stored in the cache; the visitor's session is lost", "err", err)
		return nil
	}
	s.counts.Sets.Add(1)
	return nil
}

func (s *cacheStore) DeleteCtx(ctx context.Context, token string) error {
	ctx, cancel := withoutCancel(ctx)
	defer cancel()
	if err := s.c.Delete(ctx, cacheKey(token)); err != nil {
		s.counts.Errors.Add(1)
		s.opts.Logger.Warn("session: delete from the cache failed", "err", err)
		return nil
	}
	s.counts.Deletes.Add(1)
	return nil
}

func (s *cacheStore) Counts() stats.Counts { return s.counts.Counts() }
