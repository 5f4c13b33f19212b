package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/tasklist/tasklist/internal/tasks"
)

// add creates a task from the form field "name".
func (s *Server) add(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	name, err := tasks.NormalizeName(r.PostForm.Get("name"))
	if err != nil {
		s.clientError(w, r, http.StatusBadRequest, "The task was not added: "+userMessage(err))
		return
	}
	_, _, err = s.tasks.Add(r.Context(), name)
	if errors.Is(err, tasks.ErrFull) {
		s.clientError(w, r, http.StatusConflict, "The task was not added: the list is full. Remove a task first.")
		return
	}
	s.afterWrite(w, r, err)
}

// toggle flips the done flag of the task named by the form field "id".
func (s *Server) toggle(w http.ResponseWriter, r *http.Request) {
	id, ok := s.formID(w, r)
	if !ok {
		return
	}
	_, _, err := s.tasks.Toggle(r.Context(), id)
	s.afterWrite(w, r, err)
}

// remove deletes the task named by the form field "id".
func (s *Server) remove(w http.ResponseWriter, r *http.Request) {
	id, ok := s.formID(w, r)
	if !ok {
		return
	}
	_, err := s.tasks.Remove(r.Context(), id)
	s.afterWrite(w, r, err)
}

// afterWrite answers a write on one task: back to the list, 404 for a task
// that does not exist, 503 when the database failed.
func (s *Server) afterWrite(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case err == nil:
		http.Redirect(w, r, "/", http.StatusSeeOther)
	case errors.Is(err, tasks.ErrNotFound):
		s.clientError(w, r, http.StatusNotFound, "There is no such task; it may have been deleted already.")
	default:
		s.serverError(w, r, err)
	}
}

// parseForm reads the request body as a form, answering 413 for a body
// over MaxBodyBytes and 400 for a malformed one.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) bool {
	err := r.ParseForm()
	if err == nil {
		return true
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		s.clientError(w, r, http.StatusRequestEntityTooLarge, "The request is too large.")
		return false
	}
	s.clientError(w, r, http.StatusBadRequest, "The form could not be read.")
	return false
}

// formID reads the form field "id": a positive whole number.
func (s *Server) formID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	if !s.parseForm(w, r) {
		return 0, false
	}
	raw := r.PostForm.Get("id")
	if raw == "" {
		s.clientError(w, r, http.StatusBadRequest, "The request names no task (the id field is missing).")
		return 0, false
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		s.clientError(w, r, http.StatusBadRequest, "The task id must be a positive whole number.")
		return 0, false
	}
	return id, true
}

// userMessage is the part of a validation error meant for the user.
func userMessage(err error) string {
	return strings.TrimPrefix(err.Error(), tasks.ErrInvalidName.Error()+": ") + "."
}
