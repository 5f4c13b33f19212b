// Package taskstest opens task stores for tests: the store of a database
// URL, migrated, and closed when the test ends. (The tests of package
// tasks itself cannot use it: it imports tasks.)
package taskstest

import (
	"log/slog"
	"testing"

	"github.com/tasklist/tasklist/internal/tasks"
)

// Open opens the task store of the database at dbURL with opts, migrates
// it, and closes it when t ends; it fails t if it cannot.
func Open(t testing.TB, dbURL string, opts tasks.Options) *tasks.Store {
	t.Helper()
	s, err := tasks.Open(t.Context(), dbURL, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(t.Context(), slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	return s
}
