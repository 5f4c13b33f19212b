package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"syscall"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/local"
	"github.com/tasklist/tasklist/internal/cache/memcache"
	"github.com/tasklist/tasklist/internal/config"
	"github.com/tasklist/tasklist/internal/taskcache"
)

// OpenBackend opens the cache backend cfg selects — MemCachier (SASL), a
// plain memcached cluster, or the in-process cache — for data of the
// database db, and logs its state (servers and user are in the config
// line). Wrong credentials, and plain servers that turn out to need SASL,
// are errors; unreachable servers are not: the app runs uncached until
// they answer.
func OpenBackend(ctx context.Context, cfg config.Config, log *slog.Logger, db Database) (cache.Backend, error) {
	if len(cfg.CacheServers) == 0 {
		b, err := local.New(local.Options{MaxBytes: cfg.LocalCacheBytes})
		if err != nil {
			return nil, err
		}
		log.Info("cache ready", "backend", b.Name())
		return b, nil
	}
	opts := memcache.Options{
		Servers:  cfg.CacheServers,
		Username: cfg.CacheUsername,
		Password: cfg.CachePassword,
		Timeout:  cfg.CacheTimeout,
		Volatile: taskcache.VolatileKeysSent(cfg.CachePrefix, db),
		Logger:   log,
	}
	b, err := memcache.New(opts)
	if err != nil {
		return nil, err
	}
	verifyCtx, cancel := context.WithTimeout(ctx, verifyBudget)
	err = b.Verify(verifyCtx) // marks the servers that fail down, so that requests skip them
	cancel()
	if err != nil && opts.Username != "" && !errors.Is(err, memcache.ErrAuth) {
		// Slow or down: a login that timed out says nothing of the password.
		err = verifyServers(ctx, opts, verifyBudget)
	}
	switch {
	case err == nil:
		log.Info("cache ready", "backend", b.Name())
		return b, nil
	case errors.Is(err, memcache.ErrAuth):
		b.Close()
		return nil, fmt.Errorf("cache: %w", err)
	}
	if cfg.CacheUsername == "" {
		// A SASL server does not answer the plain client at all: ask it.
		probeCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		sasl := saslServers(probeCtx, cfg.CacheServers)
		cancel()
		if len(sasl) > 0 {
			b.Close()
			return nil, fmt.Errorf("cache: MEMCACHE_SERVERS %s needs SASL: set MEMCACHIER_SERVERS, MEMCACHIER_USERNAME and MEMCACHIER_PASSWORD instead", strings.Join(sasl, ","))
		}
	}
	log.Warn("memcached servers unreachable: serving from the database; the cache is used once they answer", "backend", b.Name(), "err", err)
	return b, nil
}

// verifyBudget bounds the start-up's check of the memcached servers.
const verifyBudget = 5 * time.Second

// verifyServers checks at start-up that every SASL server answers and takes
// the credentials, giving them up to budget in all, after Client.Verify
// failed within the request timeout (TASKLIST_CACHE_TIMEOUT, 100 ms by
// default). On a loaded machine a connection and its SASL exchange can
// take longer than that, and a login that timed out says nothing about the
// password: taking it for an unreachable server would start the app with
// wrong credentials. So the check runs on a client of its own whose round
// trips may take the whole budget, and one that timed out or was cut is
// tried again while the budget lasts. It returns nil, an error wrapping memcache.ErrAuth for
// rejected credentials, or the last failure (a server refusing
// connections is not waited for: it is down, not slow).
func verifyServers(ctx context.Context, opts memcache.Options, budget time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	opts.Timeout = budget
	opts.Logger = slog.New(slog.DiscardHandler) // the caller reports the outcome
	for {
		v, err := memcache.New(opts)
		if err != nil {
			return err
		}
		err = v.Verify(ctx)
		v.Close()
		if err == nil || errors.Is(err, memcache.ErrAuth) || errors.Is(err, syscall.ECONNREFUSED) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(verifyRetryPause):
		}
	}
}

// verifyRetryPause is the pause between two checks of the servers at
// start-up.
const verifyRetryPause = 200 * time.Millisecond

// cacheHealth is the cache's health check: Cache.Ping, which asks every
// server for an answer without reading a key, so that /healthz leaves the
// cache's hit and miss counts as they are.
func cacheHealth(c *cache.Cache) func(context.Context) error { return c.Ping }
