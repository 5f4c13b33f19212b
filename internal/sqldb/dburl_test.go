package sqldb

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// sqlitePragmas is the query every SQLite DSN carries before any of its own.
const sqlitePragmas = "_pragma=journal_mode%28WAL%29&_pragma=busy_timeout%2810000%29&_pragma=foreign_keys%28ON%29&_time_format=sqlite&_txlock=immediate"

func TestParseURL(t *testing.T) {
	lite := func(dsnPath, file string) target {
		return target{dialect: SQLite, driver: "sqlite", dsn: "file:" + dsnPath + "?" + sqlitePragmas, file: file}
	}
	my := func(dsn, server, user, database string) target {
		return target{dialect: MySQL, driver: "mysql", dsn: dsn, server: server, user: user, database: database}
	}
	pg := func(dsn, server, user, database string) target {
		return target{dialect: Postgres, driver: "pgx", dsn: dsn, server: server, user: user, database: database}
	}
	tests := []struct {
		in   string
		want target
	}{
		{"", lite("tasklist.db", "tasklist.db")},
		{"sqlite:rel.db", lite("rel.db", "rel.db")},
		{"sqlite:///var/lib/t.db", lite("/var/lib/t.db", "/var/lib/t.db")},
		{"SQLite3:t.db", lite("t.db", "t.db")},
		{"file:t.db", lite("t.db", "t.db")},
		{"data/t.db", lite("data/t.db", "data/t.db")},
		{"./t.db", lite("./t.db", "./t.db")},
		{"/abs/t.db", lite("/abs/t.db", "/abs/t.db")},
		{"sqlite::memory:", lite(":memory:", "")},
		{"sqlite:shared?mode=memory&cache=shared", target{dialect: SQLite, driver: "sqlite",
			dsn: "file:shared?_pragma=journal_mode%28WAL%29&_pragma=busy_timeout%2810000%29&_pragma=foreign_keys%28ON%29&_time_format=sqlite&_txlock=immediate&cache=shared&mode=memory",
		}},
		{"sqlite:t.db?_pragma=synchronous(NORMAL)", target{dialect: SQLite, driver: "sqlite",
			dsn:  "file:t.db?_pragma=journal_mode%28WAL%29&_pragma=busy_timeout%2810000%29&_pragma=foreign_keys%28ON%29&_pragma=synchronous%28NORMAL%29&_time_format=sqlite&_txlock=immediate",
			file: "t.db"}},
		{"mysql://u:p@db:3307/app", my("u:p@tcp(db:3307)/app?parseTime=true&readTimeout=3s&writeTimeout=3s", "db:3307", "u", "app")},
		{"mariadb://u@db/app", my("u@tcp(db:3306)/app?parseTime=true&readTimeout=3s&writeTimeout=3s", "db:3306", "u", "app")},
		{"MySQL://u@db/app?timeout=2s", my("u@tcp(db:3306)/app?parseTime=true&readTimeout=3s&writeTimeout=3s&timeout=2s", "db:3306", "u", "app")},
		{"postgres://u:p@db/app?sslmode=disable", pg("postgres://u:p@db/app?sslmode=disable", "db:5432", "u", "app")},
		{"postgresql://u@db:5433/app", pg("postgresql://u@db:5433/app", "db:5433", "u", "app")},
		{"postgres://u@db/?dbname=app", pg("postgres://u@db/?dbname=app", "db:5432", "u", "app")},
	}
	for _, tt := range tests {
		got, err := parseURL(tt.in, Options{Timeout: 3 * time.Second})
		if err != nil {
			t.Errorf("parseURL(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(target{})); diff != "" {
			t.Errorf("parseURL(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
	const secret = "s3cr3t"
	tests := []struct {
		in, says string
	}{
		{"redis://u:" + secret + "@x/", `scheme "redis"`},
		{"oracle://db/x", `scheme "oracle"`},
		{"sqlite:", "no SQLite file"},
		{"sqlite:?mode=ro", "no SQLite file"},
		{"sqlite:t.db?%zz", "query"},
		{"mysql://u:" + secret + "@db/", "no mysql database"},
		{"mariadb://u:" + secret + "@db", "no mysql database"},
		{"mysql://u:" + secret + "@db:3306/app%zz", "not a valid mysql URL"},
		{"postgres://u:" + secret + "@db/", "no postgres database"},
		{"postgresql://u:" + secret + "@db", "no postgres database"},
		{"postgres://u:" + secret + "@db/a%zz", "not a valid postgres URL"},
		{"postgres://u:" + secret + "@db/app?sslmode=disabled", "sslmode=disabled: unknown value, expected one of disable, allow, prefer, require, verify-ca, verify-full"},
		{"postgres://u:" + secret + "@db/app?sslmode=", "sslmode=: unknown value"},
		{"postgres://u:" + secret + "@db:99999/app", "not a valid postgres URL: invalid port"},
		{"postgres://u:" + secret + "@db/app?connect_timeout=soon", "invalid connect_timeout"},
		{"postgres://u:connect_timeout@db/app?connect_timeout=soon", "not a valid postgres URL"},
	}
	for _, tt := range tests {
		_, err := parseURL(tt.in, Options{Timeout: 3 * time.Second})
		switch {
		case err == nil:
			t.Errorf("parseURL(%q) succeeded, want an error saying %q", tt.in, tt.says)
		case !strings.Contains(err.Error(), tt.says):
			t.Errorf("parseURL(%q) = %v, want an error saying %q", tt.in, err, tt.says)
		case strings.Contains(err.Error(), secret):
			t.Errorf("parseURL(%q) error reveals the password: %v", tt.in, err)
		}
	}
}

func TestRebind(t *testing.T) {
	const q = "UPDATE t SET a = ?, b = 'é' WHERE id = ? AND c IN (?, ?)"
	tests := []struct {
		dialect Dialect
		want    string
	}{
		{SQLite, q},
		{MySQL, q},
		{Postgres, "UPDATE t SET a = $1, b = 'é' WHERE id = $2 AND c IN ($3, $4)"},
	}
	for _, tt := range tests {
		db := &DB{target: target{dialect: tt.dialect}}
		if diff := cmp.Diff(tt.want, db.Rebind(q)); diff != "" {
			t.Errorf("%s Rebind (-want +got):\n%s", tt.dialect, diff)
		}
	}
}
