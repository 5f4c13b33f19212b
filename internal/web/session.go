package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tasklist/tasklist/internal/tasks"
)

// Session keys. A session is stored only while it keeps something for its
// visitor: the flash message for the next page after a write, and what
// undo restores. Values are strings, numbers and booleans, which scs's gob
// codec takes without registering types; times are Unix numbers.
const (
	keySeen       = "seen"        // last use (Unix ns), for the idle timeout
	keyFlash      = "flash"       // message for the next page
	keyFlashUndo  = "flash_undo"  // the message offers Undo
	keyFlashNote  = "flash_note"  // the message is a notice: nothing was changed
	keyUndoID     = "undo_id"     // the task the last remove took away
	keyUndoName   = "undo_name"   //
	keyUndoDone   = "undo_done"   //
	keyUndoCreate = "undo_create" // Unix µs
	keyUndoDB     = "undo_db"     // the database it was removed from
	keyWroteDB    = "wrote_db"    // the version of the visitor's write,
	keyWroteRev   = "wrote_rev"   // which the next page shows at least
)

// sessionLoaded marks a request context whose session scs has loaded. The
// page cache renders shared pages under a context of its own, without it,
// so nothing of any visitor's session can get into them.
type sessionLoaded struct{}

// withSession loads the visitor's session around next (scs's LoadAndSave)
// and ends it once idle for SessionIdle. The time of last use is written
// at most every half idle period, not on every request, so a visitor with a
// session costs a store write now and then, not per page.
func (s *Server) withSession(next http.Handler) http.Handler {
	if s.sessions == nil {
		return next
	}
	loaded := s.sessions.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if seen := s.sessions.GetInt64(ctx, keySeen); seen != 0 {
			switch idle := s.now().Sub(time.Unix(0, seen)); {
			case idle > s.sessionIdle:
				if err := s.sessions.Destroy(ctx); err != nil {
					s.serverError(w, r, err, unavailableMessage)
					return
				}
			case idle > s.sessionIdle/2:
				s.sessions.Put(ctx, keySeen, s.now().UnixNano())
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, sessionLoaded{}, true)))
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		loaded.ServeHTTP(&cacheControlWriter{ResponseWriter: w}, r)
	})
}

// scsNoCache is the Cache-Control value scs's LoadAndSave adds, as a line
// of its own, to every response that sets the session cookie.
const scsNoCache = `no-cache="Set-Cookie"`

// cacheControlWriter leaves a response one Cache-Control header when its
// headers are sent: the page after a write says "private, no-cache" and
// scs adds scsNoCache, a second line that repeats no-cache (RFC 9111 wants
// each directive once). A value with private or no-store keeps every shared
// cache from storing the response, cookie and all, so scs's line goes;
// otherwise the lines are joined into one.
type cacheControlWriter struct {
	http.ResponseWriter
	sent bool
}

func (cw *cacheControlWriter) WriteHeader(status int) {
	if !cw.sent {
		cw.sent = true
		oneCacheControl(cw.Header())
	}
	cw.ResponseWriter.WriteHeader(status)
}

func (cw *cacheControlWriter) Write(b []byte) (int, error) {
	if !cw.sent {
		cw.WriteHeader(http.StatusOK)
	}
	return cw.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (cw *cacheControlWriter) Unwrap() http.ResponseWriter { return cw.ResponseWriter }

// oneCacheControl merges h's Cache-Control lines into one (see
// cacheControlWriter).
func oneCacheControl(h http.Header) {
	lines := h["Cache-Control"]
	if len(lines) < 2 {
		return
	}
	keep, covered := make([]string, 0, len(lines)), false
	for _, v := range lines {
		if v != scsNoCache {
			keep = append(keep, v)
			covered = covered || strings.Contains(v, "private") || strings.Contains(v, "no-store")
		}
	}
	if !covered {
		keep = lines
	}
	h.Set("Cache-Control", strings.Join(keep, ", "))
}

// varyCookie is the Vary header scs's LoadAndSave adds, shared like
// defensiveHeaders (full, so that an Add copies it first).
var varyCookie = []string{"Cookie"}

// withReaderSession is withSession for a route that only reads the
// session (GET /): a request that carries no cookie at all has no session
// to read, and its response would write none, so it skips loading one —
// scs's per-request work on the hot path of a page hit — and gets only the
// Vary header LoadAndSave would have added.
func (s *Server) withReaderSession(next http.Handler) http.Handler {
	if s.sessions == nil {
		return next
	}
	loaded := s.withSession(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Header["Cookie"]; ok {
			loaded.ServeHTTP(w, r)
			return
		}
		if h := w.Header(); len(h["Vary"]) == 0 {
			h["Vary"] = varyCookie[:1:1]
		} else {
			h["Vary"] = append(h["Vary"], varyCookie...)
		}
		next.ServeHTTP(w, r)
	})
}

// hasSession reports whether ctx carries a loaded session.
func (s *Server) hasSession(ctx context.Context) bool {
	return s.sessions != nil && ctx.Value(sessionLoaded{}) != nil
}

// personal reports whether the response to r is for its visitor alone: a
// flash message is waiting.
func (s *Server) personal(r *http.Request) bool {
	return s.hasSession(r.Context()) && s.sessions.Exists(r.Context(), keyFlash)
}

// note is what a request leaves for its visitor's next page.
type note struct {
	message string
	// nothing reports that nothing was changed (there was nothing to
	// undo, say): the page shows the message as a notice, not a success.
	nothing bool
	// removed, after a remove, is the task the page's Undo puts back.
	removed *tasks.Task
	// wrote is the version of the write (zero: none): the next page shows
	// the list at that version or later, whatever a cache may serve
	// others for a while; after a remove it names the database to undo in.
	wrote tasks.Version
}

// flash keeps n in the visitor's session for their next page.
//
// A session that came with the request gets a new token first (scs's
// RenewToken): its token may have been chosen by someone else and planted
// in the visitor's browser, and whoever holds it must not see the
// visitor's messages or use their undo. A session new in this request gets
// a token of its own when scs first stores it. When the old token cannot
// be deleted (the store failed), nothing is kept: the write stands,
// without its message.
func (s *Server) flash(ctx context.Context, n note) {
	if !s.hasSession(ctx) {
		return
	}
	if s.sessions.Token(ctx) != "" {
		if err := s.sessions.RenewToken(ctx); err != nil {
			s.log.WarnContext(ctx, "session token not renewed; the flash message is not kept", "err", err)
			return
		}
	}
	if t := n.removed; t != nil {
		s.sessions.Put(ctx, keyUndoID, t.ID)
		s.sessions.Put(ctx, keyUndoName, t.Name)
		s.sessions.Put(ctx, keyUndoDone, t.Done)
		s.sessions.Put(ctx, keyUndoCreate, t.CreatedAt.UnixMicro())
		s.sessions.Put(ctx, keyUndoDB, n.wrote.DB)
	}
	if n.wrote != (tasks.Version{}) {
		s.sessions.Put(ctx, keyWroteDB, n.wrote.DB)
		s.sessions.Put(ctx, keyWroteRev, n.wrote.Revision)
	}
	s.sessions.Put(ctx, keySeen, s.now().UnixNano())
	s.sessions.Put(ctx, keyFlash, n.message)
	s.sessions.Put(ctx, keyFlashUndo, n.removed != nil)
	s.sessions.Put(ctx, keyFlashNote, n.nothing)
}

// flashView is the message a page shows once; UndoID, when not 0, is the
// removed task its Undo button puts back; Notice shows it as a notice
// (nothing was changed) rather than a success.
type flashView struct {
	Message string
	UndoID  int64
	Notice  bool
	// wrote is the version of the visitor's write (zero: none).
	wrote tasks.Version
}

// takeFlash removes and returns the waiting flash message, if any. A
// session left with nothing to keep (no undo) ends here, so that its row
// goes now rather than after the idle timeout, and its visitor is a reader
// again.
func (s *Server) takeFlash(ctx context.Context) *flashView {
	if !s.hasSession(ctx) || !s.sessions.Exists(ctx, keyFlash) {
		return nil
	}
	f := &flashView{Message: s.sessions.PopString(ctx, keyFlash), Notice: s.sessions.PopBool(ctx, keyFlashNote)}
	if s.sessions.PopBool(ctx, keyFlashUndo) {
		f.UndoID = s.sessions.GetInt64(ctx, keyUndoID)
	}
	f.wrote = tasks.Version{DB: s.sessions.PopString(ctx, keyWroteDB), Revision: s.sessions.GetInt64(ctx, keyWroteRev)}
	s.sessions.Remove(ctx, keyWroteRev)
	if !s.sessions.Exists(ctx, keyUndoID) {
		if err := s.sessions.Destroy(ctx); err != nil {
			// scs then stores the session without its message, if it can.
			s.log.WarnContext(ctx, "session not ended after its last message", "err", err)
		}
	}
	return f
}

// nothingToUndo is the message of an undo with nothing to undo.
const nothingToUndo = "There is nothing to undo."

// undo puts back the task this visitor removed last — the one the form
// field "id" names — once, into the database it was removed from. Another
// visitor's session has nothing to undo; a second undo finds the task back
// already (tasks.ErrExists), whatever the session remembers.
func (s *Server) undo(w http.ResponseWriter, r *http.Request) {
	want, ok := s.formID(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	if want == 0 || s.sessions.GetInt64(ctx, keyUndoID) != want {
		if s.sessions.Token(ctx) == "" {
			// No session came with the request, or it has ended: none
			// is started only to say so.
			s.clientError(w, r, http.StatusConflict, nothingToUndo)
			return
		}
		s.flash(ctx, note{message: nothingToUndo, nothing: true})
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	t := tasks.Task{
		ID:        want,
		Name:      s.sessions.GetString(ctx, keyUndoName),
		Done:      s.sessions.GetBool(ctx, keyUndoDone),
		CreatedAt: time.UnixMicro(s.sessions.GetInt64(ctx, keyUndoCreate)),
	}
	db := s.sessions.GetString(ctx, keyUndoDB)
	for _, k := range []string{keyUndoID, keyUndoName, keyUndoDone, keyUndoCreate, keyUndoDB} {
		s.sessions.Remove(ctx, k)
	}
	_, v, err := s.tasks.Restore(ctx, db, t)
	switch {
	case err == nil:
		s.flash(ctx, note{message: fmt.Sprintf("Restored “%s”.", t.Name), wrote: v})
	case errors.Is(err, tasks.ErrChanged):
		s.flash(ctx, note{message: fmt.Sprintf("“%s” was not restored: it was removed from another database.", t.Name), nothing: true})
	case errors.Is(err, tasks.ErrExists):
		s.flash(ctx, note{message: fmt.Sprintf("“%s” was restored already.", t.Name), nothing: true})
	case errors.Is(err, tasks.ErrFull):
		s.flash(ctx, note{message: fmt.Sprintf("“%s” was not restored: the list is full.", t.Name), nothing: true})
	default:
		s.writeError(w, r, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// sessionError answers a request whose session could not be loaded or
// saved (the session store's database failed) with the 503 page.
func (s *Server) sessionError(w http.ResponseWriter, r *http.Request, err error) {
	s.serverError(w, r, fmt.Errorf("session: %w", err), unavailableMessage)
}
