package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"
	"slices"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
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
	// Previous names the version table an earlier build recorded these
	// migrations in, when it was another: Migrate takes that table's
	// records over once, when they are shown to be this component's (see
	// PreviousTable), so that a database migrated by the earlier build runs
	// no migration twice.
	Previous PreviousTable
}

// PreviousTable is a version table an earlier build used for a component.
// Another program may use a table of that name too (goose's default,
// goose_db_version, is everybody's default), so Migrate takes its records
// for the component's only when all of these hold: the component's own
// VersionTable records no migration yet; every table in Tables exists; and
// the previous table records at least one of the component's migrations.
// It then copies the records of the component's migrations, in the order
// they were applied, and leaves every other record, and the previous table
// itself, as they are: Migrate never writes to it, so the earlier build and
// any other program using it see no change.
type PreviousTable struct {
	// Name is the previous version table; empty for none.
	Name string
	// Tables are tables the component's first migration creates: the
	// evidence that the earlier build migrated this database.
	Tables []string
}

// validName matches the component and table names Migrate accepts: they
// become SQL identifiers.
var validName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// Migrate brings the component's tables up to date with m's migrations for
// db's dialect and logs each one it applies. Several instances may migrate
// the same database at once: on PostgreSQL an advisory lock, on MySQL a
// lock table and on SQLite a lock file beside the database serialize them
// (one lock for all components), and the records of m.Previous are taken
// over under the same lock.
func (db *DB) Migrate(ctx context.Context, m Migrations, log *slog.Logger) error {
	table := m.VersionTable
	if table == "" {
		table = m.Component + "_db_version"
	}
	names := append([]string{m.Component, table}, m.Previous.Tables...)
	if m.Previous.Name != "" {
		names = append(names, m.Previous.Name)
	}
	for _, name := range names {
		if !validName.MatchString(name) {
			return fmt.Errorf("sqldb: migrate: component %q, table %q: want lower-case letters, digits and _", m.Component, name)
		}
	}
	fail := func(err error) error { return fmt.Errorf("sqldb: migrate %s: %w", m.Component, err) }
	fsys, err := fs.Sub(m.FS, string(db.target.dialect))
	if err != nil {
		return fail(err)
	}
	dialect := map[Dialect]goose.Dialect{SQLite: goose.DialectSQLite3, MySQL: goose.DialectMySQL, Postgres: goose.DialectPostgres}[db.target.dialect]
	opts := []goose.ProviderOption{goose.WithTableName(table), goose.WithDisableGlobalRegistry(true)}
	lockOpt, err := db.migrationLock()
	if err != nil {
		return fail(err)
	}
	if lockOpt != nil {
		opts = append(opts, lockOpt)
	}
	provider, err := goose.NewProvider(dialect, db.DB, fsys, opts...)
	if err != nil {
		return fail(err)
	}
	if m.Previous.Name != "" {
		var versions []int64
		for _, s := range provider.ListSources() {
			versions = append(versions, s.Version)
		}
		err := db.locked(ctx, func(c conn) error {
			return db.takeOver(ctx, c, dialect, table, m, versions, log)
		})
		if err != nil {
			return fail(err)
		}
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

// migrationLock returns a new lock serializing the migrations of db's
// database, as a goose option (nil for an SQLite database in memory, which
// no other process can open). Each use takes a new one.
func (db *DB) migrationLock() (goose.ProviderOption, error) {
	locker, sessionLocker, err := db.newLocker()
	switch {
	case err != nil:
		return nil, err
	case sessionLocker != nil:
		return goose.WithSessionLocker(sessionLocker), nil
	case locker != nil:
		return goose.WithLocker(locker), nil
	}
	return nil, nil
}

// newLocker makes the lock of migrationLock: a lock.Locker, or a
// lock.SessionLocker held by one connection (PostgreSQL), or neither.
func (db *DB) newLocker() (lock.Locker, lock.SessionLocker, error) {
	switch db.target.dialect {
	case SQLite:
		if db.target.file == "" {
			return nil, nil, nil
		}
		locker, err := newFileLocker(db.target.file)
		return locker, nil, err
	case MySQL:
		locker, err := lock.NewMySQLTableLocker(lock.WithTableLockTimeout(200*time.Millisecond, 600))
		return locker, nil, err
	default:
		// Retry every second (goose's default is 5 s) for up to 5 minutes.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
		return nil, locker, err
	}
}

// locked runs fn while holding the lock goose's migrations take, with what
// to query through: the connection that holds the lock on PostgreSQL.
func (db *DB) locked(ctx context.Context, fn func(c conn) error) (err error) {
	locker, sessionLocker, err := db.newLocker()
	if err != nil {
		return err
	}
	switch {
	case sessionLocker != nil:
		held, cerr := db.DB.Conn(ctx)
		if cerr != nil {
			return cerr
		}
		defer held.Close()
		if err := sessionLocker.SessionLock(ctx, held); err != nil {
			return err
		}
		defer func() {
			if uerr := sessionLocker.SessionUnlock(context.WithoutCancel(ctx), held); err == nil {
				err = uerr
			}
		}()
		return fn(held)
	case locker != nil:
		if err := locker.Lock(ctx, db.DB); err != nil {
			return err
		}
		defer func() {
			if uerr := locker.Unlock(context.WithoutCancel(ctx), db.DB); err == nil {
				err = uerr
			}
		}()
	}
	return fn(db.DB)
}

// takeOver copies into table the records of m.Previous.Name that are of
// versions (the component's migrations), when PreviousTable's conditions
// hold; otherwise it changes nothing. It runs under the migration lock.
func (db *DB) takeOver(ctx context.Context, c conn, dialect goose.Dialect, table string, m Migrations, versions []int64, log *slog.Logger) error {
	store, err := database.NewStore(dialect, table)
	if err != nil {
		return err
	}
	exists, err := db.tableExists(ctx, c, table)
	if err != nil {
		return err
	}
	if exists {
		recorded, err := store.ListMigrations(ctx, c)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(recorded, func(r *database.ListMigrationsResult) bool { return r.Version > 0 }) {
			return nil // records of its own: taken over already, or never needed
		}
	}
	for _, name := range append([]string{m.Previous.Name}, m.Previous.Tables...) {
		if ok, err := db.tableExists(ctx, c, name); err != nil || !ok {
			return err
		}
	}
	previous, err := database.NewStore(dialect, m.Previous.Name)
	if err != nil {
		return err
	}
	recorded, err := previous.ListMigrations(ctx, c) // the latest first
	if err != nil {
		return err
	}
	var take []int64
	for _, r := range slices.Backward(recorded) {
		if r.IsApplied && slices.Contains(versions, r.Version) && !slices.Contains(take, r.Version) {
			take = append(take, r.Version)
		}
	}
	if len(take) == 0 {
		return nil
	}
	// The table and goose's version 0 first, then the records in one
	// transaction: on MySQL, CREATE TABLE commits by itself, and a table
	// left holding version 0 alone is taken over again at the next start.
	if !exists {
		if err := inTx(ctx, c, func(tx *sql.Tx) error {
			if err := store.CreateVersionTable(ctx, tx); err != nil {
				return err
			}
			return store.Insert(ctx, tx, database.InsertRequest{Version: 0})
		}); err != nil {
			return err
		}
	}
	if err := inTx(ctx, c, func(tx *sql.Tx) error {
		for _, v := range take {
			if err := store.Insert(ctx, tx, database.InsertRequest{Version: v}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	log.Info("migration records taken over", "component", m.Component, "from", m.Previous.Name, "to", table, "versions", take)
	return nil
}

// conn is what the take-over queries through: the pool, or on PostgreSQL
// the connection holding the lock.
type conn interface {
	database.DBTxConn
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// inTx runs fn in a transaction on c.
func inTx(ctx context.Context, c conn, fn func(tx *sql.Tx) error) error {
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// tableExists reports whether the table name exists in the database (on
// PostgreSQL, in the current schema).
func (db *DB) tableExists(ctx context.Context, c conn, name string) (bool, error) {
	query := map[Dialect]string{
		SQLite:   "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
		MySQL:    "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
		Postgres: "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = ?",
	}[db.target.dialect]
	var n int
	if err := c.QueryRowContext(ctx, db.Rebind(query), name).Scan(&n); err != nil {
		return false, fmt.Errorf("does table %s exist: %w", name, err)
	}
	return n > 0, nil
}
