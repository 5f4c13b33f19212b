package tasks

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// prepared keeps the statements of the read queries a Store runs on every
// uncached page, prepared once: parsing and planning them again on each
// read was a sixth of reading a page of 100 tasks from SQLite. database/sql
// prepares a statement again on each connection it is first used on, and
// keeps it there. It is safe for concurrent use.
type prepared struct {
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

// query runs q in tx, from its prepared statement (unprepared if preparing
// it failed: the query then fails the same way, or works).
func (s *Store) query(ctx context.Context, tx *sql.Tx, q string, args ...any) (*sql.Rows, error) {
	if st := s.stmt(ctx, q); st != nil {
		return tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, q, args...)
}

// queryRow is query for one row.
func (s *Store) queryRow(ctx context.Context, tx *sql.Tx, q string, args ...any) *sql.Row {
	if st := s.stmt(ctx, q); st != nil {
		return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, q, args...)
}

// stmt returns q's statement, preparing it the first time; nil if that
// fails (it is tried again next time).
func (s *Store) stmt(ctx context.Context, q string) *sql.Stmt {
	p := &s.prepared
	p.mu.Lock()
	st := p.stmts[q]
	p.mu.Unlock()
	if st != nil {
		return st
	}
	st, err := s.db.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if had := p.stmts[q]; had != nil { // prepared meanwhile
		st.Close()
		return had
	}
	if p.stmts == nil {
		p.stmts = map[string]*sql.Stmt{}
	}
	p.stmts[q] = st
	return st
}

// close closes the prepared statements.
func (p *prepared) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for _, st := range p.stmts {
		errs = append(errs, st.Close())
	}
	p.stmts = nil
	return errors.Join(errs...)
}
