package tasks

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Dialect names the SQL database a Store talks to.
type Dialect string

// The supported dialects.
const (
	SQLite   Dialect = "sqlite"
	MySQL    Dialect = "mysql"
	Postgres Dialect = "postgres"
)

// DefaultURL is the database used when DATABASE_URL is empty: an SQLite file
// in the working directory, so the app runs with no configuration.
const DefaultURL = "sqlite:tasklist.db"

// target is a parsed DATABASE_URL: which driver to open and with what.
type target struct {
	dialect Dialect
	driver  string
	dsn     string
}

// parseURL turns a DATABASE_URL into a driver and DSN. Accepted forms:
//
//	sqlite:///abs/path.db, sqlite:relative.db, file:x.db, or a bare file path
//	mysql://user:pass@host:port/db (also mariadb://)
//	postgres://user:pass@host:port/db?sslmode=disable (also postgresql://)
//
// Errors never include the password.
func parseURL(raw string) (target, error) {
	if raw == "" {
		raw = DefaultURL
	}
	scheme, rest, hasScheme := strings.Cut(raw, ":")
	if !hasScheme || strings.ContainsAny(scheme, `/\.`) {
		return sqliteTarget(raw)
	}
	switch strings.ToLower(scheme) {
	case "sqlite", "sqlite3", "file":
		return sqliteTarget(strings.TrimPrefix(rest, "//"))
	case "postgres", "postgresql":
		if _, err := url.Parse(raw); err != nil {
			return target{}, fmt.Errorf("tasks: DATABASE_URL is not a valid postgres URL")
		}
		return target{dialect: Postgres, driver: "pgx", dsn: raw}, nil
	case "mysql", "mariadb":
		return mysqlTarget(raw)
	}
	return target{}, fmt.Errorf("tasks: DATABASE_URL scheme %q is not sqlite, mysql or postgres", scheme)
}

func sqliteTarget(path string) (target, error) {
	path, query, _ := strings.Cut(path, "?")
	if path == "" {
		return target{}, fmt.Errorf("tasks: DATABASE_URL names no SQLite file")
	}
	// WAL lets readers run beside a writer; busy_timeout makes writers from
	// several connections (or several instances) queue instead of failing.
	params := url.Values{}
	params.Add("_pragma", "journal_mode(WAL)")
	params.Add("_pragma", "busy_timeout(10000)")
	params.Add("_pragma", "foreign_keys(ON)")
	params.Set("_time_format", "sqlite")
	if query != "" {
		extra, err := url.ParseQuery(query)
		if err != nil {
			return target{}, fmt.Errorf("tasks: DATABASE_URL query: %w", err)
		}
		for k, vs := range extra {
			params[k] = append(params[k], vs...)
		}
	}
	return target{dialect: SQLite, driver: "sqlite", dsn: "file:" + path + "?" + params.Encode()}, nil
}

func mysqlTarget(raw string) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, fmt.Errorf("tasks: DATABASE_URL is not a valid mysql URL")
	}
	cfg := mysql.NewConfig()
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.Net = "tcp"
	cfg.Addr = u.Host
	if u.Port() == "" {
		cfg.Addr = u.Hostname() + ":3306"
	}
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.Params = map[string]string{}
	for k, vs := range u.Query() {
		cfg.Params[k] = vs[len(vs)-1]
	}
	if cfg.DBName == "" {
		return target{}, fmt.Errorf("tasks: DATABASE_URL names no mysql database")
	}
	return target{dialect: MySQL, driver: "mysql", dsn: cfg.FormatDSN()}, nil
}
