package tasks_test

import (
	"errors"
	"strconv"
	"testing"

	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/tasks/taskstest"
	"github.com/tasklist/tasklist/internal/testenv"
)

// TestVersions: a database names itself, every change moves its revision —
// one made by hand in SQL too — and revisions never repeat, not even after
// the counter went back as a restored dump takes it; forms act only on the
// task as their page showed it.
func TestVersions(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			t.Run("identity", func(t *testing.T) { testIdentity(t, newURL) })
			t.Run("hand edits", func(t *testing.T) { testHandEdits(t, newURL(t), name == "postgres") })
			t.Run("no revision twice", func(t *testing.T) { testNoRevisionTwice(t, newURL(t)) })
			t.Run("preconditions", func(t *testing.T) { testPreconditions(t, taskstest.Open(t, newURL(t), tasks.Options{})) })
		})
	}
}

func head(t *testing.T, s *tasks.Store) tasks.Version {
	t.Helper()
	v, err := s.Head(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func testIdentity(t *testing.T, newURL func(testing.TB) string) {
	urlA := newURL(t)
	a, b := taskstest.Open(t, urlA, tasks.Options{}), taskstest.Open(t, newURL(t), tasks.Options{})
	va, vb := head(t, a), head(t, b)
	if va.DB == "" || vb.DB == "" || va.DB == vb.DB {
		t.Fatalf("identities %q and %q: want two, different", va.DB, vb.DB)
	}
	if a.Identity() != va.DB {
		t.Errorf("Identity() = %q, want %q", a.Identity(), va.DB)
	}
	if again := head(t, taskstest.Open(t, urlA, tasks.Options{})); again.DB != va.DB {
		t.Errorf("a second store of the database reads %q, want %q", again.DB, va.DB)
	}
	// An operator gives a copied database an identity of its own.
	testenv.ExecSQL(t, urlA, "UPDATE tasklist_meta SET database_id = NULL")
	if renamed := head(t, a); renamed.DB == "" || renamed.DB == va.DB {
		t.Errorf("after the identity was reset: %q, want a new one (was %q)", renamed.DB, va.DB)
	}
}

func testHandEdits(t *testing.T, rawURL string, postgres bool) {
	s := taskstest.Open(t, rawURL, tasks.Options{})
	if _, _, err := s.Add(t.Context(), "by the app"); err != nil {
		t.Fatal(err)
	}
	now := "CURRENT_TIMESTAMP"
	edits := []string{
		"INSERT INTO tasks (name, done, created_at, updated_at) VALUES ('by hand', FALSE, " + now + ", " + now + ")",
		"UPDATE tasks SET name = 'renamed by hand' WHERE name = 'by hand'",
		"DELETE FROM tasks WHERE name = 'renamed by hand'",
	}
	if postgres {
		edits = append(edits, "TRUNCATE tasks")
	}
	for _, q := range edits {
		before := head(t, s)
		testenv.ExecSQL(t, rawURL, q)
		if after := head(t, s); after.DB != before.DB || after.Revision <= before.Revision {
			t.Errorf("%s: version %v -> %v, want the revision moved on", q, before, after)
		}
	}
}

func testNoRevisionTwice(t *testing.T, rawURL string) {
	s := taskstest.Open(t, rawURL, tasks.Options{})
	_, dumped, err := s.Add(t.Context(), "in the dump")
	if err != nil {
		t.Fatal(err)
	}
	_, abandoned, err := s.Add(t.Context(), "after the dump")
	if err != nil {
		t.Fatal(err)
	}
	// A restore takes the counter back to the dump's.
	testenv.ExecSQL(t, rawURL, "DELETE FROM tasks WHERE name = 'after the dump'")
	testenv.ExecSQL(t, rawURL, "UPDATE tasklist_meta SET revision = "+strconv.FormatInt(dumped.Revision, 10))
	_, next, err := s.Add(t.Context(), "after the restore")
	if err != nil {
		t.Fatal(err)
	}
	if next.Revision <= abandoned.Revision {
		t.Errorf("after the restore a write got revision %d; the abandoned history had %d already", next.Revision, abandoned.Revision)
	}
}

func testPreconditions(t *testing.T, s *tasks.Store) {
	ctx := t.Context()
	task, v, err := s.Add(ctx, "milk")
	if err != nil {
		t.Fatal(err)
	}
	seen := tasks.Seen(v.DB, task)
	// Another visitor marks it done; a second "Done" from the same page
	// sets what is set already.
	done, _, err := s.SetDone(ctx, task.ID, true, seen)
	if err != nil || !done.Done {
		t.Fatalf("SetDone = %+v, %v", done, err)
	}
	if again, _, err := s.SetDone(ctx, task.ID, true, ""); err != nil || !again.Done {
		t.Errorf("SetDone twice = %+v, %v; want done, no error", again, err)
	}
	// The older page's buttons change nothing.
	before := head(t, s)
	if _, _, err := s.SetDone(ctx, task.ID, false, seen); !errors.Is(err, tasks.ErrChanged) {
		t.Errorf("SetDone from an older page = %v, want ErrChanged", err)
	}
	if _, _, err := s.Remove(ctx, task.ID, seen); !errors.Is(err, tasks.ErrChanged) {
		t.Errorf("Remove from an older page = %v, want ErrChanged", err)
	}
	// A page of another database names the task with another token.
	if _, _, err := s.Remove(ctx, task.ID, tasks.Seen("another database", done)); !errors.Is(err, tasks.ErrChanged) {
		t.Errorf("Remove from another database's page = %v, want ErrChanged", err)
	}
	if _, _, err := s.SetDone(ctx, task.ID+1000, true, seen); !errors.Is(err, tasks.ErrChanged) {
		t.Errorf("SetDone of a task the page showed and the database lacks = %v, want ErrChanged", err)
	}
	if after := head(t, s); after != before {
		t.Errorf("refused writes moved the version %v -> %v", before, after)
	}
	if _, _, err := s.Remove(ctx, task.ID, tasks.Seen(v.DB, done)); err != nil {
		t.Errorf("Remove as seen = %v", err)
	}
}
