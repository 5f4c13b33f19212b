package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"

	"github.com/tasklist/tasklist/internal/tasks"
)

// DefaultPageSize is how many tasks a page shows when Config.PageSize is 0.
const DefaultPageSize = 100

// listView is what the task-list template shows: one page of rows.
type listView struct {
	// Rows are the rendered rows, each after a line break and the
	// indentation of the table's body.
	Rows template.HTML
	// Total is the number of tasks; First and Last number the page's
	// first and last task, from 1.
	Total, First, Last int
	// Prev and Next link to the pages around this one ("" for none).
	Prev, Next string
}

// indexView is what index.html shows: the list fragment and, for the
// visitor alone (never in a shared page), a flash message.
type indexView struct {
	List  template.HTML
	Flash *flashView
}

// index shows one page of the task list: the tasks after the id in the
// query parameter "after" (none: from the first).
func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	after, ok := pageParam(r)
	if !ok {
		s.clientError(w, r, http.StatusBadRequest, "The page parameter must be a task id: a positive whole number.")
		return
	}
	flash := s.takeFlash(r.Context())
	list, err := s.listFragment(r.Context(), after)
	if err != nil {
		s.serverError(w, r, err, unavailableMessage)
		return
	}
	w.Header().Set("Cache-Control", pageCacheControl)
	if flash == nil {
		// The usual page: the frame around the list, no template run.
		writeHTML(w, http.StatusOK, s.indexFrame.head, list, s.indexFrame.tail)
		return
	}
	var buf bytes.Buffer
	if err := s.pages["index.html"].ExecuteTemplate(&buf, "layout", indexView{List: template.HTML(list), Flash: flash}); err != nil {
		s.serverError(w, r, err, unavailableMessage)
		return
	}
	writeHTML(w, http.StatusOK, buf.Bytes())
}

// frame is index.html's layout around the list fragment, rendered once at
// start: the page without a flash message is head, the list, tail. Sending
// it costs no template run and no copy of the list.
type frame struct {
	head, tail []byte
}

// listMark stands for the list fragment while the frame is rendered; it
// cannot come out of the template otherwise (html/template escapes "<").
const listMark = "<tasklist-list-fragment>"

// newFrame renders index.html with listMark as the list and cuts the
// result there.
func newFrame(t *template.Template) (frame, error) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", indexView{List: listMark}); err != nil {
		return frame{}, fmt.Errorf("web: render the page's frame: %w", err)
	}
	head, tail, ok := bytes.Cut(buf.Bytes(), []byte(listMark))
	if !ok || bytes.Contains(tail, []byte(listMark)) {
		return frame{}, errors.New("web: index.html must show its list exactly once")
	}
	return frame{head: head, tail: tail}, nil
}

// pageParam reads the query parameter "after": absent is 0, otherwise a
// positive id in canonical digits, given once. Pages are keyed by it, so
// only one spelling of each page is accepted.
func pageParam(r *http.Request) (int64, bool) {
	if r.URL.RawQuery == "" {
		return 0, true // the first page, without parsing a query
	}
	vs, ok := r.URL.Query()["after"]
	if !ok {
		return 0, true
	}
	if len(vs) != 1 {
		return 0, false
	}
	return canonicalID(vs[0])
}

// canonicalID parses a positive int64 written in canonical decimal: no
// sign, no leading zero, nothing around it.
func canonicalID(v string) (int64, bool) {
	if v == "" || v[0] < '1' || v[0] > '9' {
		return 0, false
	}
	id, err := strconv.ParseInt(v, 10, 64)
	return id, err == nil
}

// listFragment is the task-list fragment for the page after the id after:
// from the fragment cache when it is on.
func (s *Server) listFragment(ctx context.Context, after int64) ([]byte, error) {
	if s.frags == nil {
		return s.renderListAt(ctx, after, renderVersion(ctx))
	}
	sel := listSelector(after, s.pageSize)
	read, b, err := s.frags.inMemory(ctx, sel)
	if b != nil || err != nil {
		return b, err
	}
	return s.frags.load(ctx, read, sel, func(ctx context.Context, v int64) ([]byte, error) {
		return s.renderListAt(ctx, after, v)
	})
}

// renderListAt renders the list fragment of the page after the id after,
// for something keyed by version v (0: none; see page).
func (s *Server) renderListAt(ctx context.Context, after, v int64) ([]byte, error) {
	page, err := s.page(ctx, after, v)
	if err != nil {
		return nil, err
	}
	if s.gate != nil {
		s.gate.rendered(after, page)
	}
	return s.renderList(ctx, page)
}

// page reads the page after the id after; for something keyed by version v
// (not 0), a page of revision v or later.
func (s *Server) page(ctx context.Context, after, v int64) (tasks.Page, error) {
	if v == 0 || s.versions == nil {
		return s.tasks.Page(ctx, after, s.pageSize)
	}
	return s.versions.PageAt(ctx, after, s.pageSize, v)
}

// renderVersionKey marks the context of a render whose result the page
// cache keys by a version: what it shows must be of that revision or later.
type renderVersionKey struct{}

// renderVersion is the version a render's result is keyed by, 0 for none.
func renderVersion(ctx context.Context) int64 {
	v, _ := ctx.Value(renderVersionKey{}).(int64)
	return v
}

// listSelector names one page of the list in cache keys.
func listSelector(after int64, size int) string {
	return "a" + strconv.FormatInt(after, 10) + ":n" + strconv.Itoa(size)
}

// renderList renders the task-list fragment for one page.
func (s *Server) renderList(ctx context.Context, page tasks.Page) ([]byte, error) {
	view := listView{Total: page.Total, First: page.Before + 1, Last: page.Before + len(page.Tasks)}
	if page.HasPrev {
		view.Prev = pageURL(page.Prev)
	}
	if page.Next != 0 {
		view.Next = pageURL(page.Next)
	}
	// Rows are about 600 bytes each.
	rows := make([]byte, 0, len(page.Tasks)*(len(rowIndent)+640))
	if s.frags != nil {
		cached, err := s.frags.rows(ctx, page.Tasks, s.renderRow)
		if err != nil {
			return nil, err
		}
		for _, row := range cached {
			rows = append(append(rows, rowIndent...), row...)
		}
	} else {
		for _, t := range page.Tasks {
			rows = s.rows.render(append(rows, rowIndent...), t)
		}
	}
	view.Rows = template.HTML(rows) // rendered by our own template
	var buf bytes.Buffer
	buf.Grow(len(rows) + 2048)
	if err := s.pages["index.html"].ExecuteTemplate(&buf, "task-list", view); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// rowIndent comes before each row in the table's body.
const rowIndent = "\n      "

// pageURL links to the page after the id after.
func pageURL(after int64) string {
	if after == 0 {
		return "/"
	}
	return "/?after=" + strconv.FormatInt(after, 10)
}

// renderRow renders one task's row of the table.
func (s *Server) renderRow(t tasks.Task) ([]byte, error) {
	return s.rows.render(make([]byte, 0, 640), t), nil
}
