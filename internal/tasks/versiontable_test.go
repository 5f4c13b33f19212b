package tasks

import (
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/sqldb"
	"github.com/tasklist/tasklist/internal/testenv"
)

// oldBuild migrates db as builds before versionTable did: the store's
// migrations up to version upTo, recorded in goose_db_version.
func oldBuild(t *testing.T, db *sqldb.DB, upTo int) {
	t.Helper()
	old := fstest.MapFS{}
	err := fs.WalkDir(migrations, "migrations", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		var version int
		if _, err := fmt.Sscanf(d.Name(), "%05d_", &version); err != nil || version > upTo {
			return err
		}
		data, err := fs.ReadFile(migrations, path)
		old[strings.TrimPrefix(path, "migrations/")] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(t.Context(), sqldb.Migrations{Component: "tasks", FS: old, VersionTable: "goose_db_version"}, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("the old build's migration: %v", err)
	}
	if upTo >= 2 { // it gave the database its identity, as Migrate does
		if _, err := New(db, Options{}).Head(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPreviousVersionTable: a database migrated by a build that recorded
// the store's migrations in goose_db_version comes up on this build, from
// several instances starting at once, with no migration run again (from
// the latest, or from version 1 only, whose successor runs) and its tasks,
// identity and revision as they were: the records are copied to
// tasklist_tasks_db_version once and goose_db_version is left as it was.
// Another program's goose_db_version, even with the same version numbers,
// is not taken for the store's: the store migrates from the start and
// leaves it alone.
func TestPreviousVersionTable(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, tt := range []struct {
				name        string
				upTo        int
				wantApplied int
			}{{"latest", 2, 0}, {"version 1", 1, 1}} {
				t.Run(tt.name, func(t *testing.T) { testOldBuild(t, newURL(t), tt.upTo, tt.wantApplied) })
			}
			t.Run("another program's table", func(t *testing.T) { testOtherProgram(t, newURL(t)) })
		})
	}
}

func testOldBuild(t *testing.T, rawURL string, upTo, wantApplied int) {
	ctx := t.Context()
	db := testenv.OpenDB(t, rawURL)
	oldBuild(t, db, upTo)
	// As the old build added them: in SQL, which any of its schemas takes.
	for _, name := range []string{"one", "two", "three"} {
		now := time.Now().UTC()
		if _, err := db.ExecContext(ctx, db.Rebind("INSERT INTO tasks (name, done, created_at, updated_at) VALUES (?, ?, ?, ?)"), name, false, now, now); err != nil {
			t.Fatal(err)
		}
	}
	var before Snapshot
	if upTo > 1 { // the version's schema is this build's
		var err error
		if before, err = New(db, Options{}).List(ctx); err != nil {
			t.Fatal(err)
		}
	}
	previous := testenv.MigrationRecords(t, db, previousVersionTable)

	const instances = 3
	var (
		logs testenv.LockedBuffer
		wg   sync.WaitGroup
	)
	log := slog.New(slog.NewTextHandler(&logs, nil))
	for i := range instances {
		s := New(testenv.OpenDB(t, rawURL), Options{})
		wg.Go(func() {
			if err := s.Migrate(ctx, log); err != nil {
				t.Errorf("instance %d: Migrate: %v", i, err)
			}
		})
	}
	wg.Wait()
	if n := strings.Count(logs.String(), `msg="migration records taken over"`); n != 1 {
		t.Errorf("records taken over %d times, want once:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), `msg="migration applied"`); n != wantApplied {
		t.Errorf("%d migrations applied, want %d:\n%s", n, wantApplied, logs.String())
	}
	if diff := cmp.Diff([]int64{0, 1, 2}, testenv.MigrationRecords(t, db, versionTable)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", versionTable, diff)
	}
	if diff := cmp.Diff(previous, testenv.MigrationRecords(t, db, previousVersionTable)); diff != "" {
		t.Errorf("%s changed (-before +after):\n%s", previousVersionTable, diff)
	}
	after, err := New(db, Options{}).List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, task := range after.Tasks {
		names = append(names, task.Name)
	}
	if diff := cmp.Diff([]string{"one", "two", "three"}, names); diff != "" {
		t.Errorf("tasks after the new build's Migrate (-want +got):\n%s", diff)
	}
	if upTo > 1 && (after.DB != before.DB || after.Revision != before.Revision) {
		t.Errorf("version after the new build's Migrate = %s, want %s as before", after.Version(), before.Version())
	}
	var again strings.Builder
	if err := New(db, Options{}).Migrate(ctx, slog.New(slog.NewTextHandler(&again, nil))); err != nil || again.Len() != 0 {
		t.Errorf("a second Migrate = %v, logged:\n%s", err, again.String())
	}
}

func testOtherProgram(t *testing.T, rawURL string) {
	db := testenv.OpenDB(t, rawURL)
	other := fstest.MapFS{}
	for _, d := range []sqldb.Dialect{sqldb.SQLite, sqldb.MySQL, sqldb.Postgres} {
		other[string(d)+"/00001_items.sql"] = &fstest.MapFile{Data: []byte("-- +goose Up\nCREATE TABLE other_items (id INTEGER PRIMARY KEY);\n")}
		other[string(d)+"/00002_fill.sql"] = &fstest.MapFile{Data: []byte("-- +goose Up\nINSERT INTO other_items (id) VALUES (1);\n")}
	}
	if err := db.Migrate(t.Context(), sqldb.Migrations{Component: "other", FS: other, VersionTable: "goose_db_version"}, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	previous := testenv.MigrationRecords(t, db, previousVersionTable)
	var logs testenv.LockedBuffer
	if err := New(db, Options{}).Migrate(t.Context(), slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "taken over") || strings.Count(logs.String(), `msg="migration applied"`) != 2 {
		t.Errorf("beside another program's goose_db_version, want both migrations applied and nothing taken over:\n%s", logs.String())
	}
	if diff := cmp.Diff(previous, testenv.MigrationRecords(t, db, previousVersionTable)); diff != "" {
		t.Errorf("another program's %s changed (-before +after):\n%s", previousVersionTable, diff)
	}
	if diff := cmp.Diff([]int64{0, 1, 2}, testenv.MigrationRecords(t, db, versionTable)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", versionTable, diff)
	}
}
