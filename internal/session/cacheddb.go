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

// cachedDB is the write-through pair ("cached_db"): the database holds
// every session, the cache copies read through a lease (package fill). A
// write goes to the database, then deletes the cached copy — which also
// breaks any lease a reader holds, so a copy read before the write is
// never stored after it. It is safe for concurrent use.
type cachedDB struct {
	c      *cache.Cache
	db     *dbStore
	fill   *fill.Group
	opts   Options
	counts stats.Counter
}

func newCachedDB(c *cache.Cache, db *dbStore, opts Options) *cachedDB {
	return &cachedDB{c: c, db: db, fill: fill.New(c, fill.Options{LeaseTTL: opts.LeaseTTL, Now: opts.Now}), opts: opts}
}

func (s *cachedDB) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	if !validToken(token) {
		return nil, false, nil
	}
	r, err := s.fill.Get(ctx, fill.Spec{
		Key: cacheKey(token),
		// What is left of the session, so the copy never outlives it.
		TTLOf: func(v []byte) time.Duration {
			_, expiry, _ := decode(v)
			return cacheTTL(expiry, s.opts.Now())
		},
		Load: func(ctx context.Context) ([]byte, time.Time, error) {
			b, expiry, found, err := s.db.find(ctx, token)
			if err == nil && !found {
				err = errNoSession
			}
			if err != nil {
				return nil, time.Time{}, err
			}
			return encode(b, expiry), time.Time{}, nil
		},
	})
	switch {
	case errors.Is(err, errNoSession):
		s.counts.Misses.Add(1)
		return nil, false, nil
	case err != nil:
		s.counts.Misses.Add(1)
		return nil, false, err
	}
	if r.Outcome == fill.Hit {
		s.counts.Hits.Add(1)
	} else {
		s.counts.Misses.Add(1)
	}
	reqtrace.From(ctx).Cache(reqtrace.Session, r.Outcome)
	b, expiry, ok := decode(r.Data)
	if !ok || !s.opts.Now().Before(expiry) {
		return nil, false, nil
	}
	return b, true, nil
}

func (s *cachedDB) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if err := s.db.CommitCtx(ctx, token, b, expiry); err != nil {
		s.counts.Errors.Add(1)
		return err
	}
	s.counts.Sets.Add(1)
	s.forget(ctx, token)
	return nil
}

func (s *cachedDB) DeleteCtx(ctx context.Context, token string) error {
	if err := s.db.DeleteCtx(ctx, token); err != nil {
		s.counts.Errors.Add(1)
		return err
	}
	s.counts.Deletes.Add(1)
	s.forget(ctx, token)
	return nil
}

// forget deletes the cached copy of token's session after a database
// write, retrying briefly. If the cache cannot be reached the write stands
// (the database has it); a copy left behind is served until the session's
// next write or its end, which docs/application.md documents.
func (s *cachedDB) forget(ctx context.Context, token string) {
	ctx, cancel := withoutCancel(ctx)
	defer cancel()
	if err := s.c.DeleteRetrying(ctx, cacheKey(token)); err != nil {
		s.counts.Errors.Add(1)
		s.opts.Logger.Warn("session: cached copy not deleted after a write", "err", err)
	}
}

func (s *cachedDB) Counts() stats.Counts { return s.counts.Counts() }
