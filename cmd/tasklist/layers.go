package main

import (
	"context"
	"log/slog"

	"github.com/tasklist/tasklist/internal/cache/fill"
	"github.com/tasklist/tasklist/internal/config"
	"github.com/tasklist/tasklist/internal/sqldb"
	"github.com/tasklist/tasklist/internal/taskcache"
	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/web"
)

// webConfig wires the caching layers that cfg turns on between the web
// server and the store, and the visitors' sessions. With no layer on there
// is no cache at all: not opened, never read or written. The returned func
// closes the cache.
func webConfig(ctx context.Context, cfg config.Config, log *slog.Logger, db *sqldb.DB, store *tasks.Store) (web.Config, func(), error) {
	wc := web.Config{
		Tasks:       store,
		Logger:      log,
		PageSize:    cfg.PageSize,
		Health:      []web.HealthCheck{{Name: "database", Critical: true, Check: store.Ping}},
		SessionIdle: cfg.SessionIdle,

		AllowedHosts: cfg.AllowedHosts,
	}
	// A lease must outlive the slow query it covers, and a page or
	// fragment render includes that query.
	lease := fill.LeaseTTL(cfg.SlowQuery)
	if !cfg.Layers.Any() {
		log.Info("caching is off (TASKLIST_CACHE_LAYERS=none)")
		var err error
		wc.Sessions, _, err = sessionManager(cfg, nil, db, lease, log)
		return wc, func() {}, err
	}
	c, err := openCache(ctx, cfg, log)
	if err != nil {
		return web.Config{}, nil, err
	}
	cached, err := taskcache.New(store, c, taskcache.Options{
		Strategy: cfg.Invalidation,
		TTL:      cfg.CacheTTL,
		MaxAge:   cfg.CacheMaxAge,
		Uncached: !cfg.Layers.Query,
		LeaseTTL: lease,
		Logger:   log,
	})
	if err != nil {
		c.Close()
		return web.Config{}, nil, err
	}
	wc.Tasks = cached
	wc.Cache = c
	wc.Versions = cached
	wc.Fragments = cfg.Layers.Fragment
	wc.Pages = cfg.Layers.Page
	wc.CacheTTL = cfg.CacheMaxAge
	wc.LeaseTTL = lease
	wc.Health = append(wc.Health, web.HealthCheck{Name: "cache", Check: cacheHealth(c)})
	if wc.Sessions, _, err = sessionManager(cfg, c, db, lease, log); err != nil {
		c.Close()
		return web.Config{}, nil, err
	}
	return wc, func() { c.Close() }, nil
}
