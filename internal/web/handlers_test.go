package web_test

import (
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// do sends one request to h. form, when not nil, is the url-encoded body;
// header holds name, value pairs ("Host" sets the request's Host).
func do(h http.Handler, method, target string, form url.Values, header ...string) *httptest.ResponseRecorder {
	if form == nil {
		return doBody(h, method, target, nil, header...)
	}
	header = append([]string{"Content-Type", "application/x-www-form-urlencoded"}, header...)
	return doBody(h, method, target, strings.NewReader(form.Encode()), header...)
}

// doBody sends one request with the given body to h, like do.
func doBody(h http.Handler, method, target string, body io.Reader, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, body)
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			r.Host = header[i+1]
		}
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestTaskLifecycle(t *testing.T) {
	app := newStack(t, stackOptions{})
	store, h := app.Tasks(), app.handler
	w := do(h, "GET", "/", nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "No tasks yet") {
		t.Fatalf("GET / on an empty list = %d:\n%s", w.Code, w.Body)
	}
	for _, want := range []string{"New Task", "Current Tasks", `name="name"`} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("page lacks %q", want)
		}
	}

	const name = `<script>alert('x')</script> & "Robert'); DROP TABLE tasks;--"`
	w = do(h, "POST", "/add", url.Values{"name": {"  " + name + " "}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" {
		t.Fatalf("POST /add = %d Location %q, want 303 to /", w.Code, w.Header().Get("Location"))
	}
	snap, _ := store.List(t.Context())
	if len(snap.Tasks) != 1 || snap.Tasks[0].Name != name {
		t.Fatalf("stored tasks = %+v, want one named %q", snap.Tasks, name)
	}
	page := do(h, "GET", "/", nil).Body.String()
	if !strings.Contains(page, html.EscapeString(name)) || strings.Contains(page, "<script>alert") {
		t.Errorf("page does not show the name escaped:\n%s", page)
	}
	if !strings.Contains(page, `data-task-id="1"`) {
		t.Errorf("row lacks data-task-id")
	}

	if w := do(h, "POST", "/toggle", url.Values{"id": {"1"}, "done": {"1"}}); w.Code != http.StatusSeeOther {
		t.Fatalf("POST /toggle = %d", w.Code)
	}
	if page := do(h, "GET", "/", nil).Body.String(); !strings.Contains(page, `class="task-done"`) {
		t.Errorf("toggled task not shown done")
	}
	if w := do(h, "POST", "/remove", url.Values{"id": {"1"}}); w.Code != http.StatusSeeOther {
		t.Fatalf("POST /remove = %d", w.Code)
	}
	before := snap.Revision
	snap, _ = store.List(t.Context())
	if len(snap.Tasks) != 0 || snap.Revision <= before {
		t.Errorf("after remove: %d tasks at revision %d, want 0 at a revision above %d", len(snap.Tasks), snap.Revision, before)
	}

	if w := do(h, "HEAD", "/", nil); w.Code != 200 {
		t.Errorf("HEAD / = %d", w.Code)
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := newStack(t, stackOptions{}).handler
	w := do(h, "GET", "/", nil)
	for header, want := range map[string]string{
		"Content-Security-Policy": "default-src 'none'",
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "same-origin",
	} {
		if got := w.Header().Get(header); !strings.Contains(got, want) {
			t.Errorf("%s = %q, want it to contain %q", header, got, want)
		}
	}
	if strings.Contains(w.Body.String(), "http://") || strings.Contains(w.Body.String(), "https://") {
		t.Errorf("page links to another origin:\n%s", w.Body)
	}
	for _, path := range []string{"/static/app.css", "/static/vendor/bootstrap/bootstrap.trimmed.css", "/static/favicon.svg"} {
		if w := do(h, "GET", path, nil); w.Code != 200 || w.Body.Len() == 0 {
			t.Errorf("GET %s = %d (%d bytes)", path, w.Code, w.Body.Len())
		}
	}
}
