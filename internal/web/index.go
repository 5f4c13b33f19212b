package web

import (
	"bytes"
	"context"
	"html/template"
	"net/http"
	"strconv"

	"github.com/tasklist/tasklist/internal/tasks"
)

// DefaultPageSize is how many tasks a page shows when Config.PageSize is 0.
const DefaultPageSize = 100

// listView is what the task-list template shows: one page of rows.
type listView struct {
	Rows []template.HTML
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
	body, err := s.renderIndex(r.Context(), after, s.takeFlash(r.Context()))
	if err != nil {
		s.serverError(w, r, err, unavailableMessage)
		return
	}
	w.Header().Set("Cache-Control", pageCacheControl)
	writeHTML(w, http.StatusOK, body)
}

// pageParam reads the query parameter "after": absent is 0, otherwise a
// positive id in canonical digits, given once. Pages are keyed by it, so
// only one spelling of each page is accepted.
func pageParam(r *http.Request) (int64, bool) {
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

// renderIndex renders the whole page for the tasks after the id after,
// with flash when not nil.
func (s *Server) renderIndex(ctx context.Context, after int64, flash *flashView) ([]byte, error) {
	list, err := s.listFragment(ctx, after)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := s.pages["index.html"].ExecuteTemplate(&buf, "layout", indexView{List: template.HTML(list), Flash: flash}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// listFragment is the task-list fragment for the page after the id after:
// from the fragment cache when it is on.
func (s *Server) listFragment(ctx context.Context, after int64) ([]byte, error) {
	load := func(ctx context.Context, v int64) ([]byte, error) {
		page, err := s.page(ctx, after, v)
		if err != nil {
			return nil, err
		}
		return s.renderList(ctx, page)
	}
	if s.frags == nil {
		return load(ctx, renderVersion(ctx))
	}
	return s.frags.list(ctx, listSelector(after, s.pageSize), load)
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
	var err error
	if s.frags != nil {
		view.Rows, err = s.frags.rows(ctx, page.Tasks, s.renderRow)
	} else {
		view.Rows, err = renderEach(page.Tasks, s.renderRow)
	}
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := s.pages["index.html"].ExecuteTemplate(&buf, "task-list", view); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// pageURL links to the page after the id after.
func pageURL(after int64) string {
	if after == 0 {
		return "/"
	}
	return "/?after=" + strconv.FormatInt(after, 10)
}

// renderRow renders one task's row of the table.
func (s *Server) renderRow(t tasks.Task) ([]byte, error) {
	var buf bytes.Buffer
	err := s.pages["index.html"].ExecuteTemplate(&buf, "task-row", t)
	return buf.Bytes(), err
}

// renderEach renders every task's row with render.
func renderEach(ts []tasks.Task, render func(tasks.Task) ([]byte, error)) ([]template.HTML, error) {
	rows := make([]template.HTML, len(ts))
	for i, t := range ts {
		b, err := render(t)
		if err != nil {
			return nil, err
		}
		rows[i] = template.HTML(b)
	}
	return rows, nil
}
