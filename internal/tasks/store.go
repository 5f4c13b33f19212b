package tasks

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	_ "github.com/go-sql-driver/mysql" // mysql:// URLs
	_ "github.com/jackc/pgx/v5/stdlib" // postgres:// URLs
	_ "modernc.org/sqlite"             // sqlite: URLs and file paths
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
	db      *sql.DB
	dialect Dialect
	opts    Options
}

// Open connects to the database named by rawURL (see DefaultURL for the
// empty string) and checks that it answers. It does not migrate; call
// Migrate. Errors never contain the password.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	t, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(t.driver, t.dsn)
	if err != nil {
		return nil, fmt.Errorf("tasks: open %s database: %w", t.dialect, err)
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{db: db, dialect: t.dialect, opts: opts}
	if err := s.Ping(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("tasks: %s database unreachable: %w", s.dialect, err)
	}
	return nil
}

// Close closes the database connections.
func (s *Store) Close() error { return s.db.Close() }

// List returns all tasks, oldest first, with the revision they belong to,
// read in one transaction so the two agree. It waits Options.SlowQuery first.
func (s *Store) List(ctx context.Context) (Snapshot, error) {
	if err := s.slow(ctx); err != nil {
		return Snapshot{}, err
	}
	tx, err := s.db.BeginTx(ctx, s.readTxOptions())
	if err != nil {
		return Snapshot{}, fmt.Errorf("tasks: list: %w", err)
	}
	defer tx.Rollback()
	var snap Snapshot
	if err := tx.QueryRowContext(ctx, "SELECT revision FROM tasklist_meta WHERE id = 1").Scan(&snap.Revision); err != nil {
		return Snapshot{}, fmt.Errorf("tasks: list: %w", err)
	}
	rows, err := tx.QueryContext(ctx, "SELECT id, name, done, created_at, updated_at FROM tasks ORDER BY id")
	if err != nil {
		return Snapshot{}, fmt.Errorf("tasks: list: %w", err)
	}
	if snap.Tasks, err = scanTasks(rows); err != nil {
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

// scanTasks reads rows of (id, name, done, created_at, updated_at) and
// closes them.
func scanTasks(rows *sql.Rows) ([]Task, error) {
	defer rows.Close()
	out := []Task{}
	for rows.Next() {
		var t Task
		if err := rows.Scan(&t.ID, &t.Name, &t.Done, &t.CreatedAt, &t.UpdatedAt); err != nil {
			return nil, err
		}
		t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
		out = append(out, t)
	}
	return out, rows.Err()
}

// Revision returns the revision of the latest committed write: a cheap
// query (one row by primary key), unaffected by Options.SlowQuery.
func (s *Store) Revision(ctx context.Context) (int64, error) {
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
	rev, err := s.write(ctx, "add", func(tx *sql.Tx) error {
		if s.opts.MaxTasks > 0 {
			// Counted after write took the revision row's lock, so
			// concurrent adds cannot both pass the check.
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM tasks").Scan(&n); err != nil {
				return err
			}
			if n >= s.opts.MaxTasks {
				return ErrFull
			}
		}
		const insert = "INSERT INTO tasks (name, done, created_at, updated_at) VALUES (?, ?, ?, ?)"
		if s.dialect == MySQL {
			res, err := tx.ExecContext(ctx, insert, name, false, now, now)
			if err != nil {
				return err
			}
			t.ID, err = res.LastInsertId()
			return err
		}
		return tx.QueryRowContext(ctx, s.rebind(insert+" RETURNING id"), name, false, now, now).Scan(&t.ID)
	})
	return t, rev, err
}

// Toggle flips the done flag of task id and returns the task as it is now,
// with the revision of the write, or ErrNotFound.
func (s *Store) Toggle(ctx context.Context, id int64) (Task, int64, error) {
	var t Task
	rev, err := s.write(ctx, "toggle", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.rebind("UPDATE tasks SET done = NOT done, updated_at = ? WHERE id = ?"), s.now(), id)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		err = tx.QueryRowContext(ctx, s.rebind("SELECT id, name, done, created_at, updated_at FROM tasks WHERE id = ?"), id).
			Scan(&t.ID, &t.Name, &t.Done, &t.CreatedAt, &t.UpdatedAt)
		t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
		return err
	})
	return t, rev, err
}

// Remove deletes task id and returns the revision of the write, or
// ErrNotFound.
func (s *Store) Remove(ctx context.Context, id int64) (int64, error) {
	return s.write(ctx, "remove", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.rebind("DELETE FROM tasks WHERE id = ?"), id)
		if err != nil {
			return err
		}
		return mustAffect(res)
	})
}

// write runs fn in a transaction that first bumps the revision. Bumping
// first takes the revision row's lock before anything else, so writers queue
// in one order and a failed fn leaves the revision untouched.
func (s *Store) write(ctx context.Context, op string, fn func(*sql.Tx) error) (int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("tasks: %s: %w", op, err)
	}
	defer tx.Rollback()
	const bump = "UPDATE tasklist_meta SET revision = revision + 1 WHERE id = 1"
	var rev int64
	if s.dialect == MySQL {
		if _, err = tx.ExecContext(ctx, bump); err == nil {
			err = tx.QueryRowContext(ctx, "SELECT revision FROM tasklist_meta WHERE id = 1").Scan(&rev)
		}
	} else {
		err = tx.QueryRowContext(ctx, bump+" RETURNING revision").Scan(&rev)
	}
	if err != nil {
		return 0, fmt.Errorf("tasks: %s: revision: %w", op, err)
	}
	if err := fn(tx); err != nil {
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrFull) {
			return 0, err
		}
		return 0, fmt.Errorf("tasks: %s: %w", op, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("tasks: %s: commit: %w", op, err)
	}
	return rev, nil
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

// readTxOptions asks for one snapshot for the whole read, so the revision
// and the rows agree. SQLite transactions are snapshots already.
func (s *Store) readTxOptions() *sql.TxOptions {
	if s.dialect == SQLite {
		return nil
	}
	return &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
}

func (s *Store) now() time.Time {
	// Microseconds: the finest resolution all three databases keep.
	return s.opts.Now().UTC().Truncate(time.Microsecond)
}

// rebind turns ? placeholders into PostgreSQL's $1, $2, ...
func (s *Store) rebind(query string) string {
	if s.dialect != Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
