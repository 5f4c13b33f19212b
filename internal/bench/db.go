package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tasklist/tasklist/internal/sqldb" // also registers the drivers
	"github.com/tasklist/tasklist/internal/tasks"
)

// Databases the run can use.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
	MySQL    = "mysql"
)

// databases makes a fresh, seeded database for each mode: SQLite files in
// the run's folder (seeded once per size, then copied), and databases of
// their own on the PostgreSQL and MariaDB servers, dropped at the end.
type databases struct {
	dir string
	// serverURLs are the PostgreSQL and MariaDB servers' URLs by kind.
	serverURLs map[string]string
	templates  map[int]string // SQLite files by number of tasks
	created    []func()       // drops what was created on servers
	// name names the i-th seeded task; nil means taskName.
	name func(i int) string
}

// taskName is the name of the i-th seeded task: about 45 characters, like
// a real to-do.
func taskName(i int) string {
	return fmt.Sprintf("Task %d: write up the quarterly report for team %d", i, i%7)
}

// seed migrates the database at dbURL and adds n tasks, named by name.
func seed(ctx context.Context, dbURL string, n int, name func(i int) string) error {
	db, err := sqldb.Open(ctx, dbURL, sqldb.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	store := tasks.New(db, tasks.Options{})
	if err := store.Migrate(ctx, slog.New(slog.DiscardHandler)); err != nil {
		return err
	}
	for i := 1; i <= n; i++ {
		if _, _, err := store.Add(ctx, name(i)); err != nil {
			return fmt.Errorf("seed task %d: %w", i, err)
		}
	}
	return nil
}

// nameOf names the i-th seeded task.
func (d *databases) nameOf(i int) string {
	if d.name != nil {
		return d.name(i)
	}
	return taskName(i)
}

// fresh returns the URL of a new database of kind holding n tasks.
func (d *databases) fresh(ctx context.Context, kind string, n int) (string, error) {
	switch kind {
	case SQLite:
		return d.freshSQLite(ctx, n)
	case Postgres, MySQL:
		return d.freshServer(ctx, kind, n)
	}
	return "", fmt.Errorf("bench: unknown database %q", kind)
}

func (d *databases) freshSQLite(ctx context.Context, n int) (string, error) {
	tmpl, ok := d.templates[n]
	if !ok {
		tmpl = filepath.Join(d.dir, fmt.Sprintf("template-%d.db", n))
		// The seeding alone skips the wait for the disk: the copies
		// the app opens have SQLite's default durability.
		if err := seed(ctx, "sqlite:"+tmpl+"?_pragma=synchronous(OFF)", n, d.nameOf); err != nil {
			return "", fmt.Errorf("seed SQLite: %w", err)
		}
		d.templates[n] = tmpl
	}
	path := filepath.Join(d.dir, "db-"+randomHex()+".db")
	if err := copyFile(tmpl, path); err != nil {
		return "", err
	}
	return "sqlite:" + path, nil
}

// freshServer creates a database on the kind's server and seeds it.
func (d *databases) freshServer(ctx context.Context, kind string, n int) (string, error) {
	admin, err := d.admin(ctx, kind)
	if err != nil {
		return "", err
	}
	defer admin.Close()
	name := "tasklist_bench_" + randomHex()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("%s: create database: %w", kind, err)
	}
	d.created = append(d.created, func() { d.drop(kind, name) })
	u, _ := url.Parse(d.serverURLs[kind])
	u.Path = "/" + name
	if err := seed(ctx, u.String(), n, d.nameOf); err != nil {
		return "", fmt.Errorf("seed %s: %w", kind, err)
	}
	return u.String(), nil
}

// admin connects to the kind's server, to create and drop databases and
// read its statistics.
func (d *databases) admin(ctx context.Context, kind string) (*sql.DB, error) {
	u, err := url.Parse(d.serverURLs[kind])
	if err != nil {
		return nil, err
	}
	var db *sql.DB
	if kind == Postgres {
		db, err = sql.Open("pgx", u.String())
	} else {
		pass, _ := u.User.Password()
		db, err = sql.Open("mysql", u.User.Username()+":"+pass+"@tcp("+u.Host+")"+u.Path)
	}
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w: %s does not answer at %s: %v", errSkipped, kind, u.Redacted(), err)
	}
	return db, nil
}

func (d *databases) drop(kind, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := d.admin(ctx, kind)
	if err != nil {
		return
	}
	defer admin.Close()
	q := "DROP DATABASE IF EXISTS " + name
	if kind == Postgres {
		q += " WITH (FORCE)"
	}
	admin.ExecContext(ctx, q)
}

// close drops every database the run created on a server.
func (d *databases) close() {
	for _, drop := range d.created {
		drop()
	}
	d.created = nil
}

// pgTransactions returns how many transactions PostgreSQL has counted in
// database dbURL names (pg_stat_database: commits and rollbacks, every
// statement outside a transaction counting as one).
func (d *databases) pgTransactions(ctx context.Context, dbURL string) (int64, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return 0, err
	}
	admin, err := d.admin(ctx, Postgres)
	if err != nil {
		return 0, err
	}
	defer admin.Close()
	return settled(ctx, admin, "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1",
		strings.TrimPrefix(u.Path, "/"))
}

// pgScans returns how many times PostgreSQL scanned table (sequential and
// index scans, pg_stat_user_tables) in the database dbURL names.
func pgScans(ctx context.Context, dbURL, table string) (int64, error) {
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	return settled(ctx, db, "SELECT COALESCE(seq_scan, 0) + COALESCE(idx_scan, 0) FROM pg_stat_user_tables WHERE relname = $1", table)
}

// settled reads a PostgreSQL statistics counter until it stops moving. A
// backend reports its counts when it goes idle (at most once a second) and
// when it exits, so counters are read after the app stopped.
func settled(ctx context.Context, db *sql.DB, query string, args ...any) (int64, error) {
	last := int64(-1)
	for range 50 {
		var n int64
		if err := db.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
			return 0, err
		}
		if n == last {
			return n, nil
		}
		last = n
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return last, nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func randomHex() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}
