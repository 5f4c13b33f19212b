package sqldb_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tasklist/tasklist/internal/sqldb"

	"github.com/tasklist/tasklist/internal/testenv"
)

// TestSQLiteWritesTakeTurns: the process's Write transactions and
// ExecContext writes to SQLite never run at once (so none sleeps in
// SQLite's busy timer), and every one of them lands.
func TestSQLiteWritesTakeTurns(t *testing.T) {
	db := testenv.OpenDB(t, testenv.SQLiteURL(t, "w.db"))
	if _, err := db.ExecContext(t.Context(), "CREATE TABLE counter (n INTEGER NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(t.Context(), "INSERT INTO counter (n) VALUES (0)"); err != nil {
		t.Fatal(err)
	}
	const writers, each = 16, 10
	var (
		inside, most atomic.Int32
		wg           sync.WaitGroup
		errs         = make(chan error, 2*writers*each)
	)
	write := func() error {
		return db.Write(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
			n := inside.Add(1)
			defer inside.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			_, err := tx.ExecContext(ctx, "UPDATE counter SET n = n + 1")
			return err
		})
	}
	for range writers {
		wg.Go(func() {
			for range each {
				errs <- write()
			}
		})
		wg.Go(func() {
			for range each {
				_, err := db.ExecContext(t.Context(), "UPDATE counter SET n = n + 1")
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if m := most.Load(); m != 1 {
		t.Errorf("%d write transactions ran at once, want 1", m)
	}
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT n FROM counter").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if want := 2 * writers * each; n != want {
		t.Errorf("counter = %d, want %d", n, want)
	}
}

// holdTurn starts a write that holds the writers' turn until the returned
// func is called, and returns once it runs.
func holdTurn(t *testing.T, db *sqldb.DB) (release func()) {
	t.Helper()
	running, let := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- db.Write(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
			close(running)
			<-let
			return nil
		})
	}()
	<-running
	return func() {
		close(let)
		if err := <-done; err != nil {
			t.Errorf("the write holding the turn: %v", err)
		}
	}
}

// TestWaitingWriterGivesUp: a write waiting for its turn gives up when its
// context ends, through Write and through ExecContext, and nothing of it
// is written.
func TestWaitingWriterGivesUp(t *testing.T) {
	db := testenv.OpenDB(t, testenv.SQLiteURL(t, "w.db"))
	if _, err := db.ExecContext(t.Context(), "CREATE TABLE items (id INTEGER PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	release := holdTurn(t, db)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := db.Write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO items (id) VALUES (1)")
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Write while another writes, context cancelled = %v, want context.Canceled", err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO items (id) VALUES (2)"); !errors.Is(err, context.Canceled) {
		t.Errorf("ExecContext while another writes, context cancelled = %v, want context.Canceled", err)
	}
	release()
	if _, err := db.ExecContext(t.Context(), "INSERT INTO items (id) VALUES (3)"); err != nil {
		t.Errorf("ExecContext after the writer let go: %v", err)
	}
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM items").Scan(&n); err != nil || n != 1 {
		t.Errorf("items = %d (%v), want 1", n, err)
	}
}

// TestGroupCommit: writes queued behind the one holding the turn are
// committed together, in one transaction, each in its own savepoint: the
// one that fails leaves nothing behind and gets its own error, the others
// land.
func TestGroupCommit(t *testing.T) {
	db := testenv.OpenDB(t, testenv.SQLiteURL(t, "w.db"))
	if _, err := db.ExecContext(t.Context(), "CREATE TABLE items (id INTEGER PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	release := holdTurn(t, db)
	failed := errors.New("refused")
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			errs[i] = db.Write(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, "INSERT INTO items (id) VALUES (?)", i+1); err != nil {
					return err
				}
				if i == 3 {
					return failed // after its insert: rolled back
				}
				return nil
			})
		})
	}
	testenv.WaitFor(t, "8 writes queued behind the turn", func() bool { return db.Queued() == writers })
	before := db.Commits()
	release()
	wg.Wait()
	// The write that held the turn commits, then the eight queued behind
	// it together.
	if n := db.Commits() - before; n != 2 {
		t.Errorf("the held write and %d queued behind it took %d transactions, want 2", writers, n)
	}
	for i, err := range errs {
		if i == 3 && !errors.Is(err, failed) || i != 3 && err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	var ids []int
	rows, err := db.QueryContext(t.Context(), "SELECT id FROM items ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int
		rows.Scan(&id)
		ids = append(ids, id)
	}
	if want := []int{1, 2, 3, 5, 6, 7, 8}; !slices.Equal(ids, want) {
		t.Errorf("items = %v, want %v", ids, want)
	}
}
