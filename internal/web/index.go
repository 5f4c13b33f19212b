package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"

	"github.com/tasklist/tasklist/internal/pagecache"
	"github.com/tasklist/tasklist/internal/paging"
	"github.com/tasklist/tasklist/internal/tasks"
)

// DefaultPageSize is how many tasks a page shows when Config.PageSize is 0.
const DefaultPageSize = 100

// listView is what the task-list template shows: one page of rows.
type listView struct {
	// Rows are the rendered rows, each after a line break and the
	// indentation of the table's body: rowsMark while the card is
	// rendered, "" for no rows.
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
// query parameter "after" (none: from the first), at version v when the
// page cache asks for that version (see pagecache.VersionedHandler), else
// as the list is now.
func (s *Server) index(w http.ResponseWriter, r *http.Request, v tasks.Version) {
	after, ok := paging.Param(r)
	if !ok {
		s.clientError(w, r, http.StatusBadRequest, "The page parameter must be a task id: a positive whole number.")
		return
	}
	flash := s.takeFlash(r.Context())
	var list []byte
	var err error
	if flash != nil {
		list, err = s.listSince(r.Context(), after, flash.wrote)
	} else {
		list, err = s.listFragment(r.Context(), after, v)
	}
	if err != nil {
		if v != (tasks.Version{}) && errors.Is(err, tasks.ErrMoved) {
			// The page cache asked for a version the list has moved past:
			// nothing failed, and it serves the request as the list is now.
			w.WriteHeader(http.StatusConflict)
			return
		}
		s.serverError(w, r, err, unavailableMessage)
		return
	}
	w.Header().Set("Cache-Control", pagecache.CacheControl)
	if flash == nil {
		// The usual page: the frame around the list, no template run.
		writeHTML(w, http.StatusOK, s.indexFrame.head, list, s.indexFrame.tail)
		return
	}
	// The page after a write, once for its visitor: compressed here, as
	// the page cache does the shared page.
	s.renderCompressed(w, r, http.StatusOK, "index.html", indexView{List: template.HTML(list), Flash: flash})
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

// listFragment is the task-list fragment for the page after the id after,
// at version v (zero: as the list is now): from the fragment cache when it
// is on (see pagecache.Fragments.List).
func (s *Server) listFragment(ctx context.Context, after int64, v tasks.Version) ([]byte, error) {
	if s.frags == nil {
		return s.renderListAt(ctx, after, v)
	}
	return s.frags.List(ctx, v, listSelector(after, s.pageSize), func(ctx context.Context, v tasks.Version) ([]byte, error) {
		return s.renderListAt(ctx, after, v)
	})
}

// listSince is the task-list fragment for the page after the id after, for
// the visitor who just wrote version wrote: never a list older than their
// write, even where the cache may serve one for a while (Expire). It is a
// personal page, shown once per write: the list is not cached as a whole.
func (s *Server) listSince(ctx context.Context, after int64, wrote tasks.Version) ([]byte, error) {
	page, err := s.tasks.Page(ctx, after, s.pageSize)
	if err == nil && s.versions != nil && page.DB == wrote.DB && page.Revision < wrote.Revision {
		page, err = s.versions.PageAt(ctx, after, s.pageSize, tasks.Version{}) // from the database
	}
	if err != nil {
		return nil, err
	}
	return s.renderList(ctx, page)
}

// renderListAt renders the list fragment of the page after the id after,
// for something keyed by version v (zero: none; see page).
func (s *Server) renderListAt(ctx context.Context, after int64, v tasks.Version) ([]byte, error) {
	page, err := s.page(ctx, after, v)
	if err != nil {
		return nil, err
	}
	if s.gate != nil {
		s.gate.Rendered(after, page)
	}
	return s.renderList(ctx, page)
}

// page reads the page after the id after; for something keyed by version v
// (not zero), the page of exactly version v, else tasks.ErrMoved.
func (s *Server) page(ctx context.Context, after int64, v tasks.Version) (tasks.Page, error) {
	if v == (tasks.Version{}) || s.versions == nil {
		return s.tasks.Page(ctx, after, s.pageSize)
	}
	return s.versions.PageAt(ctx, after, s.pageSize, v)
}

// listSelector names one page of the list in cache keys.
func listSelector(after int64, size int) string {
	return "a" + strconv.FormatInt(after, 10) + ":n" + strconv.Itoa(size)
}

// renderList renders the task-list fragment for one page: the card, from
// the template with rowsMark standing for the rows, and the rows, copied
// once, straight into the result. (Given to the template, the rows would
// be copied three more times: to a string, through fmt's buffer — which
// fmt does not keep past 64 KiB, about 100 rows — and to the output.)
func (s *Server) renderList(ctx context.Context, page tasks.Page) ([]byte, error) {
	view := listView{Total: page.Total, First: page.Before + 1, Last: page.Before + len(page.Tasks)}
	if page.HasPrev {
		view.Prev = paging.URL(page.Prev)
	}
	if page.Next != 0 {
		view.Next = paging.URL(page.Next)
	}
	if len(page.Tasks) > 0 {
		view.Rows = rowsMark
	}
	var card bytes.Buffer
	if err := s.pages["index.html"].ExecuteTemplate(&card, "task-list", view); err != nil {
		return nil, err
	}
	if view.Rows == "" {
		return card.Bytes(), nil
	}
	head, tail, ok := bytes.Cut(card.Bytes(), []byte(rowsMark))
	if !ok || bytes.Contains(tail, []byte(rowsMark)) {
		return nil, errors.New("web: the task-list template must show its rows exactly once")
	}
	out := make([]byte, 0, len(head)+len(page.Tasks)*(len(rowIndent)+s.rows.size)+len(tail))
	out = append(out, head...)
	if s.frags != nil {
		cached, err := s.frags.Rows(ctx, page.DB, page.Tasks, s.renderRow)
		if err != nil {
			return nil, err
		}
		for _, row := range cached {
			out = append(append(out, rowIndent...), row...)
		}
	} else {
		for _, t := range page.Tasks {
			out = s.rows.render(append(out, rowIndent...), t, tasks.Seen(page.DB, t))
		}
	}
	return append(out, tail...), nil
}

// rowsMark stands for a page's rows while its card is rendered, like
// listMark.
const rowsMark = "<tasklist-rows-fragment>"

// rowIndent comes before each row in the table's body.
const rowIndent = "\n      "

// renderRow renders one task's row of the table; seen is its token.
func (s *Server) renderRow(t tasks.Task, seen string) ([]byte, error) {
	return s.rows.render(make([]byte, 0, s.rows.size), t, seen), nil
}
