package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/pressly/goose/v3/lock"
)

// fileLocker serializes the migrations of one SQLite database across
// connections and processes: SQLite has no lock a migration can hold while
// running its own transactions, so it takes an exclusive flock(2) on a
// lock file beside the database ("tasklist.db-migrate-lock"), which it
// deletes on Unlock. The kernel drops the lock of a process that dies.
// It implements goose's lock.Locker; one Migrate uses one fileLocker.
type fileLocker struct {
	path string
	f    *os.File
}

var _ lock.Locker = (*fileLocker)(nil)

func newFileLocker(dbFile string) (*fileLocker, error) {
	abs, err := filepath.Abs(dbFile)
	if err != nil {
		return nil, err
	}
	return &fileLocker{path: abs + MigrateLockSuffix}, nil
}

// fileLockPoll is how often Lock tries again while another holds the lock.
const fileLockPoll = 20 * time.Millisecond

// Lock waits until it holds the lock or ctx is done.
func (l *fileLocker) Lock(ctx context.Context, _ *sql.DB) error {
	for {
		f, err := os.OpenFile(l.path, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil && l.current(f) {
			l.f = f
			return nil
		}
		f.Close()
		if err != nil && !errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("migration lock %s: %w", l.path, err)
		}
		// Held by another, or deleted by its holder after we opened it:
		// try again on the file now at l.path.
		select {
		case <-ctx.Done():
			return fmt.Errorf("migration lock %s: %w", l.path, ctx.Err())
		case <-time.After(fileLockPoll):
		}
	}
}

// current reports whether f, which we hold locked, is still the file at
// l.path: the previous holder deletes it on Unlock, possibly after we
// opened it.
func (l *fileLocker) current(f *os.File) bool {
	held, err := f.Stat()
	if err != nil {
		return false
	}
	now, err := os.Stat(l.path)
	return err == nil && os.SameFile(held, now)
}

// Unlock deletes the lock file, then releases it: a waiter that opened the
// deleted file sees it is no longer current and opens the path again.
func (l *fileLocker) Unlock(context.Context, *sql.DB) error {
	if l.f == nil {
		return nil
	}
	err := os.Remove(l.path)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	if err != nil {
		return fmt.Errorf("migration unlock: %w", err)
	}
	return nil
}
