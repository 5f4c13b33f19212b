package session_test

import (
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/session"
	"github.com/tasklist/tasklist/internal/sqldb"
	"github.com/tasklist/tasklist/internal/testenv"
)

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
			previous := testenv.MigrationRecords(t, db, "sessions_db_version")
			if len(previous) == 0 {
				t.Fatal("the earlier build recorded no migration in sessions_db_version")
			}

			if err := session.Migrate(t.Context(), db, log); err != nil {
				t.Fatalf("this build's migration on the earlier build's database: %v", err)
			}
			if got := testenv.MigrationRecords(t, db, "tasklist_sessions_db_version"); !slices.Equal(got, previous) {
				t.Errorf("tasklist_sessions_db_version records %v, want the earlier build's %v", got, previous)
			}
			if got := testenv.MigrationRecords(t, db, "sessions_db_version"); !slices.Equal(got, previous) {
				t.Errorf("sessions_db_version records %v after the take-over, want it unchanged: %v", got, previous)
			}
			b, found, err := s.FindCtx(t.Context(), token)
			if err != nil || !found || string(b) != "data" {
				t.Errorf("the earlier build's session after the migration: %q, %v, %v; want %q", b, found, err, "data")
			}
		})
	}
}
