package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/fill"
	"github.com/tasklist/tasklist/internal/config"
	"github.com/tasklist/tasklist/internal/dbstats"
	"github.com/tasklist/tasklist/internal/session"
	"github.com/tasklist/tasklist/internal/sqldb"
	"github.com/tasklist/tasklist/internal/stats"
	"github.com/tasklist/tasklist/internal/taskcache"
	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/web"
)

// webConfig wires the caching layers that cfg turns on between the web
// server and the store, the visitors' sessions, and the counters the
// statistics routes show. With no layer on there is no cache at all: not
// opened, never read or written. The returned func closes the cache.
func webConfig(ctx context.Context, cfg config.Config, log *slog.Logger, db *sqldb.DB, store *tasks.Store) (web.Config, func(), error) {
	// Every query is counted and timed, whichever layer asks for it.
	counted := dbstats.New(store)
	wc := web.Config{
		Tasks:       counted,
		Logger:      log,
		PageSize:    cfg.PageSize,
		Health:      []web.HealthCheck{{Name: "database", Critical: true, Check: store.Ping}},
		SessionIdle: cfg.SessionIdle,

		AllowedHosts: cfg.AllowedHosts,

		Queries:       counted,
		StatsUser:     cfg.StatsUser,
		StatsPassword: cfg.StatsPassword,
	}
	// A lease must outlive the slow query it covers, and a page or
	// fragment render includes that query.
	lease := fill.LeaseTTL(cfg.SlowQuery)
	wc.StatsLayers = map[string]stats.Layer{}
	// addSessions sets the sessions, kept with the cache c (nil: none), and
	// shows their counters as the session layer.
	addSessions := func(c *cache.Cache) error {
		m, st, err := sessionManager(cfg, c, db, lease, log)
		if err != nil {
			return err
		}
		wc.Sessions, wc.StatsLayers["session"] = m, sessionLayer(st)
		return nil
	}
	if !cfg.Layers.Any() {
		log.Info("caching is off (TASKLIST_CACHE_LAYERS=none)")
		err := addSessions(nil)
		return wc, func() {}, err
	}
	c, err := openCache(ctx, cfg, log, store)
	if err != nil {
		return web.Config{}, nil, err
	}
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
	// Each instance checks the cache against the database every
	// TASKLIST_CACHE_TTL: one small query, for the changes no write of
	// tasklist's invalidated (docs/caching.md).
	go cached.Run(ctx)
	wc.Tasks = cached
	if cfg.Layers.Query {
		wc.StatsLayers["query"] = cached
	}
	wc.Cache = c
	wc.Versions = cached
	wc.Fragments = cfg.Layers.Fragment
	wc.Pages = cfg.Layers.Page
	wc.CacheTTL = cfg.CacheMaxAge
	wc.LeaseTTL = lease
	wc.Health = append(wc.Health, web.HealthCheck{Name: "cache", Check: cacheHealth(c)})
	if err := addSessions(c); err != nil {
		c.Close()
		return web.Config{}, nil, err
	}
	return wc, func() { c.Close() }, nil
}

// sessionLayer shows the session store's counters as the session layer's.
func sessionLayer(st session.Store) stats.Layer {
	return stats.LayerFunc(func() stats.Counts { return stats.Counts(st.Stats()) })
}

// checkNames checks the configuration's names that the packages owning
// them define — the strategy and the session engine — as config checks the
// rest, so that every error of the configuration is reported at once.
func checkNames(cfg config.Config) error {
	var errs []error
	if _, err := taskcache.ParseStrategy(cfg.Invalidation); err != nil {
		errs = append(errs, fmt.Errorf("config: TASKLIST_INVALIDATION=%q: %w", cfg.Invalidation, err))
	}
	if err := session.CheckEngine(cfg.SessionEngine); err != nil {
		errs = append(errs, fmt.Errorf("config: TASKLIST_SESSION_ENGINE=%q: %w", cfg.SessionEngine, err))
	}
	return errors.Join(errs...)
}
