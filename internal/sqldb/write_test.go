package sqldb_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// TestSQLiteWritesTakeTurns: the process's BeginWrite transactions and
// ExecContext writes to SQLite never run at once (so none sleeps in
// SQLite's busy timer), and every one of them lands.
func TestSQLiteWritesTakeTurns(t *testing.T) {
	db := open(t, "sqlite:"+filepath.Join(t.TempDir(), "w.db"))
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
		ctx, tx, release, err := db.BeginWrite(t.Context())
		if err != nil {
			return err
		}
		defer release()
		defer tx.Rollback()
		n := inside.Add(1)
		defer inside.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		if _, err := tx.ExecContext(ctx, "UPDATE counter SET n = n + 1"); err != nil {
			return err
		}
		return tx.Commit()
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

// TestWaitingWriterGivesUp: a write waiting for its turn gives up when its
// context ends, through BeginWrite and through ExecContext.
func TestWaitingWriterGivesUp(t *testing.T) {
	db := open(t, "sqlite:"+filepath.Join(t.TempDir(), "w.db"))
	if _, err := db.ExecContext(t.Context(), "CREATE TABLE items (id INTEGER PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	_, tx, release, err := db.BeginWrite(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, _, err := db.BeginWrite(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("BeginWrite while another writes, context cancelled = %v, want context.Canceled", err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO items (id) VALUES (2)"); !errors.Is(err, context.Canceled) {
		t.Errorf("ExecContext while another writes, context cancelled = %v, want context.Canceled", err)
	}
	tx.Rollback()
	release()
	if _, err := db.ExecContext(t.Context(), "INSERT INTO items (id) VALUES (3)"); err != nil {
		t.Errorf("ExecContext after the writer let go: %v", err)
	}
}
