package web

import (
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/tasklist/tasklist/internal/reqtrace"
)

// contentSecurityPolicy allows only the app's own style sheets, images
// (the favicon) and forms: no script, no inline style, no font, nothing
// from another origin.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// defensiveHeaders are the usual defensive headers, named in canonical
// form. Every response shares these value slices (nothing in net/http
// changes a header value in place; Set and Add replace or grow the slice),
// which saves six allocations per request on the hot path; a slice rather
// than a map, as ranging over a map costs more than the six assignments.
var defensiveHeaders = []struct {
	name  string
	value []string
}{
	{"Content-Security-Policy", []string{contentSecurityPolicy}},
	{"X-Content-Type-Options", []string{"nosniff"}},
	{"X-Frame-Options", []string{"DENY"}},
	{"Referrer-Policy", []string{"same-origin"}},
	{"Cross-Origin-Opener-Policy", []string{"same-origin"}},
	{"Permissions-Policy", []string{"camera=(), microphone=(), geolocation=()"}},
}

// securityHeaders sets the usual defensive headers on every response.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for _, d := range defensiveHeaders {
			h[d.name] = d.value[:1:1] // full: an Add by a handler copies it first
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody caps every request body at MaxBodyBytes (a request without
// one, as a GET usually is, has nothing to cap).
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

// notFoundOr routes through mux, but answers unknown paths (404) and wrong
// methods (405, with Allow) with the app's own error page instead of the
// mux's plain text.
func (s *Server) notFoundOr(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) == 0 {
			s.notFound(w, r)
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		s.clientError(w, r, http.StatusMethodNotAllowed, "This address does not accept "+r.Method+" requests.")
	})
}

// notFound answers 404 with the app's page.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.clientError(w, r, http.StatusNotFound, "There is no page at this address.")
}

// recoverPanics turns a handler panic into a logged 500 instead of a
// dropped connection.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				http.Error(w, "Internal Server Error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status and size of a response for the log,
// and adds the Server-Timing header from the request's trace just before
// the header is sent. It holds the request's trace and the header's value,
// so that a request allocates one object for all three.
type statusRecorder struct {
	http.ResponseWriter
	trace  reqtrace.Trace
	timing [1]string // the Server-Timing header's value
	start  time.Time
	status int
	bytes  int
}

func (rec *statusRecorder) WriteHeader(status int) {
	if rec.status == 0 {
		rec.status = status
		rec.timing[0] = rec.trace.ServerTiming(time.Since(rec.start))
		rec.Header()["Server-Timing"] = rec.timing[:1:1] // full: an Add copies it first
	}
	rec.ResponseWriter.WriteHeader(status)
}

func (rec *statusRecorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.WriteHeader(http.StatusOK)
	}
	n, err := rec.ResponseWriter.Write(b)
	rec.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (rec *statusRecorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

// logRequests gives each request a trace (package reqtrace) for the caches
// and the database to record into, reports it in the Server-Timing header,
// writes one structured line per request with what served it, and counts
// the request for /metrics by its route pattern.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, start: time.Now()}
		trace := &rec.trace
		r = r.WithContext(reqtrace.With(r.Context(), trace))
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.WriteHeader(http.StatusOK)
		}
		end := time.Now()
		d := end.Sub(rec.start)
		if s.dash != nil {
			s.dash.ObserveRequest(r.Pattern, rec.status, d)
		}
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelError
		}
		ctx := r.Context()
		if !s.log.Enabled(ctx, level) {
			return
		}
		// The record is made here rather than by Logger.LogAttrs, which
		// looks up its caller's source position (runtime.Callers) for
		// every line: a request's line has no use for it, and the lookup
		// was a tenth of the line's cost.
		queries, dbTime := trace.DBTime()
		line := slog.NewRecord(end, level, "request", 0)
		line.AddAttrs(
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", rec.status), slog.Int("bytes", rec.bytes),
			slog.Duration("duration", d), slog.String("cache", trace.Summary()),
			slog.Int("db_queries", queries), slog.Duration("db_time", dbTime))
		s.log.Handler().Handle(ctx, line) // as Logger does, a failed write is not reported
	})
}
