package tasks

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/tasklist/tasklist/internal/sqldb"
)

// Options tune a Store. The zero value is ready to use.
type Options struct {
	// SlowQuery is added to every List, to make the cost of an uncached
	// query visible (TASKLIST_SLOW_QUERY, like the tutorial's sleep).
	SlowQuery time.Duration
	// MaxTasks, when positive, is the most tasks the list holds: Add
	// answers ErrFull beyond it (TASKLIST_MAX_TASKS).
	MaxTasks int
	// Now returns the current time; nil means time.Now. Tests inject one.
	Now func() time.Time
}

// Store keeps tasks in an SQL database. It is safe for concurrent use, and
// several Stores (in several processes) may share one database.
type Store struct {
	db   *sqldb.DB
	opts Options
	// ownsDB is set by Open: Close closes db.
	ownsDB   bool
	prepared prepared
	// identity is the database's identity as read last (see Identity).
	identity atomic.Pointer[string]
}

// migrations holds the store's schema history, one folder per dialect.
//
//go:embed migrations
var migrations embed.FS

// New returns a Store keeping tasks in db, which the caller opened (see
// sqldb.Open) and closes, and may share with other stores. Call Migrate
// before using the Store.
func New(db *sqldb.DB, opts Options) *Store {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Store{db: db, opts: opts}
}

// Open opens the database rawURL names (see sqldb.Open; with the default
// timeout) for a Store that is its only user, so that Close closes it. It
// does not migrate; call Migrate.
// Errors never contain the password.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	db, err := sqldb.Open(ctx, rawURL, sqldb.Options{})
	if err != nil {
		return nil, err
	}
	s := New(db, opts)
	s.ownsDB = true
	return s, nil
}

// versionTable is where the store's migrations are recorded.
// previousVersionTable is where builds before it recorded them: goose's
// default table, which another program using goose may share, so Migrate
// takes its records over only for a database that has the store's tables,
// and never changes it (see sqldb.PreviousTable); once no such build runs
// and no other program uses it, an operator may drop it.
const (
	versionTable         = "tasklist_tasks_db_version"
	previousVersionTable = "goose_db_version"
)

// Migrate brings the tasks tables up to date with the migrations embedded
// in the binary and logs each one it applies (see sqldb.DB.Migrate), and
// gives a database without an identity its own (see Head). It is safe to
// call from several instances at once.
func (s *Store) Migrate(ctx context.Context, log *slog.Logger) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("tasks: migrations: %w", err)
	}
	err = s.db.Migrate(ctx, sqldb.Migrations{
		Component:    "tasks",
		FS:           fsys,
		VersionTable: versionTable,
		Previous:     sqldb.PreviousTable{Name: previousVersionTable, Tables: []string{"tasks", "tasklist_meta"}},
	}, log)
	if err != nil {
		return err
	}
	// A new database gets its identity with its schema.
	_, err = s.Head(ctx)
	return err
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

// Close closes the database when Open opened it; a Store made by New
// leaves that to the database's owner.
func (s *Store) Close() error {
	err := s.prepared.close()
	if !s.ownsDB {
		return err
	}
	return errors.Join(err, s.db.Close())
}

// List returns all tasks, oldest first, with the version they belong to,
// read in one transaction so the two agree. It waits Options.SlowQuery
// first; the read itself is bounded by the database's timeout (see
// sqldb.Options), like every call of the Store.
func (s *Store) List(ctx context.Context) (Snapshot, error) {
	if err := s.slow(ctx); err != nil {
		return Snapshot{}, err
	}
	ctx, cancel := s.db.WithTimeout(ctx)
	defer cancel()
	tx, err := s.db.BeginTx(ctx, s.db.ReadTxOptions())
	if err != nil {
		return Snapshot{}, fmt.Errorf("tasks: list: %w", err)
	}
	defer tx.Rollback()
	var snap Snapshot
	var db sql.NullString
	if err := s.queryRow(ctx, tx, headQuery).Scan(&db, &snap.Revision); err != nil {
		return Snapshot{}, fmt.Errorf("tasks: list: %w", err)
	}
	snap.DB = s.note(db.String)
	rows, err := s.query(ctx, tx, "SELECT "+s.taskColumns()+" FROM tasks ORDER BY id")
	if err != nil {
		return Snapshot{}, fmt.Errorf("tasks: list: %w", err)
	}
	if snap.Tasks, err = scanTasks(rows, 0); err != nil {
		return Snapshot{}, fmt.Errorf("tasks: list: %w", err)
	}
	return snap, tx.Commit()
}

// slow waits Options.SlowQuery, the simulated cost of a list query.
func (s *Store) slow(ctx context.Context) error {
	if d := s.opts.SlowQuery; d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Add stores a new task named name, which must already be normalized (see
// NormalizeName), and returns it with the version of the write, or
// ErrFull when the list holds Options.MaxTasks tasks already.
func (s *Store) Add(ctx context.Context, name string) (Task, Version, error) {
	now := s.now()
	t := Task{Name: name, CreatedAt: now, UpdatedAt: now}
	v, err := s.write(ctx, "add", func(ctx context.Context, tx *sql.Tx, _ string) error {
		if err := s.checkRoom(ctx, tx); err != nil {
			return err
		}
		return s.insert(ctx, tx, &t)
	})
	return t, v, err
}

// Restore puts a removed task back into database db (the identity of the
// database it was removed from; "" for any): t's id, name, done flag and
// creation time, so it shows where it was. It returns the task as stored
// with the version of the write; ErrExists when a task with t's id is in
// the list (it was restored already), ErrFull when the list is full,
// ErrChanged when the database is not db.
func (s *Store) Restore(ctx context.Context, db string, t Task) (Task, Version, error) {
	t.CreatedAt = t.CreatedAt.UTC().Truncate(time.Microsecond)
	t.UpdatedAt = s.now()
	v, err := s.write(ctx, "restore", func(ctx context.Context, tx *sql.Tx, current string) error {
		if db != "" && db != current {
			return ErrChanged
		}
		var n int
		if err := tx.QueryRowContext(ctx, s.db.Rebind("SELECT COUNT(*) FROM tasks WHERE id = ?"), t.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrExists
		}
		if err := s.checkRoom(ctx, tx); err != nil {
			return err
		}
		return s.insert(ctx, tx, &t)
	})
	return t, v, err
}

// checkRoom answers ErrFull when the list holds Options.MaxTasks tasks.
// It counts after write took the revision row's lock, so concurrent adds
// cannot both pass it.
func (s *Store) checkRoom(ctx context.Context, tx *sql.Tx) error {
	if s.opts.MaxTasks <= 0 {
		return nil
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM tasks").Scan(&n); err != nil {
		return err
	}
	if n >= s.opts.MaxTasks {
		return ErrFull
	}
	return nil
}

// insert stores t, with its ID when it has one (a restore), else with a
// new one that it sets.
func (s *Store) insert(ctx context.Context, tx *sql.Tx, t *Task) error {
	args := []any{t.Name, t.Done, t.CreatedAt, t.UpdatedAt}
	if t.ID != 0 {
		// PostgreSQL's identity column takes a given id only when told to.
		override := ""
		if s.db.Dialect() == sqldb.Postgres {
			override = "OVERRIDING SYSTEM VALUE "
		}
		q := "INSERT INTO tasks (id, name, done, created_at, updated_at) " + override + "VALUES (?, ?, ?, ?, ?)"
		_, err := tx.ExecContext(ctx, s.db.Rebind(q), append([]any{t.ID}, args...)...)
		return err
	}
	const q = "INSERT INTO tasks (name, done, created_at, updated_at) VALUES (?, ?, ?, ?)"
	if s.db.Dialect() == sqldb.MySQL {
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		t.ID, err = res.LastInsertId()
		return err
	}
	return tx.QueryRowContext(ctx, s.db.Rebind(q+" RETURNING id"), args...).Scan(&t.ID)
}

// SetDone marks task id done or open and returns the task as it is now,
// with the version of the write; ErrNotFound when there is no such task.
// When seen is not empty the task must be as seen names it (see Seen),
// else nothing changes and the error is ErrChanged. Setting a state, not
// flipping it, makes a repeated or late request harmless.
func (s *Store) SetDone(ctx context.Context, id int64, done bool, seen string) (Task, Version, error) {
	var t Task
	v, err := s.write(ctx, "set done", func(ctx context.Context, tx *sql.Tx, db string) error {
		if err := s.current(ctx, tx, db, id, seen, &t); err != nil {
			return err
		}
		t.Done, t.UpdatedAt = done, s.now()
		_, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE tasks SET done = ?, updated_at = ? WHERE id = ?"), done, t.UpdatedAt, id)
		return err
	})
	return t, v, err
}

// Remove deletes task id and returns it as it was, with the version of
// the write; ErrNotFound when there is no such task, ErrChanged when seen
// is not empty and the task is not as it names it (see SetDone).
func (s *Store) Remove(ctx context.Context, id int64, seen string) (Task, Version, error) {
	var t Task
	v, err := s.write(ctx, "remove", func(ctx context.Context, tx *sql.Tx, db string) error {
		if err := s.current(ctx, tx, db, id, seen, &t); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM tasks WHERE id = ?"), id)
		return err
	})
	return t, v, err
}

// current reads task id into t within a write of database db: ErrNotFound
// when it is not there, ErrChanged when seen is not empty and does not name
// it as it is.
func (s *Store) current(ctx context.Context, tx *sql.Tx, db string, id int64, seen string, t *Task) error {
	rows, err := tx.QueryContext(ctx, s.db.Rebind("SELECT "+s.taskColumns()+" FROM tasks WHERE id = ?"), id)
	if err != nil {
		return err
	}
	found, err := scanTasks(rows, 1)
	if err != nil {
		return err
	}
	if len(found) == 0 {
		if seen != "" {
			// A form for a task of the page it came from: gone since, or
			// never in this database.
			return ErrChanged
		}
		return ErrNotFound
	}
	*t = found[0]
	if seen != "" && Seen(db, *t) != seen {
		return ErrChanged
	}
	return nil
}

// write runs fn in a transaction that first locks the row of the
// revision, so that writers queue in one order, and hands fn the database's
// identity; the triggers move the revision with every change fn makes, and
// the version returned is the one read at the end of fn. The whole
// transaction has the database's timeout (see sqldb.DB.Write, which on
// SQLite may commit it together with other writes); a failure before
// COMMIT leaves nothing behind, a failure of COMMIT itself is
// ErrOutcomeUnknown.
func (s *Store) write(ctx context.Context, op string, fn func(ctx context.Context, tx *sql.Tx, db string) error) (Version, error) {
	var v Version
	err := s.db.Write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		lock := headQuery
		if s.db.Dialect() != sqldb.SQLite { // SQLite's write transaction holds the lock already
			lock += " FOR UPDATE"
		}
		var db sql.NullString
		if err := tx.QueryRowContext(ctx, lock).Scan(&db, &v.Revision); err != nil {
			return fmt.Errorf("revision: %w", err)
		}
		v.DB = s.note(db.String)
		if err := fn(ctx, tx, v.DB); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, "SELECT revision FROM tasklist_meta WHERE id = 1").Scan(&v.Revision)
	})
	switch {
	case err == nil:
		return v, nil
	case errors.Is(err, ErrNotFound) || errors.Is(err, ErrFull) || errors.Is(err, ErrExists) || errors.Is(err, ErrChanged):
		return Version{}, err
	case errors.Is(err, sqldb.ErrCommit):
		// The COMMIT may have reached the server and been applied, with
		// only its answer lost.
		return Version{}, fmt.Errorf("tasks: %s: %w: %w", op, ErrOutcomeUnknown, err)
	}
	return Version{}, fmt.Errorf("tasks: %s: %w", op, err)
}

func (s *Store) now() time.Time {
	// Microseconds: the finest resolution all three databases keep.
	return s.opts.Now().UTC().Truncate(time.Microsecond)
}
