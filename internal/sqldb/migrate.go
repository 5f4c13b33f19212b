package sqldb

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Migrations is one component's schema history, applied by Migrate. Each
// component (the task store, the session store, ...) owns its tables and
// their migrations; components share the database, not their migrations.
type Migrations struct {
	// Component names the owner in logs and errors, e.g. "tasks": lower-case
	// letters, digits and underscores.
	Component string
	// FS holds one folder per Dialect — sqlite/, mysql/, postgres/ — of goose
	// SQL migrations (00001_create_x.sql, ...) for that database.
	FS fs.FS
	// VersionTable is the table where goose records which of these
	// migrations are applied; empty means Component + "_db_version". Every
	// component needs its own: versions of two components sharing one table
	// would collide.
	VersionTable string
}

// validName matches the component and table names Migrate accepts: they
// become SQL identifiers.
var validName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// Migrate brings the component's tables up to date with m's migrations for
// db's dialect and logs each one it applies. Several instances may migrate
// the same database at once: on PostgreSQL an advisory lock, on MySQL a
// lock table and on SQLite a lock file beside the database serialize them
// (one lock for all components).
func (db *DB) Migrate(ctx context.Context, m Migrations, log *slog.Logger) error {
	table := m.VersionTable
	if table == "" {
		table = m.Component + "_db_version"
	}
	if !validName.MatchString(m.Component) || !validName.MatchString(table) {
		return fmt.Errorf("sqldb: migrate: component %q, version table %q: want lower-case letters, digits and _", m.Component, table)
	}
	fail := func(err error) error { return fmt.Errorf("sqldb: migrate %s: %w", m.Component, err) }
	fsys, err := fs.Sub(m.FS, string(db.target.dialect))
	if err != nil {
		return fail(err)
	}
	opts := []goose.ProviderOption{goose.WithTableName(table), goose.WithDisableGlobalRegistry(true)}
	var dialect goose.Dialect
	switch db.target.dialect {
	case SQLite:
		dialect = goose.DialectSQLite3
		if db.target.file != "" {
			locker, err := newFileLocker(db.target.file)
			if err != nil {
				return fail(err)
			}
			opts = append(opts, goose.WithLocker(locker))
		}
	case MySQL:
		dialect = goose.DialectMySQL
		locker, err := lock.NewMySQLTableLocker(lock.WithTableLockTimeout(200*time.Millisecond, 600))
		if err != nil {
			return fail(err)
		}
		opts = append(opts, goose.WithLocker(locker))
	case Postgres:
		dialect = goose.DialectPostgres
		// Retry every second (goose's default is 5 s) for up to 5 minutes.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
		if err != nil {
			return fail(err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	provider, err := goose.NewProvider(dialect, db.DB, fsys, opts...)
	if err != nil {
		return fail(err)
	}
	results, err := provider.Up(ctx)
	if err != nil {
		return fail(err)
	}
	for _, r := range results {
		log.Info("migration applied", "component", m.Component, "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
	}
	return nil
}
