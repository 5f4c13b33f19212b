// Package sqldb opens tasklist's SQL database — SQLite, MariaDB/MySQL or
// PostgreSQL, named by one DATABASE_URL — and migrates it.
//
// Several stores share the one database: each opens nothing itself but
// takes the *DB, writes its queries with ? placeholders (Rebind turns them
// into PostgreSQL's $1, $2, ...), and brings its own tables up to date with
// Migrate, which keeps each component's migrations apart (their own goose
// version table) and serializes instances that start at once.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/go-sql-driver/mysql" // mysql:// URLs
	_ "github.com/jackc/pgx/v5/stdlib" // postgres:// URLs
	_ "modernc.org/sqlite"             // sqlite: URLs and file paths
)

// Dialect names the SQL database a DB talks to.
type Dialect string

// The supported dialects. Each is also the name of the folder holding a
// component's migrations for it (see Migrate).
const (
	SQLite   Dialect = "sqlite"
	MySQL    Dialect = "mysql"
	Postgres Dialect = "postgres"
)

// DefaultURL is the database used when DATABASE_URL is empty: an SQLite file
// in the working directory, so the app runs with no configuration.
const DefaultURL = "sqlite:tasklist.db"

// DefaultTimeout is Options.Timeout when it is zero.
const DefaultTimeout = 5 * time.Second

// Options tune Open. The zero value is ready to use.
type Options struct {
	// Timeout bounds every database call (TASKLIST_DB_TIMEOUT, default
	// DefaultTimeout): callers take their deadline from WithTimeout, and
	// MySQL connections also get it as their read and write timeout, which
	// bounds the COMMIT and ROLLBACK that the driver sends without a
	// context.
	Timeout time.Duration
	// MaxConns is the most connections the pool opens
	// (TASKLIST_DB_MAX_CONNS); half of them, at least one, are kept idle.
	// Zero means DefaultMaxConns.
	MaxConns int
}

// DefaultMaxConns is the pool's size when Options.MaxConns is zero.
const DefaultMaxConns = 32

// DB is an open database: a connection pool (the embedded *sql.DB, for
// queries) that knows its Dialect. It is safe for concurrent use, and
// several DBs (in several processes) may share one database.
type DB struct {
	*sql.DB
	// target is what Open parsed: the dialect, and names for errors.
	target  target
	timeout time.Duration
	// writer holds the token of the SQLite writer whose turn it is,
	// writeLock is the SQLite file's write lock file (nil in memory), queue
	// the writes waiting; see Write.
	writer    chan struct{}
	writeLock *os.File
	queueMu   sync.Mutex
	queue     []*write
	// commits counts the SQLite write transactions committed: with writes
	// grouped, fewer than the writes.
	commits atomic.Uint64
}

// Open connects to the database named by rawURL (DefaultURL when empty) and
// checks that it answers. It does not migrate; see Migrate. Accepted forms:
//
//	sqlite:relative.db, sqlite:///abs/path.db, file:x.db, or a bare file path
//	mysql://user:pass@host:port/db (also mariadb://)
//	postgres://user:pass@host:port/db?sslmode=disable (also postgresql://)
//
// Errors never contain the password.
func Open(ctx context.Context, rawURL string, opts Options) (*DB, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	t, err := parseURL(rawURL, opts)
	if err != nil {
		return nil, err
	}
	sqlDB, err := sql.Open(t.driver, t.dsn)
	if err != nil {
		return nil, fmt.Errorf("sqldb: open %s database: %w", t.dialect, err)
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	sqlDB.SetMaxOpenConns(opts.MaxConns)
	sqlDB.SetMaxIdleConns(max(opts.MaxConns/2, 1))
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	db := &DB{DB: sqlDB, target: t, timeout: opts.Timeout, writer: make(chan struct{}, 1)}
	if err := db.Ping(ctx); err != nil {
		sqlDB.Close()
		return nil, err
	}
	if t.file != "" {
		if db.writeLock, err = openWriteLock(t.file); err != nil {
			sqlDB.Close()
			return nil, err
		}
	}
	return db, nil
}

// Close closes the connection pool, and the write lock file if any.
func (db *DB) Close() error {
	err := db.DB.Close()
	if db.writeLock != nil {
		err = errors.Join(err, db.writeLock.Close())
	}
	return err
}

// Dialect returns the kind of database db talks to.
func (db *DB) Dialect() Dialect { return db.target.dialect }

// WithTimeout returns ctx with the deadline of one database call
// (Options.Timeout from now, or ctx's own if sooner) and its cancel func,
// which the caller must call once the call, a whole transaction, is done.
func (db *DB) WithTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, db.timeout)
}

// Ping checks that the database answers, within Options.Timeout. It
// replaces sql.DB's Ping. Its error says what is wrong — "authentication
// failed for user", "database does not exist", an SQLite file that cannot
// be opened, or "unreachable" — and never contains the password.
func (db *DB) Ping(ctx context.Context) error {
	ctx, cancel := db.WithTimeout(ctx)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		return db.target.explain(err)
	}
	return nil
}

// Rebind turns the ? placeholders of query into the dialect's: $1, $2, ...
// for PostgreSQL, unchanged for the others. Every ? is a placeholder, so a
// query must not hold one in a literal.
func (db *DB) Rebind(query string) string {
	if db.target.dialect != Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ExecContext runs one statement that writes, outside a transaction,
// with the database's timeout; on SQLite it is a Write (it queues among
// the writers, and may share their COMMIT). It replaces sql.DB's: write
// through it or through Write, never through BeginTx.
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if db.target.dialect == SQLite {
		var res sql.Result
		err := db.Write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			var err error
			res, err = tx.ExecContext(ctx, query, args...)
			return err
		})
		return res, err
	}
	ctx, cancel := db.WithTimeout(ctx)
	defer cancel()
	return db.DB.ExecContext(ctx, query, args...)
}
