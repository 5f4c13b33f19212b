package main

import (
	"context"
	"log/slog"

	"github.com/tasklist/tasklist/internal/cache/fill"
	"github.com/tasklist/tasklist/internal/config"
	"github.com/tasklist/tasklist/internal/dbstats"
	"github.com/tasklist/tasklist/internal/stats"
	"github.com/tasklist/tasklist/internal/taskcache"
	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/web"
)

// webConfig wires the caching layers that cfg turns on between the web
// server and the store, and their counters to the statistics routes. With
// no layer on there is no cache at all: not opened, never read or written.
// The returned func closes the cache.
func webConfig(ctx context.Context, cfg config.Config, log *slog.Logger, store *tasks.Store) (web.Config, func(), error) {
	// Every query is counted and timed, whichever layer asks for it.
	counted := dbstats.New(store)
	wc := web.Config{
		Tasks:    counted,
		Logger:   log,
		PageSize: cfg.PageSize,
		Health:   []web.HealthCheck{{Name: "database", Critical: true, Check: store.Ping}},

		AllowedHosts: cfg.AllowedHosts,

		Queries:       counted,
		StatsUser:     cfg.StatsUser,
		StatsPassword: cfg.StatsPassword,
	}
	if !cfg.Layers.Any() {
		log.Info("caching is off (TASKLIST_CACHE_LAYERS=none)")
		return wc, func() {}, nil
	}
	c, err := openCache(ctx, cfg, log)
	if err != nil {
		return web.Config{}, nil, err
	}
	// A lease must outlive the slow query it covers, and a page or
	// fragment render includes that query.
	lease := fill.LeaseTTL(cfg.SlowQuery)
	cached, err := taskcache.New(counted, c, taskcache.Options{
		Strategy: taskcache.Strategy(cfg.Invalidation),
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
	if cfg.Layers.Query {
		wc.StatsLayers = map[string]stats.Layer{"query": cached}
	}
	wc.Cache = c
	wc.Versions = cached
	wc.Fragments = cfg.Layers.Fragment
	wc.Pages = cfg.Layers.Page
	wc.CacheTTL = cfg.CacheMaxAge
	wc.LeaseTTL = lease
	wc.Health = append(wc.Health, web.HealthCheck{Name: "cache", Check: cacheHealth(c)})
	return wc, func() { c.Close() }, nil
}
