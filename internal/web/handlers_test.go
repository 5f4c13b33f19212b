package web_test

import (
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/web"
)

// newApp serves the real app over a fresh SQLite store.
func newApp(t *testing.T) (*tasks.Store, http.Handler) {
	t.Helper()
	store, err := tasks.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "web.db"), tasks.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := store.Migrate(t.Context(), log); err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(web.Config{
		Tasks:  store,
		Logger: log,
		Health: []web.HealthCheck{{Name: "database", Critical: true, Check: store.Ping}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return store, srv.Handler()
}

// do sends one request to h. form, when not nil, is the url-encoded body.
func do(h http.Handler, method, target string, form url.Values, header ...string) *httptest.ResponseRecorder {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, target, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestTaskLifecycle(t *testing.T) {
	store, h := newApp(t)
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

	if w := do(h, "POST", "/toggle", url.Values{"id": {"1"}}); w.Code != http.StatusSeeOther {
		t.Fatalf("POST /toggle = %d", w.Code)
	}
	if page := do(h, "GET", "/", nil).Body.String(); !strings.Contains(page, `class="task-done"`) {
		t.Errorf("toggled task not shown done")
	}
	if w := do(h, "POST", "/remove", url.Values{"id": {"1"}}); w.Code != http.StatusSeeOther {
		t.Fatalf("POST /remove = %d", w.Code)
	}
	snap, _ = store.List(t.Context())
	if len(snap.Tasks) != 0 || snap.Revision != 3 {
		t.Errorf("after remove: %d tasks at revision %d, want 0 at 3", len(snap.Tasks), snap.Revision)
	}

	if w := do(h, "HEAD", "/", nil); w.Code != 200 {
		t.Errorf("HEAD / = %d", w.Code)
	}
}

func TestSecurityHeaders(t *testing.T) {
	_, h := newApp(t)
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
	for _, path := range []string{"/static/app.css", "/static/vendor/bootstrap/bootstrap.min.css", "/static/vendor/bootstrap-icons/bootstrap-icons.min.css", "/static/vendor/bootstrap-icons/fonts/bootstrap-icons.woff2"} {
		if w := do(h, "GET", path, nil); w.Code != 200 || w.Body.Len() == 0 {
			t.Errorf("GET %s = %d (%d bytes)", path, w.Code, w.Body.Len())
		}
	}
}

// TestBadInput: every malformed request gets a clear 4xx page and changes
// nothing.
func TestBadInput(t *testing.T) {
	store, h := newApp(t)
	if w := do(h, "POST", "/add", url.Values{"name": {"keep me"}}); w.Code != http.StatusSeeOther {
		t.Fatal(w.Code)
	}
	big := url.Values{"name": {strings.Repeat("x", web.MaxBodyBytes)}}
	tests := []struct {
		name   string
		method string
		path   string
		form   url.Values
		header []string
		status int
		says   string
	}{
		{"empty name", "POST", "/add", url.Values{"name": {""}}, nil, 400, "empty"},
		{"blank name", "POST", "/add", url.Values{"name": {" \t "}}, nil, 400, "empty"},
		{"missing name", "POST", "/add", url.Values{}, nil, 400, "empty"},
		{"long name", "POST", "/add", url.Values{"name": {strings.Repeat("a", 201)}}, nil, 400, "at most 200"},
		{"invalid utf-8", "POST", "/add", url.Values{"name": {"a\xffb"}}, nil, 400, "UTF-8"},
		{"control character", "POST", "/add", url.Values{"name": {"a\x07b"}}, nil, 400, "control"},
		{"body too large", "POST", "/add", big, nil, 413, "too large"},
		{"missing id", "POST", "/remove", url.Values{}, nil, 400, "id field is missing"},
		{"empty id", "POST", "/toggle", url.Values{"id": {""}}, nil, 400, "id field is missing"},
		{"non-numeric id", "POST", "/remove", url.Values{"id": {"abc"}}, nil, 400, "positive whole number"},
		{"negative id", "POST", "/toggle", url.Values{"id": {"-1"}}, nil, 400, "positive whole number"},
		{"zero id", "POST", "/remove", url.Values{"id": {"0"}}, nil, 400, "positive whole number"},
		{"huge id", "POST", "/toggle", url.Values{"id": {"99999999999999999999999"}}, nil, 400, "positive whole number"},
		{"float id", "POST", "/remove", url.Values{"id": {"1.5"}}, nil, 400, "positive whole number"},
		{"unknown id remove", "POST", "/remove", url.Values{"id": {"424242"}}, nil, 404, "no such task"},
		{"unknown id toggle", "POST", "/toggle", url.Values{"id": {"9223372036854775807"}}, nil, 404, "no such task"},
		{"wrong method on add", "GET", "/add", nil, nil, 405, "does not accept GET"},
		{"wrong method on index", "DELETE", "/", nil, nil, 405, "does not accept DELETE"},
		{"unknown path", "GET", "/nope", nil, nil, 404, "no page"},
		{"cross-site post", "POST", "/add", url.Values{"name": {"evil"}}, []string{"Sec-Fetch-Site", "cross-site"}, 403, "Cross-origin"},
		{"cross-origin post", "POST", "/remove", url.Values{"id": {"1"}}, []string{"Origin", "https://evil.example"}, 403, "Cross-origin"},
	}
	before, _ := store.List(t.Context())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(h, tt.method, tt.path, tt.form, tt.header...)
			if w.Code != tt.status {
				t.Errorf("status = %d, want %d", w.Code, tt.status)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type = %q, want an HTML page", ct)
			}
			if !strings.Contains(w.Body.String(), tt.says) {
				t.Errorf("page does not say %q:\n%s", tt.says, w.Body)
			}
			after, _ := store.List(t.Context())
			if after.Revision != before.Revision || len(after.Tasks) != len(before.Tasks) {
				t.Errorf("data changed: revision %d→%d, tasks %d→%d", before.Revision, after.Revision, len(before.Tasks), len(after.Tasks))
			}
		})
	}
	if w := do(h, "PUT", "/add", nil); w.Header().Get("Allow") != "POST" {
		t.Errorf("405 Allow = %q, want POST", w.Header().Get("Allow"))
	}
	// A same-origin browser POST passes the cross-origin check.
	if w := do(h, "POST", "/add", url.Values{"name": {"mine"}}, "Sec-Fetch-Site", "same-origin"); w.Code != http.StatusSeeOther {
		t.Errorf("same-origin POST = %d, want 303", w.Code)
	}
}
