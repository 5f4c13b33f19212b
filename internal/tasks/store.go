package tasks

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
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

// Migrate brings the tasks tables up to date with the migrations embedded
// in the binary and logs each one it applies; see sqldb.DB.Migrate. It is
// safe to call from several instances at once.
func (s *Store) Migrate(ctx context.Context, log *slog.Logger) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("tasks: migrations: %w", err)
	}
	return s.db.Migrate(ctx, sqldb.Migrations{
		Component: "tasks",
		FS:        fsys,
		// goose's default table, which databases migrated before other
		// components existed already have.
		VersionTable: "goose_db_version",
	}, log)
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

// List returns all tasks, oldest first, with the revision they belong to,
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
	if err := s.queryRow(ctx, tx, "SELECT revision FROM tasklist_meta WHERE id = 1").Scan(&snap.Revision); err != nil {
		return Snapshot{}, fmt.Errorf("tasks: list: %w", err)
	}
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

// Revision returns the revision of the latest committed write: a cheap
// query (one row by primary key), unaffected by Options.SlowQuery.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	ctx, cancel := s.db.WithTimeout(ctx)
	defer cancel()
	var rev int64
	if err := s.db.QueryRowContext(ctx, "SELECT revision FROM tasklist_meta WHERE id = 1").Scan(&rev); err != nil {
		return 0, fmt.Errorf("tasks: revision: %w", err)
	}
	return rev, nil
}

// Add stores a new task named name, which must already be normalized (see
// NormalizeName), and returns it with the revision of the write, or
// ErrFull when the list holds Options.MaxTasks tasks already.
func (s *Store) Add(ctx context.Context, name string) (Task, int64, error) {
	now := s.now()
	t := Task{Name: name, CreatedAt: now, UpdatedAt: now}
	rev, err := s.write(ctx, "add", func(ctx context.Context, tx *sql.Tx) error {
		if err := s.checkRoom(ctx, tx); err != nil {
			return err
		}
		return s.insert(ctx, tx, &t)
	})
	return t, rev, err
}

// Restore puts a removed task back: t's id, name, done flag and creation
// time, so it shows where it was. It returns the task as stored with the
// revision of the write; ErrExists when a task with t's id is in the list
// (it was restored already), ErrFull when the list is full.
func (s *Store) Restore(ctx context.Context, t Task) (Task, int64, error) {
	t.CreatedAt = t.CreatedAt.UTC().Truncate(time.Microsecond)
	t.UpdatedAt = s.now()
	rev, err := s.write(ctx, "restore", func(ctx context.Context, tx *sql.Tx) error {
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
	return t, rev, err
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

// Toggle flips the done flag of task id and returns the task as it is now,
// with the revision of the write, or ErrNotFound.
func (s *Store) Toggle(ctx context.Context, id int64) (Task, int64, error) {
	var t Task
	rev, err := s.write(ctx, "toggle", func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE tasks SET done = NOT done, updated_at = ? WHERE id = ?"), s.now(), id)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		return scanTask(tx.QueryRowContext(ctx, s.db.Rebind("SELECT "+s.taskColumns()+" FROM tasks WHERE id = ?"), id), &t)
	})
	return t, rev, err
}

// Remove deletes task id and returns it as it was, with the revision of
// the write, or ErrNotFound.
func (s *Store) Remove(ctx context.Context, id int64) (Task, int64, error) {
	var t Task
	rev, err := s.write(ctx, "remove", func(ctx context.Context, tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, s.db.Rebind("SELECT "+s.taskColumns()+" FROM tasks WHERE id = ?"), id)
		if err != nil {
			return err
		}
		found, err := scanTasks(rows, 1)
		if err != nil {
			return err
		}
		if len(found) == 0 {
			return ErrNotFound
		}
		t = found[0]
		_, err = tx.ExecContext(ctx, s.db.Rebind("DELETE FROM tasks WHERE id = ?"), id)
		return err
	})
	return t, rev, err
}

// write runs fn in a transaction that first bumps the revision. Bumping
// first takes the revision row's lock before anything else, so writers queue
// in one order and a failed fn leaves the revision untouched. The whole
// transaction has the database's timeout (see sqldb.DB.Write, which on
// SQLite may commit it together with other writes); a failure before
// COMMIT leaves nothing behind, a failure of COMMIT itself is
// ErrOutcomeUnknown.
func (s *Store) write(ctx context.Context, op string, fn func(ctx context.Context, tx *sql.Tx) error) (int64, error) {
	var rev int64
	err := s.db.Write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		const bump = "UPDATE tasklist_meta SET revision = revision + 1 WHERE id = 1"
		var err error
		if s.db.Dialect() == sqldb.MySQL {
			if _, err = tx.ExecContext(ctx, bump); err == nil {
				err = tx.QueryRowContext(ctx, "SELECT revision FROM tasklist_meta WHERE id = 1").Scan(&rev)
			}
		} else {
			err = tx.QueryRowContext(ctx, bump+" RETURNING revision").Scan(&rev)
		}
		if err != nil {
			return fmt.Errorf("revision: %w", err)
		}
		return fn(ctx, tx)
	})
	switch {
	case err == nil:
		return rev, nil
	case errors.Is(err, ErrNotFound) || errors.Is(err, ErrFull) || errors.Is(err, ErrExists):
		return 0, err
	case errors.Is(err, sqldb.ErrCommit):
		// The COMMIT may have reached the server and been applied, with
		// only its answer lost.
		return 0, fmt.Errorf("tasks: %s: %w: %w", op, ErrOutcomeUnknown, err)
	}
	return 0, fmt.Errorf("tasks: %s: %w", op, err)
}

func mustAffect(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

func (s *Store) now() time.Time {
	// Microseconds: the finest resolution all three databases keep.
	return s.opts.Now().UTC().Truncate(time.Microsecond)
}
