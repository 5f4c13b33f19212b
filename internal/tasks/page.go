package tasks

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
)

// Page is one page of the list: the tasks after an id (keyset paging, so
// a write does not shift the pages after it), at the revision read.
type Page struct {
	// DB and Revision are the state the page shows (see Version).
	DB       string
	Revision int64
	// Tasks are at most the page size, oldest first.
	Tasks []Task
	// Total is the number of tasks in the list; Before the number before
	// this page, so its tasks are numbered Before+1 to Before+len(Tasks).
	Total, Before int
	// HasPrev says there are tasks before this page; the previous page is
	// the one after Prev (0: the first page).
	HasPrev bool
	Prev    int64
	// Next, when not 0, is where the next page starts: after this id.
	Next int64
}

// Version is the state the page shows.
func (p Page) Version() Version { return Version{DB: p.DB, Revision: p.Revision} }

// Page cuts the page of at most n tasks after the id after out of snap.
func (snap Snapshot) Page(after int64, n int) Page {
	all := snap.Tasks
	from := sort.Search(len(all), func(i int) bool { return all[i].ID > after })
	to := min(from+n, len(all))
	p := Page{DB: snap.DB, Revision: snap.Revision, Tasks: all[from:to], Total: len(all), Before: from, HasPrev: from > 0}
	if from > n {
		p.Prev = all[from-n-1].ID
	}
	if to < len(all) {
		p.Next = all[to-1].ID
	}
	return p
}

// Page reads the page of at most n tasks after the id after, without
// reading the rest of the list: what a render needs when the list is not
// cached, however long the list. It waits Options.SlowQuery first, like
// List, and agrees with Snapshot.Page on the list as read.
func (s *Store) Page(ctx context.Context, after int64, n int) (Page, error) {
	if err := s.slow(ctx); err != nil {
		return Page{}, err
	}
	ctx, cancel := s.db.WithTimeout(ctx)
	defer cancel()
	tx, err := s.db.BeginTx(ctx, s.db.ReadTxOptions())
	if err != nil {
		return Page{}, fmt.Errorf("tasks: page: %w", err)
	}
	defer tx.Rollback()
	p, err := s.page(ctx, tx, after, n)
	if err != nil {
		return Page{}, fmt.Errorf("tasks: page: %w", err)
	}
	return p, tx.Commit()
}

func (s *Store) page(ctx context.Context, tx *sql.Tx, after int64, n int) (Page, error) {
	var p Page
	var db sql.NullString
	err := s.queryRow(ctx, tx, s.db.Rebind("SELECT m.database_id, m.revision, (SELECT COUNT(*) FROM tasks), (SELECT COUNT(*) FROM tasks WHERE id <= ?) FROM tasklist_meta m WHERE m.id = 1"), after).
		Scan(&db, &p.Revision, &p.Total, &p.Before)
	p.DB = s.note(db.String)
	if err != nil {
		return Page{}, err
	}
	rows, err := s.query(ctx, tx, s.db.Rebind("SELECT "+s.taskColumns()+" FROM tasks WHERE id > ? ORDER BY id LIMIT ?"), after, n+1)
	if err != nil {
		return Page{}, err
	}
	p.Tasks, err = scanTasks(rows, n+1)
	if err != nil {
		return Page{}, err
	}
	if len(p.Tasks) > n {
		p.Tasks = p.Tasks[:n]
		p.Next = p.Tasks[n-1].ID
	}
	p.HasPrev = p.Before > 0
	if p.Before > n {
		err := s.queryRow(ctx, tx, s.db.Rebind("SELECT id FROM tasks WHERE id <= ? ORDER BY id DESC LIMIT 1 OFFSET ?"), after, n).Scan(&p.Prev)
		if err != nil {
			return Page{}, err
		}
	}
	return p, nil
}
