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
	mu        sync.Mutex
	stmts     map[string]*sql.Stmt
	preparing map[string]bool
	closed    bool
}

// query runs q in tx, from its prepared statement, or unprepared until
// that is ready.
func (s *Store) query(ctx context.Context, tx *sql.Tx, q string, args ...any) (*sql.Rows, error) {
	if st := s.stmt(q); st != nil {
		return tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, q, args...)
}

// queryRow is query for one row.
func (s *Store) queryRow(ctx context.Context, tx *sql.Tx, q string, args ...any) *sql.Row {
	if st := s.stmt(q); st != nil {
		return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, q, args...)
}

// stmt returns q's statement, or nil while it is not prepared yet: then it
// has it prepared in the background. Preparing takes a connection of its
// own, and a transaction that waited for one while holding its own could
// wait for ever once every connection of the pool is held that way (a
// burst of first reads after a start did, for the database's whole
// timeout).
func (s *Store) stmt(q string) *sql.Stmt {
	p := &s.prepared
	p.mu.Lock()
	defer p.mu.Unlock()
	if st := p.stmts[q]; st != nil || p.preparing[q] {
		return st
	}
	if p.preparing == nil {
		p.preparing = map[string]bool{}
	}
	p.preparing[q] = true
	go s.prepare(q)
	return nil
}

// prepare prepares q for stmt; on failure it is tried again on a later use.
func (s *Store) prepare(q string) {
	ctx, cancel := s.db.WithTimeout(context.Background())
	defer cancel()
	st, err := s.db.PrepareContext(ctx, q)
	p := &s.prepared
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.preparing, q)
	if err != nil {
		return
	}
	if p.closed { // the Store closed meanwhile
		st.Close()
		return
	}
	if p.stmts == nil {
		p.stmts = map[string]*sql.Stmt{}
	}
	p.stmts[q] = st
}

// close closes the prepared statements; none is kept afterwards.
func (p *prepared) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for _, st := range p.stmts {
		errs = append(errs, st.Close())
	}
	p.stmts, p.closed = nil, true
	return errors.Join(errs...)
}
