package web_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/cache/cachetest"
	"github.com/tasklist/tasklist/internal/session"
	"github.com/tasklist/tasklist/internal/testenv"
)

// visitor is a browser: a cookie jar, talking to any of the instances.
type visitor struct {
	t      *testing.T
	client *http.Client
}

func newVisitor(t *testing.T) *visitor {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	// Redirects are followed by hand, so each response can be looked at.
	return &visitor{t: t, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (v *visitor) do(method, base, path string, form url.Values) (*http.Response, string) {
	v.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		v.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", base)
	}
	resp, err := v.client.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var flashRE = regexp.MustCompile(`id="flash-message">([^<]*)<`)

func flashOf(body string) string {
	if m := flashRE.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

// TestSessionsAcrossInstances: two visitors, three instances sharing
// memcached, every cache layer on. Each visitor sees its own flash messages
// and undo, once, on whichever instance; the other never sees them and
// keeps getting the shared page from the page cache.
func TestSessionsAcrossInstances(t *testing.T) {
	for _, engine := range session.Engines() {
		t.Run(engine, func(t *testing.T) {
			o := allLayers
			o.dbURL = testenv.SQLiteURL(t, "t.db")
			o.backend = backendOf([]string{testenv.StartMemcached(t, testenv.MemcachedOptions{}).Addr()})
			o.prefix = testenv.RandomName("sess") + ":"
			o.sessions = engine
			var (
				apps  []*stack
				bases []string
			)
			for range 3 {
				app := newStack(t, o)
				srv := httptest.NewServer(app.handler)
				t.Cleanup(srv.Close)
				apps, bases = append(apps, app), append(bases, srv.URL)
			}
			alice, bob := newVisitor(t), newVisitor(t)

			// Bob only reads: no cookie, and page hits.
			resp, _ := bob.do("GET", bases[0], "/", nil)
			if c := resp.Header.Get("Set-Cookie"); c != "" {
				t.Errorf("a reader got a cookie: %s", c)
			}
			pageHits := func() uint64 {
				var n uint64
				for _, a := range apps {
					n += a.layer("page").Hits
				}
				return n
			}

			resp, _ = alice.do("POST", bases[0], "/add", url.Values{"name": {"alice's task"}})
			cookie := resp.Header.Get("Set-Cookie")
			if resp.StatusCode != http.StatusSeeOther || !strings.Contains(cookie, "tasklist_session=") ||
				!strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Lax") {
				t.Fatalf("add = %d, cookie %q", resp.StatusCode, cookie)
			}
			hits := pageHits()
			_, body := bob.do("GET", bases[1], "/", nil)
			if f := flashOf(body); f != "" || !strings.Contains(body, "alice&#39;s task") {
				t.Errorf("bob sees flash %q (or not the task)", f)
			}
			if pageHits() == hits {
				// Bob's first look at this version may have rendered it;
				// his second must be a hit.
				bob.do("GET", bases[2], "/", nil)
				if pageHits() == hits {
					t.Errorf("bob got no page-cache hit")
				}
			}
			_, body = alice.do("GET", bases[2], "/", nil)
			if f := flashOf(body); f != "Added “alice&#39;s task”." {
				t.Errorf("alice's flash on another instance = %q", f)
			}
			if _, body = alice.do("GET", bases[0], "/", nil); flashOf(body) != "" {
				t.Errorf("the flash showed twice: %q", flashOf(body))
			}
			// With nothing pending, Alice gets the shared page too.
			hits = pageHits()
			if _, body = alice.do("GET", bases[0], "/", nil); pageHits() == hits || !strings.Contains(body, "alice&#39;s task") {
				t.Errorf("alice, with nothing pending, got no page-cache hit")
			}

			// Alice removes; her undo works once, Bob's does nothing.
			id := rowRE.FindStringSubmatch(body)[1]
			alice.do("POST", bases[1], "/remove", url.Values{"id": {id}})
			_, body = alice.do("GET", bases[0], "/", nil)
			if f := flashOf(body); !strings.HasPrefix(f, "Removed") || !strings.Contains(body, `id="undo"`) {
				t.Errorf("after remove: flash %q, undo offered %v", f, strings.Contains(body, `id="undo"`))
			}
			for i, b := range bases {
				if _, body := bob.do("GET", b, "/", nil); len(rows(body)) != 0 || strings.Contains(body, "undo") || flashOf(body) != "" {
					t.Errorf("bob on instance %d after alice's remove: rows %v, flash %q", i, rows(body), flashOf(body))
				}
			}
			if resp, body := bob.do("POST", bases[2], "/undo", url.Values{"id": {id}}); resp.StatusCode != http.StatusConflict ||
				!strings.Contains(body, "There is nothing to undo.") || resp.Header.Get("Set-Cookie") != "" {
				t.Errorf("bob's undo = %d, cookie %q", resp.StatusCode, resp.Header.Get("Set-Cookie"))
			}
			if _, body := bob.do("GET", bases[2], "/", nil); len(rows(body)) != 0 {
				t.Errorf("bob's undo restored: rows %v", rows(body))
			}
			alice.do("POST", bases[2], "/undo", url.Values{"id": {id}})
			for i, b := range bases { // the restore is a write: every instance shows it
				if _, body := bob.do("GET", b, "/", nil); !slices2(rows(body), "alice&#39;s task") {
					t.Errorf("instance %d after the undo: %v", i, rows(body))
				}
			}
			if _, body := alice.do("GET", bases[0], "/", nil); !strings.HasPrefix(flashOf(body), "Restored") {
				t.Errorf("alice after undo: flash %q", flashOf(body))
			}
			// Her session ended with its last message: a second undo is
			// answered without one.
			if resp, _ := alice.do("POST", bases[1], "/undo", url.Values{"id": {id}}); resp.StatusCode != http.StatusConflict {
				t.Errorf("second undo = %d", resp.StatusCode)
			}
			if _, body := alice.do("GET", bases[1], "/", nil); len(rows(body)) != 1 {
				t.Errorf("second undo: rows %v", rows(body))
			}
		})
	}
}

// TestBadSessionCookies: a malformed, forged, oversized or unknown session
// cookie starts a new session silently: a page, never an error. (Another
// visitor's real token: TestSessionFixation.)
func TestBadSessionCookies(t *testing.T) {
	o := allLayers
	o.sessions = session.CachedDB
	o.prefix = "bad:"
	app := newStack(t, o)
	srv := httptest.NewServer(app.handler)
	defer srv.Close()
	real := newVisitor(t)
	real.do("POST", srv.URL, "/add", url.Values{"name": {"x"}})
	for name, value := range map[string]string{
		"garbage":      "%%%garbage%%%",
		"empty":        "",
		"wrong length": "abc",
		"long":         strings.Repeat("A", 3000),
		"forged":       strings.Repeat("A", 43),
		"sql":          "' OR 1=1 --",
	} {
		for _, path := range []string{"/", "/add"} {
			req, _ := http.NewRequest("GET", srv.URL+path, nil)
			if path == "/add" {
				req, _ = http.NewRequest("POST", srv.URL+path, strings.NewReader("name=y"))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Origin", srv.URL)
			}
			req.Header.Set("Cookie", "tasklist_session="+value)
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				t.Errorf("%s cookie on %s: %d", name, path, resp.StatusCode)
			}
		}
	}
	// The real token still works for its owner.
	if _, body := real.do("GET", srv.URL, "/", nil); flashOf(body) == "" {
		t.Errorf("the real visitor lost the flash")
	}
}

// TestIdleSessionEnds: a session unused for longer than the idle timeout
// ends: its flash is never shown, and its visitor is a reader again.
func TestIdleSessionEnds(t *testing.T) {
	o := allLayers
	o.sessions = session.CachedDB
	o.sessionIdle = 30 * time.Minute
	clock := cachetest.NewClock()
	o.now = clock.Now
	o.prefix = "idle:"
	app := newStack(t, o)
	srv := httptest.NewServer(app.handler)
	defer srv.Close()
	v := newVisitor(t)
	v.do("POST", srv.URL, "/add", url.Values{"name": {"a"}})
	clock.Advance(31 * time.Minute)
	resp, body := v.do("GET", srv.URL, "/", nil)
	if f := flashOf(body); f != "" {
		t.Errorf("an idle session's flash was shown: %q", f)
	}
	if c := resp.Header.Get("Set-Cookie"); !strings.Contains(c, "Max-Age=0") && !strings.Contains(c, "Max-Age=-1") && !strings.Contains(c, "1970") {
		t.Errorf("the ended session's cookie was not removed: %q", c)
	}
}
