package testenv

import (
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/tasklist/tasklist/internal/sqldb"
)

// Environment variables naming the test database servers. Each holds a URL
// as DATABASE_URL takes it, pointing at a database the tests may create
// other databases next to.
const (
	MySQLEnv    = "TASKLIST_TEST_MYSQL_URL"
	PostgresEnv = "TASKLIST_TEST_POSTGRES_URL"
)

// Databases returns, for each kind of database tasklist supports ("sqlite",
// "mysql", "postgres"), a function giving the test a fresh, empty database
// as a DATABASE_URL: an SQLite file in its temporary directory, or a
// database from MySQLURL or PostgresURL.
func Databases() map[string]func(t testing.TB) string {
	return map[string]func(t testing.TB) string{
		"sqlite": func(t testing.TB) string {
			return SQLiteURL(t, "tasklist.db")
		},
		"mysql":    MySQLURL,
		"postgres": PostgresURL,
	}
}

// MySQLURL creates a fresh, empty MariaDB/MySQL database for the test, drops
// it when the test ends, and returns its URL (mysql://user:pass@host:port/db).
func MySQLURL(t testing.TB) string {
	t.Helper()
	return freshDatabase(t, MySQLEnv, "mysql://root@127.0.0.1:3306/test")
}

// PostgresURL creates a fresh, empty PostgreSQL database for the test, drops
// it when the test ends, and returns its URL (postgres://user@host:port/db).
func PostgresURL(t testing.TB) string {
	t.Helper()
	return freshDatabase(t, PostgresEnv, "postgres://postgres@127.0.0.1:5432/test")
}

func freshDatabase(t testing.TB, env, example string) string {
	t.Helper()
	base := os.Getenv(env)
	if base == "" {
		Unavailable(t, env, "set it to a server URL such as "+example)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", env, err)
	}
	driver, dsn := adminDSN(t, u)
	admin, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("%s: %v", env, err)
	}
	defer admin.Close()
	if err := admin.PingContext(t.Context()); err != nil {
		Unavailable(t, env+" ("+u.Redacted()+")", err.Error())
	}
	name := RandomName("tasklist_test_")
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open(driver, dsn)
		if err != nil {
			return
		}
		defer admin.Close()
		drop := "DROP DATABASE IF EXISTS " + name
		if driver == "pgx" {
			drop += " WITH (FORCE)"
		}
		if _, err := admin.Exec(drop); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// adminDSN turns a test server URL into a driver name and DSN for the
// database it names, from which test databases are created.
func adminDSN(t testing.TB, u *url.URL) (driver, dsn string) {
	switch strings.ToLower(u.Scheme) {
	case "postgres", "postgresql":
		return "pgx", u.String()
	case "mysql", "mariadb":
		pass, _ := u.User.Password()
		return "mysql", u.User.Username() + ":" + pass + "@tcp(" + u.Host + ")" + u.Path
	}
	t.Fatalf("unsupported test database URL scheme %q", u.Scheme)
	return "", ""
}

// SQLiteURL returns the DATABASE_URL of a new SQLite database file named
// name, in a directory of its own that is removed when the test ends. The
// removal is tried until it succeeds, within a minute: database/sql may
// still be opening a connection when DB.Close returns (it closes it at
// once), and SQLite creates and removes the -wal and -shm files beside the
// database as it does, so that one RemoveAll can find the directory not
// empty (t.TempDir's cleanup then fails the test).
func SQLiteURL(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tasklist-sqlite-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var err error
		WaitForWithin(t, time.Minute, "removing "+dir, func() bool {
			err = os.RemoveAll(dir)
			return err == nil
		})
	})
	return "sqlite:" + filepath.Join(dir, name)
}

// OpenDB opens the database at dbURL (a DATABASE_URL) with the default
// options, closed when the test ends, and fails the test if it cannot.
func OpenDB(t testing.TB, dbURL string) *sqldb.DB {
	t.Helper()
	db, err := sqldb.Open(t.Context(), dbURL, sqldb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// MigrationRecords returns the versions that goose's version table table
// records in db, in the order recorded (goose's own first record, version
// 0, included), and fails the test when it cannot read them.
func MigrationRecords(t testing.TB, db *sqldb.DB, table string) []int64 {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "SELECT version_id FROM "+table+" ORDER BY id")
	if err != nil {
		t.Fatalf("%s: %v", table, err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// ExecSQL runs statements on the database at dbURL (a DATABASE_URL) on a
// connection of its own, as an operator would by hand, and fails the test
// on the first error.
func ExecSQL(t testing.TB, dbURL string, stmts ...string) {
	t.Helper()
	db, err := sqldb.Open(t.Context(), dbURL, sqldb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}
