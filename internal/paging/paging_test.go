package paging_test

import (
	"cmp"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/tasklist/tasklist/internal/paging"
	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/tasks/taskstest"
	"github.com/tasklist/tasklist/internal/testenv"
)

// TestParam: the first page has no parameter (or none named after); any
// other page has one spelling, a positive id in canonical digits, given
// once; every other spelling is refused.
func TestParam(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  int64
		ok    bool
	}{
		{"", 0, true},
		{"other=3", 0, true},
		{"after=5", 5, true},
		{"after=9223372036854775807", 1<<63 - 1, true},
		{"after=9223372036854775808", 0, false}, // past int64
		{"after=", 0, false},
		{"after=0", 0, false}, // the first page is spelled without it
		{"after=05", 0, false},
		{"after=-5", 0, false},
		{"after=+5", 0, false},
		{"after=5%20", 0, false},
		{"after=%205", 0, false},
		{"after=5.0", 0, false},
		{"after=1e3", 0, false},
		{"after=0x10", 0, false},
		{"after=5&after=5", 0, false},
		{"after=5&other=3", 5, true},
	} {
		r := httptest.NewRequest("GET", "/?"+tc.query, nil)
		if tc.query == "" {
			r = httptest.NewRequest("GET", "/", nil)
		}
		got, ok := paging.Param(r)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("Param(?%s) = %d, %v; want %d, %v", tc.query, got, ok, tc.want, tc.ok)
		}
	}
}

// TestURL: the link to a page is read back as the page it names, and the
// first page's link has no parameter.
func TestURL(t *testing.T) {
	if got := paging.URL(0); got != "/" {
		t.Errorf("URL(0) = %q, want /", got)
	}
	for _, after := range []int64{1, 9, 10, 1<<63 - 1} {
		u := paging.URL(after)
		got, ok := paging.Param(httptest.NewRequest("GET", u, nil))
		if !ok || got != after {
			t.Errorf("Param(URL(%d) = %q) = %d, %v", after, u, got, ok)
		}
	}
}

// newStore returns a task store on a fresh SQLite database holding tasks
// 1 to n, without the ids in removed.
func newStore(t *testing.T, n int, removed ...int64) *tasks.Store {
	t.Helper()
	s := taskstest.Open(t, testenv.SQLiteURL(t, "tasks.db"), tasks.Options{})
	for i := range n {
		if _, _, err := s.Add(t.Context(), "task "+strconv.Itoa(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range removed {
		if _, _, err := s.Remove(t.Context(), id, ""); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// countingPager counts the pages read through it from the store.
type countingPager struct {
	*tasks.Store
	reads atomic.Int64
}

func (p *countingPager) Page(ctx context.Context, after int64, n int) (tasks.Page, error) {
	p.reads.Add(1)
	return p.Store.Page(ctx, after, n)
}

// gated serves a request for target through g, and says whether next
// served it.
func gated(g *paging.Gate, target string) (w *httptest.ResponseRecorder, served bool) {
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served = true })
	w = httptest.NewRecorder()
	g.Wrap(next).ServeHTTP(w, httptest.NewRequest("GET", target, nil))
	return w, served
}

// redirected reports whether w redirects, not to be stored, to location.
func redirected(w *httptest.ResponseRecorder, location string) bool {
	return w.Code == http.StatusSeeOther && w.Header().Get("Location") == location && w.Header().Get("Cache-Control") == "no-store"
}

// TestGate: in pages of 5 of tasks 1 to 25 without 10, 11 and 20, the
// pages the links reach start after 0, 5, 12, 17 and 23. A request for
// one of them, or without a valid page parameter, goes to the handler; a
// request for any other start is redirected (303, not stored) to the page
// that shows the first task after it, or to the last page when no task
// follows.
func TestGate(t *testing.T) {
	store := newStore(t, 25, 10, 11, 20)
	for _, tc := range []struct {
		target string
		want   string // the redirect's Location; "" for served
	}{
		{"/", ""},
		{"/?after=abc", ""}, // the handler refuses it
		{"/?after=5", ""},
		{"/?after=12", ""},
		{"/?after=17", ""},
		{"/?after=23", ""},
		{"/?after=3", "/"},
		{"/?after=4", "/"},
		{"/?after=6", "/?after=5"},
		{"/?after=9", "/?after=5"},
		{"/?after=10", "/?after=5"}, // removed
		{"/?after=11", "/?after=5"}, // removed
		{"/?after=13", "/?after=12"},
		{"/?after=16", "/?after=12"},
		{"/?after=19", "/?after=17"},
		{"/?after=20", "/?after=17"}, // removed
		{"/?after=22", "/?after=17"},
		{"/?after=24", "/?after=23"},
		{"/?after=25", "/?after=23"}, // the last task: the last page
		{"/?after=99", "/?after=23"}, // past the end
	} {
		w, served := gated(paging.NewGate(store, 5), tc.target)
		if tc.want == "" && !served || tc.want != "" && (served || !redirected(w, tc.want)) {
			t.Errorf("%s: served %v, %d to %q (Cache-Control %q); want %s", tc.target, served, w.Code, w.Header().Get("Location"), w.Header().Get("Cache-Control"), cmp.Or(tc.want, "served"))
		}
	}
}

// TestGateRemembers: the gate knows the links of the first page it is
// told was rendered, and each start it has checked, without reading the
// list again; a page that is not a boundary teaches it nothing; a page of
// another state of the list (after a write) makes it forget.
func TestGateRemembers(t *testing.T) {
	store := newStore(t, 25)
	pager := &countingPager{Store: store}
	g := paging.NewGate(pager, 5)
	ctx := t.Context()
	expect := func(step, target, location string, reads int64) {
		t.Helper()
		before := pager.reads.Load()
		w, served := gated(g, target)
		if location == "" && !served || location != "" && (served || !redirected(w, location)) {
			t.Errorf("%s: %s served %v, %d to %q; want %s", step, target, served, w.Code, w.Header().Get("Location"), cmp.Or(location, "served"))
		}
		if n := pager.reads.Load() - before; n != reads {
			t.Errorf("%s: %s read %d pages, want %d", step, target, n, reads)
		}
	}
	render := func(after int64) {
		t.Helper()
		p, err := store.Page(ctx, after, 5)
		if err != nil {
			t.Fatal(err)
		}
		g.Rendered(after, p)
	}

	render(0)
	expect("the first page's next link", "/?after=5", "", 0)
	expect("an unknown boundary", "/?after=15", "", 2)
	expect("a boundary checked", "/?after=15", "", 0)
	render(15)
	expect("a rendered boundary's links", "/?after=20", "", 0)
	expect("a rendered boundary's links", "/?after=10", "", 0)
	render(3) // not a boundary: its next link, 8, is none either
	expect("a link of a page that is no boundary", "/?after=8", "/?after=5", 2)

	if _, _, err := store.Add(ctx, "task 26"); err != nil {
		t.Fatal(err)
	}
	render(0) // the list's new state
	expect("a boundary of the old state, after a write", "/?after=15", "", 2)
	expect("the first page's next link in the new state", "/?after=5", "", 0)
}

// TestGateDatabaseDown: a start the gate cannot check, the database
// failing, goes to the handler, which answers as it can (from the cache,
// or its error page).
func TestGateDatabaseDown(t *testing.T) {
	db := testenv.OpenDB(t, testenv.SQLiteURL(t, "tasks.db"))
	store := tasks.New(db, tasks.Options{})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Page(t.Context(), 3, 5); err == nil {
		t.Fatal("Page on a closed database succeeded")
	}
	if w, served := gated(paging.NewGate(store, 5), "/?after=3"); !served {
		t.Errorf("with the database down, /?after=3 answered %d to %q, want served", w.Code, w.Header().Get("Location"))
	}
}
