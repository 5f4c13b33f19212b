package app

import (
	"log/slog"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/config"
	"github.com/tasklist/tasklist/internal/session"
	"github.com/tasklist/tasklist/internal/sqldb"
)

// SessionCookie names the session cookie.
const SessionCookie = "tasklist_session"

// sessionManager builds the visitors' sessions on the store
// TASKLIST_SESSION_ENGINE names. Without a cache (TASKLIST_CACHE_LAYERS=none)
// the engines that use one fall back to the database, so that "none" reads
// and writes no cache at all.
func sessionManager(cfg config.Config, c *cache.Cache, db *sqldb.DB, leaseTTL time.Duration, log *slog.Logger) (*scs.SessionManager, session.Store, error) {
	engine := cfg.SessionEngine
	if c == nil && engine != session.DB {
		log.Warn("no cache: sessions are kept in the database", "engine", session.DB, "configured", engine)
		engine = session.DB
	}
	st, err := session.New(engine, c, db, session.Options{Logger: log, LeaseTTL: leaseTTL, IdleTimeout: cfg.SessionIdle})
	if err != nil {
		return nil, nil, err
	}
	m := scs.New()
	m.Store = st
	m.Lifetime = cfg.SessionLifetime
	m.Cookie.Name = SessionCookie
	m.Cookie.Secure = cfg.SecureCookies
	return m, st, nil
}
