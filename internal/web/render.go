package web

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"

	"github.com/tasklist/tasklist/internal/dashboard"
	"github.com/tasklist/tasklist/internal/pagecache"
)

// render executes page into a buffer first, so a template error becomes a
// clean 500 instead of half a page, and sends it as it is (the error pages:
// short, and not worth compressing per request).
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	if b, ok := s.execute(w, r, page, data); ok {
		writeHTML(w, status, b)
	}
}

// renderCompressed is render for the pages rendered per request that are
// worth compressing (see pagecache.WriteCompressed).
func (s *Server) renderCompressed(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	if b, ok := s.execute(w, r, page, data); ok {
		pagecache.WriteCompressed(w, r, status, pagecache.HTMLType[0], b)
	}
}

// statsContentSecurityPolicy is contentSecurityPolicy with the one script
// the statistics page runs: its own static file, which fetches the page
// again to refresh it. Every other page runs no script at all.
const statsContentSecurityPolicy = contentSecurityPolicy + "; script-src 'self'; connect-src 'self'"

// statsPage shows the dashboard's view (see dashboard.Dashboard.Page).
func (s *Server) statsPage(w http.ResponseWriter, r *http.Request, v dashboard.View) {
	w.Header().Set("Content-Security-Policy", statsContentSecurityPolicy)
	s.renderCompressed(w, r, http.StatusOK, "stats.html", v)
}

// execute renders page with data; on a template error it answers 500 and
// returns false.
func (s *Server) execute(w http.ResponseWriter, r *http.Request, page string, data any) ([]byte, bool) {
	var buf bytes.Buffer
	if err := s.pages[page].ExecuteTemplate(&buf, "layout", data); err != nil {
		s.log.ErrorContext(r.Context(), "render", "page", page, "err", err)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return nil, false
	}
	return buf.Bytes(), true
}

// writeHTML sends an HTML page, the concatenation of parts, in one Write:
// the connection's 4 KB buffer would send each part past it with a system
// call of its own (docs/benchmarks.md).
func writeHTML(w http.ResponseWriter, status int, parts ...[]byte) {
	body := parts[0]
	if len(parts) > 1 {
		buf := joined.Get().(*[]byte)
		defer joined.Put(buf)
		*buf = (*buf)[:0]
		for _, p := range parts {
			*buf = append(*buf, p...)
		}
		body = *buf
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// joined holds the buffers writeHTML joins parts in.
var joined = sync.Pool{New: func() any { return new([]byte) }}

// errorPage is what error.html shows.
type errorPage struct {
	Status     int
	StatusText string
	Message    string
}

// clientError answers a request the client got wrong with a 4xx page.
func (s *Server) clientError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, status, "error.html", errorPage{status, http.StatusText(status), msg})
}

// Messages of the 503 pages: the handlers' only server-side failures are
// the database's, and the pages say so without its details.
const (
	unavailableMessage = "The task list is unavailable at the moment; please try again shortly."
	notSavedMessage    = "The change was not saved: the task list is unavailable at the moment; please try again shortly."
	unknownMessage     = "The database did not confirm the change in time: it may or may not have been saved. Reload the list to see before trying again."
)

// serverError logs err and answers 503 with msg.
func (s *Server) serverError(w http.ResponseWriter, r *http.Request, err error, msg string) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away; nobody is reading
	}
	s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Retry-After", "5")
	s.render(w, r, http.StatusServiceUnavailable, "error.html", errorPage{
		http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable), msg,
	})
}
