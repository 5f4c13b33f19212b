package tasks

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations
var migrations embed.FS

// Migrate brings the schema up to date with the migrations embedded in the
// binary and logs each one it applies. Several instances may start at once:
// PostgreSQL and MySQL serialize them with a lock, SQLite with its file lock.
func (s *Store) Migrate(ctx context.Context, log *slog.Logger) error {
	fsys, err := fs.Sub(migrations, "migrations/"+string(s.dialect))
	if err != nil {
		return fmt.Errorf("tasks: migrations: %w", err)
	}
	var (
		dialect goose.Dialect
		opts    []goose.ProviderOption
	)
	switch s.dialect {
	case SQLite:
		dialect = goose.DialectSQLite3
	case MySQL:
		dialect = goose.DialectMySQL
		locker, err := lock.NewMySQLTableLocker(lock.WithTableLockTimeout(200*time.Millisecond, 600))
		if err != nil {
			return fmt.Errorf("tasks: migrations: %w", err)
		}
		opts = append(opts, goose.WithLocker(locker))
	case Postgres:
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("tasks: migrations: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	provider, err := goose.NewProvider(dialect, s.db, fsys, opts...)
	if err != nil {
		return fmt.Errorf("tasks: migrations: %w", err)
	}
	results, err := provider.Up(ctx)
	if err != nil {
		return fmt.Errorf("tasks: migrate: %w", err)
	}
	for _, r := range results {
		log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
	}
	return nil
}
