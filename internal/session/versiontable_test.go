package session_test

import (
	"io/fs"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/session"
	"github.com/tasklist/tasklist/internal/sqldb"
	"github.com/tasklist/tasklist/internal/testenv"
)

// versions returns the migrations table records (the applied versions, in
// the order recorded), or nil when the table does not exist.
func versions(t *testing.T, db *sqldb.DB, table string) []int64 {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "SELECT version_id FROM "+table+" WHERE version_id > 0 ORDER BY id")
	if err != nil {
		return nil
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

// TestPreviousVersionTable: a database whose sessions table an earlier
// build made, recording the migration in sessions_db_version, comes up on
// this build with the record taken over into tasklist_sessions_db_version,
// no migration run again (a second CREATE TABLE would fail), its sessions
// kept, and sessions_db_version left as it was.
func TestPreviousVersionTable(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := testenv.OpenDB(t, newURL(t))
			log := slog.New(slog.DiscardHandler)
			fsys, err := fs.Sub(session.Migrations, "migrations")
			if err != nil {
				t.Fatal(err)
			}
			// The earlier build: the same migrations, goose's table named
			// after the component.
			if err := db.Migrate(t.Context(), sqldb.Migrations{Component: "sessions", FS: fsys}, log); err != nil {
				t.Fatalf("the earlier build's migration: %v", err)
			}
			s, err := session.New(session.DB, nil, db, session.Options{})
			if err != nil {
				t.Fatal(err)
			}
			token := strings.Repeat("k", 43) // a token's shape: 43 URL-safe characters
			expiry := time.Now().Add(time.Hour)
			if err := s.CommitCtx(t.Context(), token, []byte("data"), expiry); err != nil {
				t.Fatal(err)
			}
			previous := versions(t, db, "sessions_db_version")
			if len(previous) == 0 {
				t.Fatal("the earlier build recorded no migration in sessions_db_version")
			}

			if err := session.Migrate(t.Context(), db, log); err != nil {
				t.Fatalf("this build's migration on the earlier build's database: %v", err)
			}
			if got := versions(t, db, "tasklist_sessions_db_version"); len(got) != len(previous) {
				t.Errorf("tasklist_sessions_db_version records %v, want the earlier build's %v", got, previous)
			}
			if got := versions(t, db, "sessions_db_version"); len(got) != len(previous) {
				t.Errorf("sessions_db_version records %v after the take-over, want it unchanged: %v", got, previous)
			}
			b, found, err := s.FindCtx(t.Context(), token)
			if err != nil || !found || string(b) != "data" {
				t.Errorf("the earlier build's session after the migration: %q, %v, %v; want %q", b, found, err, "data")
			}
		})
	}
}
