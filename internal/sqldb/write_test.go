package sqldb_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// TestSQLiteWritesTakeTurns: the process's WriteTx and ExecContext writes
// to SQLite never run at once (so none sleeps in SQLite's busy timer), and
// every one of them lands.
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
	for range writers {
		wg.Go(func() {
			for range each {
				errs <- db.WriteTx(t.Context(), func(tx *sql.Tx) error {
					n := inside.Add(1)
					defer inside.Add(-1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					_, err := tx.ExecContext(t.Context(), "UPDATE counter SET n = n + 1")
					return err
				})
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

// TestWriteTx: fn's error rolls the transaction back and comes back as it
// is; a write waiting for its turn gives up when its context ends.
func TestWriteTx(t *testing.T) {
	db := open(t, "sqlite:"+filepath.Join(t.TempDir(), "w.db"))
	if _, err := db.ExecContext(t.Context(), "CREATE TABLE items (id INTEGER PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	refused := errors.New("refused")
	err := db.WriteTx(t.Context(), func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(t.Context(), "INSERT INTO items (id) VALUES (1)"); err != nil {
			return err
		}
		return refused
	})
	if err != refused {
		t.Errorf("WriteTx = %v, want fn's error as it is", err)
	}
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM items").Scan(&n); err != nil || n != 0 {
		t.Errorf("after a failed fn: %d rows (%v), want 0", n, err)
	}

	inside, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- db.WriteTx(t.Context(), func(*sql.Tx) error {
			close(inside)
			<-release
			return nil
		})
	}()
	<-inside
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := db.WriteTx(ctx, func(*sql.Tx) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("WriteTx while another writes, context cancelled = %v, want context.Canceled", err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO items (id) VALUES (2)"); !errors.Is(err, context.Canceled) {
		t.Errorf("ExecContext while another writes, context cancelled = %v, want context.Canceled", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
