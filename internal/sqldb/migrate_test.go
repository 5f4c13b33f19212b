package sqldb_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/sqldb"
	"github.com/tasklist/tasklist/internal/testenv"
)

// component returns migrations for a component owning table name_items:
// version 1 creates it, version 2 adds one row. Two components built by it
// have the same version numbers, so sharing a version table would make one
// skip its migrations.
func component(name, versionTable string) sqldb.Migrations {
	fsys := fstest.MapFS{}
	for _, dialect := range []sqldb.Dialect{sqldb.SQLite, sqldb.MySQL, sqldb.Postgres} {
		fsys[string(dialect)+"/00001_create.sql"] = &fstest.MapFile{Data: fmt.Appendf(nil,
			"-- +goose Up\nCREATE TABLE %s_items (id INTEGER PRIMARY KEY, note VARCHAR(50) NOT NULL);\n"+
				"-- +goose Down\nDROP TABLE %[1]s_items;\n", name)}
		fsys[string(dialect)+"/00002_fill.sql"] = &fstest.MapFile{Data: fmt.Appendf(nil,
			"-- +goose Up\nINSERT INTO %s_items (id, note) VALUES (1, '%[1]s');\n"+
				"-- +goose Down\nDELETE FROM %[1]s_items;\n", name)}
	}
	return sqldb.Migrations{Component: name, FS: fsys, VersionTable: versionTable}
}

// state reads what the migrations of alpha (version table goose_db_version)
// and beta (beta_db_version) left: each table's rows and each version
// table's applied versions.
func state(t *testing.T, db *sqldb.DB) map[string][]string {
	t.Helper()
	got := map[string][]string{}
	for key, query := range map[string]string{
		"alpha_items":      "SELECT note FROM alpha_items ORDER BY id",
		"beta_items":       "SELECT note FROM beta_items ORDER BY id",
		"goose_db_version": "SELECT version_id FROM goose_db_version WHERE version_id > 0 ORDER BY id",
		"beta_db_version":  "SELECT version_id FROM beta_db_version WHERE version_id > 0 ORDER BY id",
	} {
		rows, err := db.QueryContext(t.Context(), query)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			got[key] = append(got[key], s)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return got
}

var migrated = map[string][]string{
	"alpha_items":      {"alpha"},
	"beta_items":       {"beta"},
	"goose_db_version": {"1", "2"},
	"beta_db_version":  {"1", "2"},
}

// TestMigrateTwoComponents: two components migrate one database, each with
// its own version table; migrating again changes nothing.
func TestMigrateTwoComponents(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := testenv.OpenDB(t, newURL(t))
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			for _, m := range []sqldb.Migrations{component("alpha", "goose_db_version"), component("beta", "")} {
				if err := db.Migrate(t.Context(), m, log); err != nil {
					t.Fatalf("Migrate %s: %v", m.Component, err)
				}
			}
			if diff := cmp.Diff(migrated, state(t, db)); diff != "" {
				t.Errorf("after Migrate (-want +got):\n%s", diff)
			}
			for _, want := range []string{"component=alpha version=2", "component=beta version=1", "component=beta version=2"} {
				if !strings.Contains(logs.String(), "msg=\"migration applied\" "+want) {
					t.Errorf("logs lack %q:\n%s", want, logs.String())
				}
			}
			logs.Reset()
			for _, m := range []sqldb.Migrations{component("beta", ""), component("alpha", "goose_db_version")} {
				if err := db.Migrate(t.Context(), m, log); err != nil {
					t.Fatalf("second Migrate %s: %v", m.Component, err)
				}
			}
			if diff := cmp.Diff(migrated, state(t, db)); diff != "" {
				t.Errorf("after a second Migrate (-want +got):\n%s", diff)
			}
			if logs.Len() != 0 {
				t.Errorf("a second Migrate applied something:\n%s", logs.String())
			}
		})
	}
}

// TestMigrateConcurrently: instances starting at once (each with its own
// connection pool) migrate both components in opposite orders; every
// migration runs exactly once and none fails.
func TestMigrateConcurrently(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rawURL := newURL(t)
			const instances = 4
			dbs := make([]*sqldb.DB, instances)
			for i := range dbs {
				dbs[i] = testenv.OpenDB(t, rawURL)
			}
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			var wg sync.WaitGroup
			for i, db := range dbs {
				order := []sqldb.Migrations{component("alpha", "goose_db_version"), component("beta", "")}
				if i%2 == 1 {
					order[0], order[1] = order[1], order[0]
				}
				wg.Go(func() {
					for _, m := range order {
						if err := db.Migrate(t.Context(), m, log); err != nil {
							t.Errorf("instance %d: Migrate %s: %v", i, m.Component, err)
						}
					}
				})
			}
			wg.Wait()
			if diff := cmp.Diff(migrated, state(t, dbs[0])); diff != "" {
				t.Errorf("after concurrent Migrate (-want +got):\n%s", diff)
			}
			if file, ok := strings.CutPrefix(rawURL, "sqlite:"); ok {
				if _, err := os.Stat(file + "-migrate-lock"); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("the SQLite migration lock file is left behind: %v", err)
				}
			}
		})
	}
}

func TestMigrateBadNames(t *testing.T) {
	db := testenv.OpenDB(t, testenv.SQLiteURL(t, "names.db"))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, m := range []sqldb.Migrations{
		component("", ""),
		component("Sessions", ""),
		component("x; DROP TABLE y", ""),
		component("ok", "bad-table"),
		{Component: "ok", FS: component("ok", "").FS, Previous: sqldb.PreviousTable{Name: "bad-table"}},
		{Component: "ok", FS: component("ok", "").FS, Previous: sqldb.PreviousTable{Name: "ok", Tables: []string{"x; DROP TABLE y"}}},
	} {
		if err := db.Migrate(t.Context(), m, log); err == nil {
			t.Errorf("Migrate(component %q, table %q, previous %+v) succeeded", m.Component, m.VersionTable, m.Previous)
		}
	}
}

// TestDocsNameLockFiles: docs/configuration.md names every file tasklist
// creates beside an SQLite database, so that an operator knows to keep them.
func TestDocsNameLockFiles(t *testing.T) {
	readme, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{sqldb.MigrateLockSuffix, sqldb.WriteLockSuffix} {
		if !strings.Contains(string(readme), "`"+suffix+"`") {
			t.Errorf("docs/configuration.md does not name the %s file", suffix)
		}
	}
}
