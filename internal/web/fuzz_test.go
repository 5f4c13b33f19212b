package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/web"
)

// formRoutes are the routes that read a form, and the field each reads.
var formRoutes = []struct{ path, field string }{{"/add", "name"}, {"/toggle", "id"}, {"/remove", "id"}}

// FuzzForm posts a fuzzed url-encoded body to /add, /toggle or /remove
// through the whole handler and checks the answer against the rules
// written out independently of the handlers: 413 past MaxBodyBytes; 400
// for a malformed form, a repeated field, a name NormalizeName refuses, an
// id that is not canonical digits within int64, or a toggle whose done is
// not 1 or 0; 409 for a seen token that does not name the task as it is;
// 404 for an id no task has; else 303 and a change (the revision moves
// on). Nothing changes on any other answer.
func FuzzForm(f *testing.F) {
	app := newStack(f, stackOptions{})
	store, h := app.Tasks(), app.handler
	for _, name := range []string{"one", "two", "three"} {
		if w := do(h, "POST", "/add", url.Values{"name": {name}}); w.Code != http.StatusSeeOther {
			f.Fatal(w.Code)
		}
	}
	for _, seed := range []string{
		"name=buy+milk", "id=1", "id=2", "id=+1", "id=01", "id=-0", "id=1&id=2", "name=a&name=b",
		"name=%zz", "name=a;b", "name=%E2%80%AEtxt", "name=%E2%80%8B", "id=9223372036854775808",
		"id=9223372036854775807", "id=%31", "id=1%00", "name=%3Cscript%3E", "", "&&&", "name",
		"id=1&done=1", "id=2&done=0", "id=3&done=2", "id=1&done=1&done=0", "id=1&seen=x&done=1", "id=2&seen=a&seen=b",
		"id=424242&done=1",
	} {
		for route := range formRoutes {
			f.Add(uint8(route), seed)
		}
	}
	canonical := regexp.MustCompile(`^[1-9][0-9]*$`)
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		r := formRoutes[int(route)%len(formRoutes)]
		before, err := store.List(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		want := http.StatusSeeOther
		values, err := url.ParseQuery(body)
		value, seen := values.Get(r.field), values.Get("seen")
		id, idErr := strconv.ParseInt(value, 10, 64)
		switch {
		case len(body) > web.MaxBodyBytes:
			want = http.StatusRequestEntityTooLarge
		case err != nil, len(values[r.field]) > 1:
			want = http.StatusBadRequest
		case r.field == "name":
			if _, err := tasks.NormalizeName(value); err != nil {
				want = http.StatusBadRequest
			}
		case !canonical.MatchString(value) || idErr != nil || len(values["seen"]) > 1:
			want = http.StatusBadRequest
		case r.path == "/toggle" && (len(values["done"]) != 1 || values.Get("done") != "1" && values.Get("done") != "0"):
			want = http.StatusBadRequest
		case seen != "" && !seenAs(before, id, seen):
			want = http.StatusConflict
		case !hasTask(before, id):
			want = http.StatusNotFound
		}

		w := doBody(h, "POST", r.path, strings.NewReader(body), "Content-Type", "application/x-www-form-urlencoded")
		if w.Code != want {
			t.Fatalf("POST %s %q = %d, want %d", r.path, body, w.Code, want)
		}
		after, err := store.List(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if want == http.StatusSeeOther {
			if after.Revision <= before.Revision {
				t.Fatalf("POST %s %q: revision %d → %d, want one change", r.path, body, before.Revision, after.Revision)
			}
		} else if diff := cmp.Diff(before, after); diff != "" {
			t.Fatalf("POST %s %q = %d changed the data (-before +after):\n%s", r.path, body, w.Code, diff)
		}
	})
}

// seenAs reports whether snap's task id is as the token seen names it.
func seenAs(snap tasks.Snapshot, id int64, seen string) bool {
	for _, task := range snap.Tasks {
		if task.ID == id {
			return tasks.Seen(snap.DB, task) == seen
		}
	}
	return false
}

// hasTask reports whether snap has a task with the id.
func hasTask(snap tasks.Snapshot, id int64) bool {
	for _, task := range snap.Tasks {
		if task.ID == id {
			return true
		}
	}
	return false
}
