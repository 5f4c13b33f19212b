package tasks_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tasklist/tasklist/internal/sqldb"
	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/tasks/taskstest"
	"github.com/tasklist/tasklist/internal/testenv"
)

func TestStore(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rawURL := newURL(t)
			t.Run("crud", func(t *testing.T) { testCRUD(t, taskstest.Open(t, rawURL, tasks.Options{})) })
			t.Run("concurrent adds", func(t *testing.T) { testConcurrentAdds(t, rawURL) })
			t.Run("pages", func(t *testing.T) { testPages(t, taskstest.Open(t, newURL(t), tasks.Options{})) })
			t.Run("cap", func(t *testing.T) { testCap(t, taskstest.Open(t, newURL(t), tasks.Options{MaxTasks: 3})) })
			t.Run("restore", func(t *testing.T) { testRestore(t, taskstest.Open(t, newURL(t), tasks.Options{MaxTasks: 3})) })
		})
	}
}

func testCRUD(t *testing.T, s *tasks.Store) {
	ctx := t.Context()
	// Migrating again is a no-op.
	if err := s.Migrate(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	snap, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	head, err := s.Head(ctx)
	if err != nil || head.DB == "" {
		t.Fatalf("Head = %+v, %v; want the database named", head, err)
	}
	if diff := cmp.Diff(tasks.Snapshot{DB: head.DB, Revision: 0, Tasks: []tasks.Task{}}, snap); diff != "" {
		t.Fatalf("empty List (-want +got):\n%s", diff)
	}
	last := int64(0) // every write's revision is above the one before

	names := []string{
		"buy milk",
		`<script>alert("x")</script> & 'quotes'`,
		"Robert'); DROP TABLE tasks;--",
		"emoji 🎉 and ünïcödé",
		strings.Repeat("é", tasks.MaxNameLength),
	}
	var want []tasks.Task
	for i, n := range names {
		task, v, err := s.Add(ctx, n)
		if err != nil {
			t.Fatalf("Add(%q): %v", n, err)
		}
		if v.DB != head.DB || v.Revision <= last {
			t.Errorf("Add #%d version = %v, want %s with a revision above %d", i+1, v, head.DB, last)
		}
		last = v.Revision
		if task.Name != n || task.Done || task.ID == 0 || task.CreatedAt.IsZero() {
			t.Errorf("Add(%q) = %+v", n, task)
		}
		want = append(want, task)
	}

	toggled, v, err := s.SetDone(ctx, want[1].ID, true, "")
	if err != nil {
		t.Fatal(err)
	}
	if !toggled.Done || v.Revision <= last {
		t.Errorf("SetDone = %+v, version %v; want done, a revision above %d", toggled, v, last)
	}
	last = v.Revision
	want[1] = toggled
	removed, v, err := s.Remove(ctx, want[0].ID, "")
	if err != nil || v.Revision <= last {
		t.Fatalf("Remove = %v, %v; want a revision above %d", v, err, last)
	}
	last = v.Revision
	if diff := cmp.Diff(want[0], removed); diff != "" {
		t.Errorf("Remove returned (-want +got):\n%s", diff)
	}
	want = want[1:]

	snap, err = s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(tasks.Snapshot{DB: head.DB, Revision: last, Tasks: want}, snap); diff != "" {
		t.Errorf("List after writes (-want +got):\n%s", diff)
	}

	// Writes to a missing task fail with ErrNotFound and change nothing.
	missing := want[len(want)-1].ID + 1000
	if _, _, err := s.SetDone(ctx, missing, true, ""); !errors.Is(err, tasks.ErrNotFound) {
		t.Errorf("SetDone(missing) error = %v, want ErrNotFound", err)
	}
	if _, _, err := s.Remove(ctx, missing, ""); !errors.Is(err, tasks.ErrNotFound) {
		t.Errorf("Remove(missing) error = %v, want ErrNotFound", err)
	}
	if _, v, err = s.Remove(ctx, want[0].ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Remove(ctx, want[0].ID, ""); !errors.Is(err, tasks.ErrNotFound) {
		t.Errorf("second Remove error = %v, want ErrNotFound", err)
	}
	if h, err := s.Head(ctx); err != nil || h != v {
		t.Errorf("Head = %v, %v; want %v (failed writes must not count)", h, err, v)
	}
}

// testConcurrentAdds: 20 goroutines adding 50 tasks each leave exactly 1000
// tasks, each revision used once.
func testConcurrentAdds(t *testing.T, rawURL string) {
	s := taskstest.Open(t, rawURL, tasks.Options{})
	before, err := s.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 20, 50
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		revs = map[int64]bool{}
	)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				_, v, err := s.Add(t.Context(), "worker task")
				if err != nil {
					t.Errorf("worker %d add %d: %v", w, i, err)
					return
				}
				mu.Lock()
				revs[v.Revision] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	after, err := s.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := len(after.Tasks) - len(before.Tasks); got != workers*each {
		t.Errorf("tasks added = %d, want %d", got, workers*each)
	}
	if len(revs) != workers*each || after.Revision < before.Revision+workers*each || !revs[after.Revision] {
		t.Errorf("distinct revisions = %d, final revision %d (from %d); want %d distinct, the last one the list's", len(revs), after.Revision, before.Revision, workers*each)
	}
}

// TestNewSharesTheDatabase: a Store made by New keeps its migrations in
// its own version table, tasklist_tasks_db_version, and leaves the
// database open on Close for its other users.
func TestNewSharesTheDatabase(t *testing.T) {
	db, err := sqldb.Open(t.Context(), testenv.SQLiteURL(t, "shared.db"), sqldb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := tasks.New(db, tasks.Options{})
	if err := s.Migrate(t.Context(), slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	var version int64
	if err := db.QueryRowContext(t.Context(), "SELECT MAX(version_id) FROM tasklist_tasks_db_version").Scan(&version); err != nil || version != 2 {
		t.Errorf("tasks version in tasklist_tasks_db_version = %d, %v; want 2 (the latest migration)", version, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(t.Context()); err != nil {
		t.Errorf("the database is closed after the Store's Close: %v", err)
	}
}

func TestSlowQuery(t *testing.T) {
	s := taskstest.Open(t, testenv.SQLiteURL(t, "slow.db"), tasks.Options{SlowQuery: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.List(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("List with a canceled context during the slow query = %v, want context.Canceled", err)
	}
	if _, err := s.Head(t.Context()); err != nil {
		t.Errorf("Head must not wait for the slow query: %v", err)
	}
}

func TestOpenErrorsHideThePassword(t *testing.T) {
	const secret = "s3cr3t-pa55word"
	for _, raw := range []string{
		"postgres://postgres:" + secret + "@127.0.0.1:1/test?sslmode=disable&connect_timeout=2",
		"mysql://root:" + secret + "@127.0.0.1:1/test?timeout=2s",
		"redis://u:" + secret + "@127.0.0.1:1/",
	} {
		_, err := tasks.Open(t.Context(), raw, tasks.Options{})
		if err == nil {
			t.Errorf("Open(%s) succeeded against a closed port", strings.Split(raw, ":")[0])
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error reveals the password: %v", err)
		}
	}
}

// testPages: the database's Page agrees with Snapshot.Page for every
// starting point and page size, with gaps in the ids.
func testPages(t *testing.T, s *tasks.Store) {
	ctx := t.Context()
	var ids []int64
	for i := range 12 {
		task, _, err := s.Add(ctx, fmt.Sprint("task ", i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, task.ID)
	}
	for _, i := range []int{0, 4, 5, 11} { // gaps, and the first and last
		if _, _, err := s.Remove(ctx, ids[i], ""); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 3, 8, 20} {
		for after := int64(0); after <= ids[len(ids)-1]+1; after++ {
			got, err := s.Page(ctx, after, n)
			if err != nil {
				t.Fatal(err)
			}
			want := snap.Page(after, n)
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("Page(after %d, n %d) (-snapshot +database):\n%s", after, n, diff)
			}
		}
	}
	// Spot checks of the cutting itself: 8 tasks, pages of 3.
	p := snap.Page(0, 3)
	if len(p.Tasks) != 3 || p.HasPrev || p.Next != p.Tasks[2].ID || p.Total != 8 || p.Before != 0 {
		t.Errorf("first page = %+v", p)
	}
	last := snap.Page(snap.Tasks[5].ID, 3)
	if len(last.Tasks) != 2 || !last.HasPrev || last.Prev != snap.Tasks[2].ID || last.Next != 0 || last.Before != 6 {
		t.Errorf("last page = %+v", last)
	}
}

// testCap: with MaxTasks set, an add to a full list is ErrFull and changes
// nothing, not even the revision.
func testCap(t *testing.T, s *tasks.Store) {
	ctx := t.Context()
	for i := range 3 {
		if _, _, err := s.Add(ctx, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	rev, _ := s.Head(ctx)
	if _, _, err := s.Add(ctx, "one too many"); !errors.Is(err, tasks.ErrFull) {
		t.Errorf("fourth Add = %v, want ErrFull", err)
	}
	if rev2, _ := s.Head(ctx); rev2 != rev {
		t.Errorf("a refused Add moved the revision %v -> %v", rev, rev2)
	}
	if snap, _ := s.List(ctx); len(snap.Tasks) != 3 {
		t.Errorf("%d tasks after a refused Add, want 3", len(snap.Tasks))
	}
}

// testRestore: a removed task comes back with its id, name, done flag and
// creation time, once; a second restore is ErrExists, a restore into a full
// list ErrFull, and neither changes anything.
func testRestore(t *testing.T, s *tasks.Store) {
	ctx := t.Context()
	a, _, err := s.Add(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := s.Add(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if b, _, err = s.SetDone(ctx, b.ID, true, ""); err != nil {
		t.Fatal(err)
	}
	gone, v, err := s.Remove(ctx, b.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Restore(ctx, "another database", gone); !errors.Is(err, tasks.ErrChanged) {
		t.Errorf("Restore into another database = %v, want ErrChanged", err)
	}
	back, rev, err := s.Restore(ctx, v.DB, gone)
	if err != nil {
		t.Fatal(err)
	}
	if back.ID != b.ID || back.Name != "b" || !back.Done || !back.CreatedAt.Equal(b.CreatedAt) {
		t.Errorf("Restore = %+v, want %+v back", back, b)
	}
	snap, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Version() != rev || len(snap.Tasks) != 2 || snap.Tasks[1].ID != b.ID || !snap.Tasks[1].Done {
		t.Errorf("list after restore = %+v at %d", snap.Tasks, snap.Revision)
	}
	if _, _, err := s.Restore(ctx, "", gone); !errors.Is(err, tasks.ErrExists) {
		t.Errorf("second Restore = %v, want ErrExists", err)
	}
	// A new task after the restore gets a new id, not the restored one.
	c, _, err := s.Add(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	if c.ID == a.ID || c.ID == b.ID {
		t.Errorf("new task got id %d, already used", c.ID)
	}
	gone, _, err = s.Remove(ctx, a.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Add(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Head(ctx)
	if _, _, err := s.Restore(ctx, "", gone); !errors.Is(err, tasks.ErrFull) {
		t.Errorf("Restore into a full list = %v, want ErrFull", err)
	}
	if after, _ := s.Head(ctx); after != before {
		t.Errorf("version %v, want %v: refused restores must not count", after, before)
	}
}
