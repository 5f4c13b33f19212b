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

// busyRetries is how many more times Write tries to begin an SQLite
// write transaction that found the database locked (SQLITE_BUSY) after its
// busy timeout, within the context's deadline.
const busyRetries = 3

// queueTimeouts is how many database timeouts an SQLite writer may wait
// for its turn (see Write) before it gives up.
const queueTimeouts = 4

// ErrCommit reports a write whose COMMIT failed: the database may or may
// not have applied it (its answer may be what was lost).
var ErrCommit = errors.New("sqldb: commit failed")

// Write runs fn in a transaction that writes, and commits it. fn's
// statements run in the context fn is given, which carries the deadline of
// one database call (see WithTimeout). An error of fn rolls back fn's work
// and is returned as it is; a failed COMMIT is returned wrapping
// ErrCommit.
//
// On SQLite, where one writer at a time holds the file's write lock, a
// write must queue for that lock rather than fail with SQLITE_BUSY
// ("database is locked"), also when several instances share the file:
//
//   - writers queue before they begin, because SQLite's own wait polls
//     (sleeping up to 100 ms between tries), which under many waiters
//     lets some wait for seconds and fail: the writers of one DB queue in
//     process, and the one whose turn it is takes an exclusive flock(2) on
//     a lock file beside the database ("tasklist.db-write-lock"), which
//     the kernel hands over as soon as the holder lets go (and drops if the
//     holder dies). A writer waits up to queueTimeouts database timeouts:
//     the transaction ahead of it is bounded by one, so the queue moves
//     unless it is very long;
//   - the writer whose turn it is runs, in one transaction, every write
//     queued at that moment, its own and the others', each in a savepoint
//     of its own (a failing fn rolls back its savepoint only), and commits
//     them together: group commit. Each COMMIT waits for the disk (fsync),
//     and writers that queued behind one share the next, so under
//     concurrent writes the disk's wait is paid once per group, not once
//     per write. Every write still answers only after its COMMIT. A write
//     joins a group under a context of the group's, not its own, so that a
//     client that goes away cannot interrupt the others' statements;
//   - the DSN makes the transaction BEGIN IMMEDIATE (_txlock=immediate),
//     so SQLite's lock is taken at the start and waited for under
//     busy_timeout (only writers outside this queue, such as the sqlite3
//     shell, make it wait); a deferred transaction that reads first and
//     writes later could fail at once when another writer committed in
//     between; a BEGIN that still finds the database busy is retried up
//     to busyRetries times, within the deadline.
//
// Other databases queue writers themselves: Write is a transaction of its
// own there.
func (db *DB) Write(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if db.target.dialect == SQLite {
		return db.queueWrite(ctx, fn)
	}
	txCtx, cancel := db.WithTimeout(ctx)
	defer cancel()
	tx, err := db.BeginTx(txCtx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(txCtx, tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%w: %w", ErrCommit, err)
	}
	return nil
}

// write is one queued SQLite write: its fn and the channel that gets its
// outcome, once.
type write struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx *sql.Tx) error
	done chan error
}

// queueWrite queues fn and waits for its outcome: run in a group by the
// writer whose turn it is, or by this writer when its turn comes (see
// Write).
func (db *DB) queueWrite(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	w := &write{ctx: ctx, fn: fn, done: make(chan error, 1)}
	db.queueMu.Lock()
	db.queue = append(db.queue, w)
	db.queueMu.Unlock()
	qctx, cancel := context.WithTimeout(ctx, queueTimeouts*db.timeout)
	defer cancel()
	select {
	case err := <-w.done: // run in another writer's group
		return err
	case db.writer <- struct{}{}:
		unlock, err := db.lockFile(qctx)
		if err != nil {
			if db.withdraw(w) {
				return err
			}
			return <-w.done
		}
		db.runGroup(db.takeQueue())
		unlock()
		<-db.writer
		return <-w.done
	case <-qctx.Done():
		if db.withdraw(w) {
			return fmt.Errorf("sqldb: waiting for the write lock: %w", qctx.Err())
		}
		return <-w.done // a group has it: its outcome
	}
}

// withdraw takes w out of the queue; false when a group has taken it.
func (db *DB) withdraw(w *write) bool {
	db.queueMu.Lock()
	defer db.queueMu.Unlock()
	for i, q := range db.queue {
		if q == w {
			db.queue = append(db.queue[:i], db.queue[i+1:]...)
			return true
		}
	}
	return false
}

// takeQueue empties the queue and returns what it held.
func (db *DB) takeQueue() []*write {
	db.queueMu.Lock()
	defer db.queueMu.Unlock()
	q := db.queue
	db.queue = nil
	return q
}

// runGroup runs the writes of group in one transaction, each in a savepoint
// of its own, commits, and gives each its outcome. A write whose context
// ended before its turn is not run.
func (db *DB) runGroup(group []*write) {
	var live []*write
	for _, w := range group {
		if err := w.ctx.Err(); err != nil {
			w.done <- err
			continue
		}
		live = append(live, w)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := db.WithTimeout(context.Background())
	defer cancel()
	tx, err := db.beginImmediate(ctx)
	if err != nil {
		for _, w := range live {
			w.done <- err
		}
		return
	}
	defer tx.Rollback()
	var ran []*write // run, and waiting for the COMMIT
	for i, w := range live {
		if err := savepoint(ctx, tx, w.fn); err != nil {
			var broken *brokenTx
			if !errors.As(err, &broken) {
				w.done <- err
				continue
			}
			// The transaction is unusable: nothing of the group stands.
			for _, w := range append(ran, live[i:]...) {
				w.done <- broken.err
			}
			return
		}
		ran = append(ran, w)
	}
	if len(ran) == 0 {
		return
	}
	err = tx.Commit()
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrCommit, err)
	} else {
		db.commits.Add(1)
	}
	for _, w := range ran {
		w.done <- err
	}
}

// brokenTx reports a transaction that a savepoint could not be made in,
// released or rolled back to.
type brokenTx struct{ err error }

func (b *brokenTx) Error() string { return b.err.Error() }

// savepoint runs fn in a savepoint of tx: fn's error rolls back what fn
// did, and only that, and is returned; a *brokenTx says tx is unusable.
func savepoint(ctx context.Context, tx *sql.Tx, fn func(context.Context, *sql.Tx) error) error {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT write"); err != nil {
		return &brokenTx{err}
	}
	if err := fn(ctx, tx); err != nil {
		if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO write"); rerr != nil {
			return &brokenTx{errors.Join(err, rerr)}
		}
		if _, rerr := tx.ExecContext(ctx, "RELEASE write"); rerr != nil {
			return &brokenTx{errors.Join(err, rerr)}
		}
		return err
	}
	if _, err := tx.ExecContext(ctx, "RELEASE write"); err != nil {
		return &brokenTx{err}
	}
	return nil
}

// beginImmediate begins the write transaction (BEGIN IMMEDIATE, from the
// DSN), retrying busyRetries times on SQLITE_BUSY within ctx.
func (db *DB) beginImmediate(ctx context.Context) (*sql.Tx, error) {
	for try := 0; ; try++ {
		tx, err := db.BeginTx(ctx, nil)
		if err == nil || !busy(err) || try == busyRetries {
			return tx, err
		}
		select {
		case <-time.After(time.Duration(10<<try) * time.Millisecond):
		case <-ctx.Done():
			return nil, err
		}
	}
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

// The lock files beside an SQLite database file: the migrations' (see
// fileLocker) and the writers' (see Write). They stay in place.
const (
	MigrateLockSuffix = "-migrate-lock"
	WriteLockSuffix   = "-write-lock"
)

// openWriteLock opens (creating it if need be) the write lock file of the
// SQLite database file; see Write. It stays in place.
func openWriteLock(file string) (*os.File, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(abs+WriteLockSuffix, os.O_CREATE|os.O_RDWR, 0o600)
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
