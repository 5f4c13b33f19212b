package paging

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/tasklist/tasklist/internal/tasks"
)

// maxBoundaries bounds the page starts a Gate remembers: far more than
// the pages of a full list (TASKLIST_MAX_TASKS / TASKLIST_PAGE_SIZE, 100 by
// default), and a few kilobytes.
const maxBoundaries = 4096

// maxChecks is how many requests check a start they do not know at once:
// the others wait their turn, so that a flood of unknown starts takes at
// most that many database connections (and their memory) from the pages.
const maxChecks = 2

// errPageRace reports page reads that kept seeing different states of the list.
var errPageRace = errors.New("paging: the list changed while its pages were read")

// Pager reads one page of the task list: the n tasks after the id after
// (tasks.Store, or a cache in front of it).
type Pager interface {
	Page(ctx context.Context, after int64, n int) (tasks.Page, error)
}

// Gate keeps the caches that hold a value per page — the page cache and
// the list fragments — to the pages the links reach.
//
// Keyset paging names a page by the id it starts after, and any id may be
// asked for: /?after=1, /?after=2, … each is a page of its own, and 10,000
// of them pushed the pages visitors use out of the caches (see
// docs/reliability.md, "Bounded resources"). The pages the links reach are
// the boundaries: the first page, and each one starting after the last
// task of the boundary page before it; their starts are the ids at ranks
// n, 2n, … of the list, for a page size n. A request for any other start
// is answered 303 See Other to the boundary page that shows the first
// task after it (the last page when no task follows), which is the page the
// visitor asked to see, cut where everybody's is. Boundaries move when a
// task before them is removed or put back, so the redirect is computed
// from the list each time and never stored (no-store); a link of an older
// page that is no longer a boundary is redirected too.
//
// To know a boundary without reading the list, the gate remembers the
// starts it has seen to be boundaries in the state of the list it read
// last: the first page's links, those of each boundary page it renders,
// and each start it has checked. Reading another state forgets them all; a
// start it does not know costs one or two page reads (Pager.Page) to
// check.
//
// It is safe for concurrent use.
type Gate struct {
	tasks    Pager
	pageSize int
	checks   chan struct{} // a slot per check under way (maxChecks)

	mu    sync.Mutex
	state listState          // the state of the list read last
	known map[int64]struct{} // boundaries in that state
}

// listState names a state of the list: pages of the same state cut it at
// the same places.
type listState = tasks.Version

// stateOf is the state of the list page p was read from.
func stateOf(p tasks.Page) listState { return p.Version() }

// NewGate returns the gate of pages of pageSize tasks read from p.
func NewGate(p Pager, pageSize int) *Gate {
	return &Gate{tasks: p, pageSize: pageSize, checks: make(chan struct{}, maxChecks), known: map[int64]struct{}{}}
}

// Wrap sends requests for a boundary page, or with no valid page
// parameter, to next, and redirects the others to their boundary page.
func (g *Gate) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		after, ok := Param(r)
		if !ok || after == 0 || g.isKnown(after) {
			next.ServeHTTP(w, r)
			return
		}
		start, err := g.boundary(r.Context(), after)
		if err != nil || start == after {
			// A failing database: next answers as it can (a cached page, or
			// the 503 page). A race with writes: the page as asked.
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, URL(start), http.StatusSeeOther)
	})
}

// isKnown reports whether after is a boundary the gate remembers.
func (g *Gate) isKnown(after int64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.known[after]
	return ok
}

// learn notes that the starts are boundaries in state st.
func (g *Gate) learn(st listState, starts ...int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.move(st)
	for _, s := range starts {
		if len(g.known) < maxBoundaries {
			g.known[s] = struct{}{}
		}
	}
}

// move forgets every boundary when st is not the state the gate read
// last; g.mu is held. (A read that raced a write may take the gate back to
// an older state for a moment: the next read moves it on again.)
func (g *Gate) move(st listState) {
	if st != g.state {
		g.state = st
		clear(g.known)
	}
}

// Rendered notes a page about to be shown, the one after the id after: a
// state of the list other than the gate's makes it forget its boundaries,
// and the links of a boundary page are boundaries too.
func (g *Gate) Rendered(after int64, p tasks.Page) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.move(stateOf(p))
	if _, ok := g.known[after]; after != 0 && !ok {
		return
	}
	if p.Next != 0 && len(g.known) < maxBoundaries {
		g.known[p.Next] = struct{}{}
	}
	if p.Prev != 0 && len(g.known) < maxBoundaries {
		g.known[p.Prev] = struct{}{}
	}
}

// boundary returns the start of the boundary page that shows the first
// task after the id after, or the last page when no task follows (0 for the
// first page), and remembers it. It reads the page after after and, unless
// the start is that page's previous link, the page where the start is;
// when the two reads see different states (a write came between) it
// reads again, and gives up with errPageRace after three tries. At most
// maxChecks run at once.
func (g *Gate) boundary(ctx context.Context, after int64) (int64, error) {
	select {
	case g.checks <- struct{}{}:
		defer func() { <-g.checks }()
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	if g.isKnown(after) { // checked while this request waited
		return after, nil
	}
	n := g.pageSize
	for range 3 {
		p, err := g.tasks.Page(ctx, after, n)
		if err != nil {
			return 0, err
		}
		show := min(p.Before, p.Total-1) // the rank of the task to show
		if show < n {
			g.learn(stateOf(p)) // the first page is always a boundary
			return 0, nil
		}
		rank := show/n*n - 1 // of the id the boundary page starts after
		// The page after p.Prev (or the first page) begins at rank from;
		// p.Prev itself has rank from-1.
		base, from := int64(0), 0
		if p.Before > n {
			base, from = p.Prev, p.Before-n
		}
		if rank == from-1 {
			g.learn(stateOf(p), base)
			return base, nil
		}
		q, err := g.tasks.Page(ctx, base, n)
		if err != nil {
			return 0, err
		}
		if i := rank - from; stateOf(q) == stateOf(p) && q.Before == from && i >= 0 && i < len(q.Tasks) {
			start := q.Tasks[i].ID
			g.learn(stateOf(p), start)
			return start, nil
		}
	}
	return 0, errPageRace
}
