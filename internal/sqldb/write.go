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

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// busyRetries is how many more times BeginWrite tries to begin an SQLite
// write transaction that found the database locked (SQLITE_BUSY) after its
// busy timeout, within the context's deadline.
const busyRetries = 3

// queueTimeouts is how many database timeouts an SQLite writer may wait
// for its turn (see BeginWrite) before it gives up.
const queueTimeouts = 4

// BeginWrite begins a transaction that writes and returns it with the
// context to run its statements in, which carries the deadline of one
// database call (see WithTimeout). The caller commits or rolls the
// transaction back, then calls release (always, once; a deferred call
// after a deferred Rollback does both in the right order).
//
// On SQLite, where one writer at a time holds the file's write lock, a
// write must queue for that lock rather than fail with SQLITE_BUSY
// ("database is locked"), also when several instances share the file:
//
//   - writers queue before they begin, because SQLite's own wait polls
//     (sleeping up to 100 ms between tries), which under many waiters
//     lets some wait for seconds and fail: the writers of one DB queue in
//     process, first come first served, and the first of each instance
//     takes an exclusive flock(2) on a lock file beside the database
//     ("tasklist.db-write-lock"), which the kernel hands over as soon as
//     the holder lets go (and drops if the holder dies). A writer waits
//     for its turn up to queueTimeouts database timeouts: the transaction
//     ahead of it is bounded by one, so the queue moves unless it is
//     very long;
//   - then the DSN makes the transaction BEGIN IMMEDIATE
//     (_txlock=immediate), so SQLite's lock is taken at the start and
//     waited for under busy_timeout (only writers outside this queue, such
//     as the sqlite3 shell, make it wait); a deferred transaction that
//     reads first and writes later could fail at once when another writer
//     committed in between;
//   - a BEGIN that still finds the database busy is retried up to
//     busyRetries times, within the deadline.
//
// Other databases queue writers themselves: BeginWrite is BeginTx there.
func (db *DB) BeginWrite(ctx context.Context) (txCtx context.Context, tx *sql.Tx, release func(), err error) {
	if db.target.dialect != SQLite {
		txCtx, cancel := db.WithTimeout(ctx)
		tx, err = db.BeginTx(txCtx, nil)
		if err != nil {
			cancel()
			return nil, nil, nil, err
		}
		return txCtx, tx, cancel, nil
	}
	unlock, err := db.takeTurn(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	txCtx, cancel := db.WithTimeout(ctx)
	release = func() {
		cancel()
		unlock()
	}
	for try := 0; ; try++ {
		tx, err = db.BeginTx(txCtx, nil)
		if err == nil || !busy(err) || try == busyRetries {
			break
		}
		select {
		case <-time.After(time.Duration(10<<try) * time.Millisecond):
		case <-txCtx.Done():
		}
	}
	if err != nil {
		release()
		return nil, nil, nil, err
	}
	return txCtx, tx, release, nil
}

// takeTurn waits until this writer is the one of this process whose turn
// it is and holds the write lock file, for up to queueTimeouts database
// timeouts, and returns the func that lets go of both.
func (db *DB) takeTurn(ctx context.Context) (unlock func(), err error) {
	ctx, cancel := context.WithTimeout(ctx, queueTimeouts*db.timeout)
	defer cancel()
	select {
	case db.writer <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("sqldb: waiting for the write lock: %w", ctx.Err())
	}
	unlockFile, err := db.lockFile(ctx)
	if err != nil {
		return nil, err
	}
	return func() {
		unlockFile()
		<-db.writer
	}, nil
}

// lockFile takes the write lock file of db, with this process's writer
// token held, and returns its unlock; no file is locked for an in-memory
// database. On error the token is given back: at once, or, if ctx ended
// while flock waits, once flock has granted the lock and it is let go.
func (db *DB) lockFile(ctx context.Context) (unlock func(), err error) {
	if db.writeLock == nil {
		return func() {}, nil
	}
	fd := int(db.writeLock.Fd())
	got := make(chan error, 1)
	go func() { got <- flockRetrying(fd) }()
	select {
	case err := <-got:
		if err != nil {
			<-db.writer
			return nil, fmt.Errorf("sqldb: write lock %s: %w", db.writeLock.Name(), err)
		}
		return func() { syscall.Flock(fd, syscall.LOCK_UN) }, nil
	case <-ctx.Done():
		go func() {
			if <-got == nil {
				syscall.Flock(fd, syscall.LOCK_UN)
			}
			<-db.writer
		}()
		return nil, fmt.Errorf("sqldb: waiting for the write lock: %w", ctx.Err())
	}
}

// flockRetrying takes an exclusive flock on fd, waiting as long as it takes.
func flockRetrying(fd int) error {
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// openWriteLock opens (creating it if need be) the write lock file of the
// SQLite database file; see BeginWrite. It stays in place.
func openWriteLock(file string) (*os.File, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(abs+"-write-lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqldb: write lock: %w", err)
	}
	return f, nil
}

// ReadTxOptions returns the options of a read-only transaction that sees
// one snapshot of the database for all its queries: repeatable read on
// MySQL and PostgreSQL; on SQLite, whose transactions are snapshots, a
// deferred BEGIN that takes no write lock.
func (db *DB) ReadTxOptions() *sql.TxOptions {
	if db.target.dialect == SQLite {
		return &sql.TxOptions{ReadOnly: true}
	}
	return &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
}

// busy reports SQLite's SQLITE_BUSY, with any extended code.
func busy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}
