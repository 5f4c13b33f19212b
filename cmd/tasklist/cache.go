package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/local"
	"github.com/tasklist/tasklist/internal/cache/memcache"
	"github.com/tasklist/tasklist/internal/config"
	"github.com/tasklist/tasklist/internal/taskcache"
)

// openCache builds the cache the configuration selects: MemCachier (SASL),
// a plain memcached cluster, or the in-process cache. db is the database
// the cached data comes from (its identity names the keys; see
// taskcache.VolatileKeysSent).
func openCache(ctx context.Context, cfg config.Config, log *slog.Logger, db interface{ Identity() string }) (*cache.Cache, error) {
	backend, err := openBackend(ctx, cfg, log, db)
	if err != nil {
		return nil, err
	}
	return cache.New(backend, cache.Options{
		Prefix:     cfg.CachePrefix,
		GetTimeout: cfg.CacheTimeout,
		Logger:     log,
	}), nil
}

// openBackend opens the backend and logs its state (servers and user are in
// the config line). Wrong credentials, and plain servers that turn out to
// need SASL, stop start-up; unreachable servers do not: the app runs
// uncached until they answer.
func openBackend(ctx context.Context, cfg config.Config, log *slog.Logger, db interface{ Identity() string }) (cache.Backend, error) {
	if len(cfg.CacheServers) == 0 {
		b, err := local.New(local.Options{MaxBytes: cfg.LocalCacheBytes})
		if err != nil {
			return nil, err
		}
		log.Info("cache ready", "backend", b.Name())
		return b, nil
	}
	b, err := memcache.New(memcache.Options{
		Servers:  cfg.CacheServers,
		Username: cfg.CacheUsername,
		Password: cfg.CachePassword,
		Timeout:  cfg.CacheTimeout,
		Volatile: taskcache.VolatileKeysSent(cfg.CachePrefix, db),
		Logger:   log,
	})
	if err != nil {
		return nil, err
	}
	verifyCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = b.Verify(verifyCtx)
	cancel()
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

// cacheHealth is the cache's health check: Cache.Ping, which asks every
// server for an answer without reading a key, so that /healthz leaves the
// cache's hit and miss counts as they are.
func cacheHealth(c *cache.Cache) func(context.Context) error { return c.Ping }
