package sqldb

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// target is a parsed DATABASE_URL: which driver to open and with what.
type target struct {
	dialect Dialect
	driver  string
	dsn     string
	// file is the SQLite database file, "" for the others and for an
	// in-memory SQLite database.
	file string
	// server (host:port), user and database name a MySQL or PostgreSQL
	// database in errors.
	server, user, database string
}

// parseURL turns a DATABASE_URL into a driver and DSN; see Open for the
// forms it accepts. Errors never include the password.
func parseURL(raw string, opts Options) (target, error) {
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
		return postgresTarget(raw)
	case "mysql", "mariadb":
		return mysqlTarget(raw, opts)
	}
	return target{}, fmt.Errorf("sqldb: DATABASE_URL scheme %q is not sqlite, mysql or postgres", scheme)
}

func sqliteTarget(path string) (target, error) {
	path, query, _ := strings.Cut(path, "?")
	if path == "" {
		return target{}, fmt.Errorf("sqldb: DATABASE_URL names no SQLite file")
	}
	// WAL lets readers run beside a writer; busy_timeout makes writers from
	// several connections (or several instances) queue instead of failing,
	// and _txlock=immediate makes them queue at BEGIN, where the wait
	// works (see DB.Write); read-only transactions stay deferred.
	params := url.Values{}
	params.Add("_pragma", "journal_mode(WAL)")
	params.Add("_pragma", "busy_timeout(10000)")
	params.Add("_pragma", "foreign_keys(ON)")
	params.Set("_time_format", "sqlite")
	params.Set("_txlock", "immediate")
	if query != "" {
		extra, err := url.ParseQuery(query)
		if err != nil {
			return target{}, fmt.Errorf("sqldb: DATABASE_URL query: %w", err)
		}
		for k, vs := range extra {
			params[k] = append(params[k], vs...)
		}
	}
	t := target{dialect: SQLite, driver: "sqlite", dsn: "file:" + path + "?" + params.Encode(), file: path}
	if path == ":memory:" || params.Get("mode") == "memory" {
		t.file = ""
	}
	return t, nil
}

func mysqlTarget(raw string, opts Options) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, fmt.Errorf("sqldb: DATABASE_URL is not a valid mysql URL")
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
	// The driver sends COMMIT and ROLLBACK without a context: these bound
	// them, and any other read or write, should the server stall.
	cfg.ReadTimeout = opts.Timeout
	cfg.WriteTimeout = opts.Timeout
	cfg.Params = map[string]string{}
	for k, vs := range u.Query() {
		cfg.Params[k] = vs[len(vs)-1]
	}
	if cfg.DBName == "" {
		return target{}, fmt.Errorf("sqldb: DATABASE_URL names no mysql database")
	}
	return target{dialect: MySQL, driver: "mysql", dsn: cfg.FormatDSN(), server: cfg.Addr, user: cfg.User, database: cfg.DBName}, nil
}

// sslModes are the values of a postgres URL's sslmode, as libpq and pgx
// know them.
var sslModes = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

func postgresTarget(raw string) (target, error) {
	u, uerr := url.Parse(raw)
	if uerr == nil {
		for _, mode := range u.Query()["sslmode"] {
			if !slices.Contains(sslModes, mode) {
				return target{}, fmt.Errorf("sqldb: DATABASE_URL is not a valid postgres URL: sslmode=%s: unknown value, expected one of %s", mode, strings.Join(sslModes, ", "))
			}
		}
	}
	// pgx's own parser, so that errors name what pgx will connect to, with
	// its defaults (port 5432, the PG* variables).
	cfg, err := pgconn.ParseConfig(raw)
	if err != nil {
		return target{}, fmt.Errorf("sqldb: DATABASE_URL is not a valid postgres URL%s", parseReason(err, u, uerr))
	}
	// Without a database, PostgreSQL would pick the one named like the
	// user: refuse the guess, as for mysql.
	if cfg.Database == "" {
		return target{}, fmt.Errorf("sqldb: DATABASE_URL names no postgres database")
	}
	server := net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	return target{dialect: Postgres, driver: "pgx", dsn: raw, server: server, user: cfg.User, database: cfg.Database}, nil
}

// parseReason is why pgx could not parse a postgres URL, as ": reason", or
// "" when it might show the password: pgx's message quotes the URL with the
// password hidden, and that part is left out; what follows is shown only
// when the URL parsed (u, uerr) and its password is not in it.
func parseReason(err error, u *url.URL, uerr error) string {
	var pe *pgconn.ParseConfigError
	if uerr != nil || !errors.As(err, &pe) {
		return ""
	}
	_, reason, ok := strings.Cut(pe.Error(), "`: ")
	if password, _ := u.User.Password(); !ok || (password != "" && strings.Contains(reason, password)) {
		return ""
	}
	return ": " + reason
}
