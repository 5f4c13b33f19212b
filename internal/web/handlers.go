package web

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/tasklist/tasklist/internal/paging"
	"github.com/tasklist/tasklist/internal/tasks"
)

// add creates a task from the form field "name".
func (s *Server) add(w http.ResponseWriter, r *http.Request) {
	raw, ok := s.formField(w, r, "name")
	if !ok {
		return
	}
	name, err := tasks.NormalizeName(raw)
	if err != nil {
		s.clientError(w, r, http.StatusBadRequest, "The task was not added: "+userMessage(err))
		return
	}
	t, v, err := s.tasks.Add(r.Context(), name)
	if errors.Is(err, tasks.ErrFull) {
		s.clientError(w, r, http.StatusConflict, "The task was not added: the list is full. Remove a task first.")
		return
	}
	if err == nil {
		s.flash(r.Context(), note{message: fmt.Sprintf("Added “%s”.", t.Name), wrote: v})
	}
	s.afterWrite(w, r, err)
}

// toggle marks the task named by the form field "id" done or open, as the
// field "done" says ("1" or "0"): it sets a state, so a repeated or late
// click does no harm. With the field "seen" (the row's token, see
// tasks.Seen) it acts only on the task as the visitor saw it.
func (s *Server) toggle(w http.ResponseWriter, r *http.Request) {
	id, seen, ok := s.formTask(w, r)
	if !ok {
		return
	}
	raw, ok := s.formField(w, r, "done")
	if !ok {
		return // answered
	}
	var done bool
	switch raw {
	case "1":
		done = true
	case "0":
	default:
		s.clientError(w, r, http.StatusBadRequest, "The request must say what to set the task to (the done field: 1 or 0).")
		return
	}
	t, v, err := s.tasks.SetDone(r.Context(), id, done, seen)
	switch {
	case err == nil && t.Done:
		s.flash(r.Context(), note{message: fmt.Sprintf("Marked “%s” done.", t.Name), wrote: v})
	case err == nil:
		s.flash(r.Context(), note{message: fmt.Sprintf("Reopened “%s”.", t.Name), wrote: v})
	}
	s.afterWrite(w, r, err)
}

// remove deletes the task named by the form field "id"; with the field
// "seen", only the task as the visitor saw it.
func (s *Server) remove(w http.ResponseWriter, r *http.Request) {
	id, seen, ok := s.formTask(w, r)
	if !ok {
		return
	}
	t, v, err := s.tasks.Remove(r.Context(), id, seen)
	if err == nil {
		s.flash(r.Context(), note{message: fmt.Sprintf("Removed “%s”.", t.Name), removed: &t, wrote: v})
	}
	s.afterWrite(w, r, err)
}

// afterWrite answers a write on one task: back to the list, 404 for a task
// that does not exist, 409 for a form whose task changed since its page was
// shown, 503 when the database failed (see writeError).
func (s *Server) afterWrite(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case err == nil:
		http.Redirect(w, r, "/", http.StatusSeeOther)
	case errors.Is(err, tasks.ErrNotFound):
		s.clientError(w, r, http.StatusNotFound, "There is no such task; it may have been deleted already.")
	case errors.Is(err, tasks.ErrChanged):
		s.clientError(w, r, http.StatusConflict, changedMessage)
	default:
		s.writeError(w, r, err)
	}
}

// changedMessage answers a form for a task that is no longer as its page
// showed it.
const changedMessage = "Nothing was changed: this task has changed, or was removed, since your page was loaded " +
	"(or the page came from another database). Go back to the list to see it as it is now."

// writeError answers a write the database failed with 503, saying whether
// the change may have been saved all the same (its COMMIT got no answer).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	msg := notSavedMessage
	if errors.Is(err, tasks.ErrOutcomeUnknown) {
		msg = unknownMessage
	}
	s.serverError(w, r, err, msg)
}

// formField reads the request body as a form and returns the value of the
// field key ("" when absent). It answers 400 for a request with more than
// one Content-Type (which one the body follows is anybody's guess), 415 for
// a body that is not application/x-www-form-urlencoded (or has no
// Content-Type) or that declares a charset other than UTF-8 (the form would
// be read as UTF-8 all the same, and a name stored garbled), 413 for one
// over MaxBodyBytes, 400 for a malformed one and for a field given more
// than once.
func (s *Server) formField(w http.ResponseWriter, r *http.Request, key string) (string, bool) {
	if len(r.Header.Values("Content-Type")) > 1 {
		s.clientError(w, r, http.StatusBadRequest, "The request has more than one Content-Type header.")
		return "", false
	}
	ct := r.Header.Get("Content-Type")
	mt, params, _ := mime.ParseMediaType(ct)
	if (ct != "" || r.ContentLength != 0) && mt != "application/x-www-form-urlencoded" {
		s.clientError(w, r, http.StatusUnsupportedMediaType, "Forms must be sent as application/x-www-form-urlencoded.")
		return "", false
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "us-ascii") {
		s.clientError(w, r, http.StatusUnsupportedMediaType, "Forms must be sent in UTF-8, not "+strconv.Quote(cs)+".")
		return "", false
	}
	if err := r.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			s.clientError(w, r, http.StatusRequestEntityTooLarge, "The request is too large.")
			return "", false
		}
		s.clientError(w, r, http.StatusBadRequest, "The form could not be read.")
		return "", false
	}
	values := r.PostForm[key]
	switch len(values) {
	case 0:
		return "", true
	case 1:
		return values[0], true
	}
	s.clientError(w, r, http.StatusBadRequest, "The form has the field "+key+" more than once.")
	return "", false
}

// formTask reads the form fields "id" (see formID) and "seen" (optional:
// a row's token, see tasks.Seen).
func (s *Server) formTask(w http.ResponseWriter, r *http.Request) (id int64, seen string, ok bool) {
	if id, ok = s.formID(w, r); !ok {
		return 0, "", false
	}
	seen, ok = s.formField(w, r, "seen")
	return id, seen, ok
}

// formID reads the form field "id": a positive whole number in canonical
// form (digits only, no sign, no leading zero), so that one task has one
// spelling.
func (s *Server) formID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	raw, ok := s.formField(w, r, "id")
	if !ok {
		return 0, false
	}
	if raw == "" {
		s.clientError(w, r, http.StatusBadRequest, "The request names no task (the id field is missing).")
		return 0, false
	}
	id, ok := paging.ID(raw)
	if !ok {
		s.clientError(w, r, http.StatusBadRequest, "The task id must be a positive whole number, written with digits only.")
		return 0, false
	}
	return id, true
}

// userMessage is the part of a validation error meant for the user.
func userMessage(err error) string {
	return strings.TrimPrefix(err.Error(), tasks.ErrInvalidName.Error()+": ") + "."
}
