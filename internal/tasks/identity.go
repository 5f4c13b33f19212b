package tasks

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
)

// headQuery reads the database's identity and revision: the one row of
// tasklist_meta.
const headQuery = "SELECT database_id, revision FROM tasklist_meta WHERE id = 1"

// Head returns the database's current version: its identity and the
// revision of the latest committed change, by a cheap query (one row by
// primary key) unaffected by Options.SlowQuery. A database without an
// identity — just created, or set to NULL by an operator to tell a copy from
// its original (docs/caching.md) — is given a new random one first; when
// several instances do that at once, one value wins and all return it.
func (s *Store) Head(ctx context.Context) (Version, error) {
	ctx, cancel := s.db.WithTimeout(ctx)
	defer cancel()
	for range 2 {
		var db sql.NullString
		var v Version
		if err := s.db.QueryRowContext(ctx, headQuery).Scan(&db, &v.Revision); err != nil {
			return Version{}, fmt.Errorf("tasks: head: %w", err)
		}
		if db.Valid && db.String != "" {
			v.DB = s.note(db.String)
			return v, nil
		}
		// Only where there is none: of two instances naming the database
		// at once, the first wins and the second reads its name.
		if _, err := s.db.ExecContext(ctx, s.db.Rebind("UPDATE tasklist_meta SET database_id = ? WHERE id = 1 AND (database_id IS NULL OR database_id = '')"), newIdentity()); err != nil {
			return Version{}, fmt.Errorf("tasks: name the database: %w", err)
		}
	}
	return Version{}, fmt.Errorf("tasks: head: the database has no identity")
}

// newIdentity returns a random database identity: 64 bits in hex, so that
// two databases sharing a cache practically never get the same one.
func newIdentity() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Identity returns the database's identity as the Store read it last (with
// Head, List, Page or a write), "" before any read. Keys of what is cached
// from the database carry it. It is safe for concurrent use.
func (s *Store) Identity() string {
	if p := s.identity.Load(); p != nil {
		return *p
	}
	return ""
}

// note records db as the identity read last, and returns it.
func (s *Store) note(db string) string {
	if db != "" && db != s.Identity() {
		s.identity.Store(&db)
	}
	return db
}
