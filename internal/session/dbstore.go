package session

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
	"github.com/tasklist/tasklist/internal/stats"
)

//go:embed migrations
var migrations embed.FS

// versionTable is where the sessions' migrations are recorded, named as
// tasklist's other tables are. previousVersionTable is where builds before
// it recorded them; Migrate takes its records over once, for a database
// that has the sessions table, and never changes it (see
// sqldb.PreviousTable); once no such build runs, an operator may drop it.
const (
	versionTable         = "tasklist_sessions_db_version"
	previousVersionTable = "sessions_db_version"
)

// Migrate creates or updates the sessions table in db (component
// "sessions", with its own version table).
func Migrate(ctx context.Context, db *sqldb.DB, log *slog.Logger) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	return db.Migrate(ctx, sqldb.Migrations{
		Component:    "sessions",
		FS:           fsys,
		VersionTable: versionTable,
		Previous:     sqldb.PreviousTable{Name: previousVersionTable, Tables: []string{"tasklist_sessions"}},
	}, log)
}

// dbStore keeps sessions in the table tasklist_sessions ("db", and the
// source of truth under "cached_db"). Its errors are returned: a session
// that could not be read or written fails the request visibly. It is safe
// for concurrent use.
type dbStore struct {
	db     *sqldb.DB
	opts   Options
	counts stats.Counter
}

// find reads token's session and its end; found is false for none or an
// ended one.
func (s *dbStore) find(ctx context.Context, token string) (b []byte, expiry time.Time, found bool, err error) {
	ctx, cancel := s.db.WithTimeout(ctx)
	defer cancel()
	var micros int64
	err = s.db.QueryRowContext(ctx, s.db.Rebind("SELECT data, expiry FROM tasklist_sessions WHERE token = ?"), token).Scan(&b, &micros)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, time.Time{}, false, nil
	case err != nil:
		s.counts.Errors.Add(1)
		return nil, time.Time{}, false, fmt.Errorf("session: find: %w", err)
	}
	expiry = time.UnixMicro(micros)
	return b, expiry, s.opts.Now().Before(expiry), nil
}

func (s *dbStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	if !validToken(token) {
		return nil, false, nil
	}
	b, _, found, err := s.find(ctx, token)
	s.counts.Misses.Add(1)
	return b, found, err
}

func (s *dbStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	q := "INSERT INTO tasklist_sessions (token, data, expiry) VALUES (?, ?, ?) " +
		"ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry"
	if s.db.Dialect() == sqldb.MySQL {
		q = "INSERT INTO tasklist_sessions (token, data, expiry) VALUES (?, ?, ?) " +
			"ON DUPLICATE KEY UPDATE data = VALUES(data), expiry = VALUES(expiry)"
	}
	ctx, cancel := s.db.WithTimeout(ctx)
	defer cancel()
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(q), token, b, expiry.UnixMicro()); err != nil {
		s.counts.Errors.Add(1)
		return fmt.Errorf("session: commit: %w", err)
	}
	s.counts.Sets.Add(1)
	return nil
}

func (s *dbStore) DeleteCtx(ctx context.Context, token string) error {
	ctx, cancel := s.db.WithTimeout(ctx)
	defer cancel()
	if _, err := s.db.ExecContext(ctx, s.db.Rebind("DELETE FROM tasklist_sessions WHERE token = ?"), token); err != nil {
		s.counts.Errors.Add(1)
		return fmt.Errorf("session: delete: %w", err)
	}
	s.counts.Deletes.Add(1)
	return nil
}

func (s *dbStore) Counts() stats.Counts { return s.counts.Counts() }

// cleanupBatch bounds one delete of ended sessions, so that no statement
// holds its locks for long.
const cleanupBatch = 500

// DeleteExpired deletes the ended sessions from db's table, cleanupBatch
// at a time, pausing between batches, until none is left or ctx ends. It
// returns how many it deleted.
func DeleteExpired(ctx context.Context, db *sqldb.DB, now time.Time) (int64, error) {
	// MySQL refuses a subquery on the table being deleted from unless it
	// is wrapped in a derived table; the others accept the same form.
	q := db.Rebind("DELETE FROM tasklist_sessions WHERE token IN " +
		"(SELECT token FROM (SELECT token FROM tasklist_sessions WHERE expiry < ? LIMIT ?) AS ended)")
	var total int64
	for {
		bctx, cancel := db.WithTimeout(ctx)
		res, err := db.ExecContext(bctx, q, now.UnixMicro(), cleanupBatch)
		cancel()
		if err != nil {
			return total, fmt.Errorf("session: delete expired: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
		if n < cleanupBatch {
			return total, nil
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return total, ctx.Err()
		}
	}
}

// RunCleanup calls DeleteExpired every interval until ctx ends, logging
// what it deletes and its failures.
func RunCleanup(ctx context.Context, db *sqldb.DB, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n, err := DeleteExpired(ctx, db, now)
			switch {
			case err != nil && ctx.Err() == nil:
				log.Warn("session cleanup failed", "err", err)
			case n > 0:
				log.Info("expired sessions deleted", "count", n)
			}
		}
	}
}
