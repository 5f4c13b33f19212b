package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/local"
	"github.com/tasklist/tasklist/internal/cache/memcache"
	"github.com/tasklist/tasklist/internal/config"
)

// openCache builds the cache the configuration selects: MemCachier (SASL),
// a plain memcached cluster, or the in-process cache. Wrong credentials stop
// start-up; unreachable servers do not: the app runs uncached until they
// answer.
func openCache(ctx context.Context, cfg config.Config, log *slog.Logger) (*cache.Cache, error) {
	var backend cache.Backend
	if len(cfg.CacheServers) == 0 {
		b, err := local.New(local.Options{MaxBytes: cfg.LocalCacheBytes})
		if err != nil {
			return nil, err
		}
		backend = b
	} else {
		b, err := memcache.New(memcache.Options{
			Servers:  cfg.CacheServers,
			Username: cfg.CacheUsername,
			Password: cfg.CachePassword,
			Timeout:  cfg.CacheTimeout,
			Logger:   log,
		})
		if err != nil {
			return nil, err
		}
		verifyCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = b.Verify(verifyCtx)
		cancel()
		switch {
		case errors.Is(err, memcache.ErrAuth):
			b.Close()
			return nil, fmt.Errorf("cache: %w", err)
		case err != nil:
			log.Warn("memcached servers unreachable; serving from the database until they answer", "err", err)
		}
		backend = b
	}
	log.Info("cache ready", "backend", backend.Name()) // servers and user are in the config line
	return cache.New(backend, cache.Options{
		Prefix:     cfg.CachePrefix,
		GetTimeout: cfg.CacheTimeout,
		Logger:     log,
	}), nil
}

// cacheHealth is the cache's health check: Cache.Ping, which asks every
// server for an answer without reading a key, so that /healthz leaves the
// cache's hit and miss counts as they are.
func cacheHealth(c *cache.Cache) func(context.Context) error { return c.Ping }
