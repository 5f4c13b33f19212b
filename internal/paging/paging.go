// Package paging is the task list's keyset paging over HTTP: a page is
// named by the id of the task it starts after, in the query parameter
// "after", which has one spelling per page; and the Gate, which keeps the
// caches that hold a value per page to the pages the links reach.
package paging

import (
	"net/http"
	"strconv"
)

// Param reads the query parameter "after": absent is 0 (the first page),
// otherwise a positive id in canonical digits (see ID), given once. Pages
// are cached by it, so only one spelling of each page is accepted.
func Param(r *http.Request) (int64, bool) {
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
	return ID(vs[0])
}

// ID parses a positive int64 written in canonical decimal: no sign, no
// leading zero, nothing around it, so that one task has one spelling.
func ID(v string) (int64, bool) {
	if v == "" || v[0] < '1' || v[0] > '9' {
		return 0, false
	}
	id, err := strconv.ParseInt(v, 10, 64)
	return id, err == nil
}

// URL links to the page after the id after.
func URL(after int64) string {
	if after == 0 {
		return "/"
	}
	return "/?after=" + strconv.FormatInt(after, 10)
}
