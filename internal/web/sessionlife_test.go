package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tasklist/tasklist/internal/session"
	"github.com/tasklist/tasklist/internal/sqldb"
	"github.com/tasklist/tasklist/internal/testenv"
)

// sessionApp is an instance with every cache layer and sessions on engine,
// over an SQLite file and the in-process cache; rows counts its stored
// sessions (for the engines that store them in the database).
type sessionApp struct {
	*stack
	url string
	db  *sqldb.DB
}

func newSessionApp(t *testing.T, engine string) *sessionApp {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.db")
	o := allLayers
	o.sessions = engine
	o.dbURL = "sqlite:" + path
	o.prefix = testenv.RandomName("life") + ":"
	app := newStack(t, o)
	srv := httptest.NewServer(app.handler)
	t.Cleanup(srv.Close)
	db, err := sqldb.Open(t.Context(), "sqlite:"+path, sqldb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &sessionApp{stack: app, url: srv.URL, db: db}
}

func (a *sessionApp) rows(t *testing.T) int {
	t.Helper()
	var n int
	if err := a.db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM tasklist_sessions").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// sets is how many sessions the store has written.
func (a *sessionApp) sets() uint64 { return a.layer("session").Sets }

// sessionToken is the session token resp sets ("" for none, or for a
// cookie that deletes it).
func sessionToken(resp *http.Response) string {
	for _, c := range resp.Cookies() {
		if c.Name == "tasklist_session" && c.MaxAge >= 0 {
			return c.Value
		}
	}
	return ""
}

// TestNoSessionForNothing: writes that change nothing — an undo with
// nothing to undo, a write answered 4xx — store no session and set no
// cookie, with no cookie or with one that names no session, on every
// engine. One successful write then does store one (the check sees
// sessions when there are some).
func TestNoSessionForNothing(t *testing.T) {
	for _, engine := range session.Engines() {
		t.Run(engine, func(t *testing.T) {
			app := newSessionApp(t, engine)
			for _, tc := range []struct {
				path   string
				form   url.Values
				status int
			}{
				{"/undo", url.Values{"id": {"1"}}, http.StatusConflict},
				{"/undo", url.Values{"id": {"x"}}, http.StatusBadRequest},
				{"/toggle", url.Values{"id": {"999999999"}, "done": {"1"}}, http.StatusNotFound},
				{"/remove", url.Values{"id": {"999999999"}}, http.StatusNotFound},
				{"/add", url.Values{"name": {" "}}, http.StatusBadRequest},
				{"/add", url.Values{"name": {strings.Repeat("x", 201)}}, http.StatusBadRequest},
			} {
				for _, cookie := range []string{"", "tasklist_session=" + strings.Repeat("A", 43)} {
					req, _ := http.NewRequest("POST", app.url+tc.path, strings.NewReader(tc.form.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.Header.Set("Sec-Fetch-Site", "same-origin")
					if cookie != "" {
						req.Header.Set("Cookie", cookie)
					}
					resp, err := http.DefaultTransport.RoundTrip(req)
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					if resp.StatusCode != tc.status || resp.Header.Get("Set-Cookie") != "" {
						t.Errorf("POST %s %v (cookie %q) = %d, Set-Cookie %q; want %d and none",
							tc.path, tc.form, cookie, resp.StatusCode, resp.Header.Get("Set-Cookie"), tc.status)
					}
				}
			}
			if n := app.sets(); n != 0 {
				t.Errorf("%d sessions stored for writes that changed nothing", n)
			}
			if n := app.rows(t); n != 0 {
				t.Errorf("%d session rows for writes that changed nothing", n)
			}
			resp, _ := newVisitor(t).do("POST", app.url, "/add", url.Values{"name": {"real"}})
			if sessionToken(resp) == "" || app.sets() != 1 {
				t.Errorf("a real add: cookie %q, %d sessions stored; want one", resp.Header.Get("Set-Cookie"), app.sets())
			}
			if want := map[bool]int{true: 0, false: 1}[engine == session.Cache]; app.rows(t) != want {
				t.Errorf("%d session rows after a real add, want %d", app.rows(t), want)
			}
		})
	}
}

// TestSessionFixation: a visitor whose browser holds a token someone else
// got (a real session of theirs, planted in the visitor's cookie) gets a
// new token with their first write; the old token sees neither the
// visitor's message nor their undo, which works for the visitor alone.
func TestSessionFixation(t *testing.T) {
	for _, engine := range session.Engines() {
		t.Run(engine, func(t *testing.T) {
			app := newSessionApp(t, engine)
			attacker, victim := newVisitor(t), newVisitor(t)
			resp, _ := attacker.do("POST", app.url, "/add", url.Values{"name": {"bait"}})
			planted := sessionToken(resp)
			if planted == "" {
				t.Fatal("the attacker got no session")
			}
			_, body := victim.do("GET", app.url, "/", nil)
			id := rowRE.FindStringSubmatch(body)[1]
			u, _ := url.Parse(app.url)
			victim.client.Jar.SetCookies(u, []*http.Cookie{{Name: "tasklist_session", Value: planted}})

			resp, _ = victim.do("POST", app.url, "/remove", url.Values{"id": {id}})
			if got := sessionToken(resp); resp.StatusCode != http.StatusSeeOther || got == "" || got == planted {
				t.Fatalf("the victim's remove = %d with token %q; want a new token, not the planted one", resp.StatusCode, got)
			}
			_, body = attacker.do("GET", app.url, "/", nil)
			if f := flashOf(body); strings.Contains(f, "Removed") || strings.Contains(body, `id="undo"`) {
				t.Errorf("the planted token sees the victim's flash %q (undo offered: %v)", f, strings.Contains(body, `id="undo"`))
			}
			attacker.do("POST", app.url, "/undo", url.Values{"id": {id}})
			if _, body := attacker.do("GET", app.url, "/", nil); len(rows(body)) != 0 {
				t.Fatalf("the planted token undid the victim's remove: %v", rows(body))
			}
			_, body = victim.do("GET", app.url, "/", nil)
			if f := flashOf(body); f != "Removed “bait”." || !strings.Contains(body, `id="undo"`) {
				t.Errorf("the victim's flash = %q (undo offered: %v)", f, strings.Contains(body, `id="undo"`))
			}
			victim.do("POST", app.url, "/undo", url.Values{"id": {id}})
			if _, body := victim.do("GET", app.url, "/", nil); len(rows(body)) != 1 {
				t.Errorf("the victim's undo: %v", rows(body))
			}
		})
	}
}

var flashClassRE = regexp.MustCompile(`<div class="alert (alert-[a-z]+)[^"]*"[^>]*id="flash"`)

// TestNothingToUndoIsANotice: a change made is shown as a success, "There
// is nothing to undo." as a warning.
func TestNothingToUndoIsANotice(t *testing.T) {
	app := newSessionApp(t, session.CachedDB)
	v := newVisitor(t)
	v.do("POST", app.url, "/add", url.Values{"name": {"a"}})
	v.do("POST", app.url, "/add", url.Values{"name": {"b"}})
	_, body := v.do("GET", app.url, "/", nil)
	if m := flashClassRE.FindStringSubmatch(body); m == nil || m[1] != "alert-success" || flashOf(body) != "Added “b”." {
		t.Errorf("after an add: flash %q, class %v", flashOf(body), m)
	}
	ids := rowRE.FindAllStringSubmatch(body, -1)
	v.do("POST", app.url, "/remove", url.Values{"id": {ids[0][1]}})
	v.do("POST", app.url, "/remove", url.Values{"id": {ids[1][1]}})
	// The first remove's Undo, from an older page: its undo is gone.
	if resp, _ := v.do("POST", app.url, "/undo", url.Values{"id": {ids[0][1]}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("undo of an older remove = %d", resp.StatusCode)
	}
	_, body = v.do("GET", app.url, "/", nil)
	if m := flashClassRE.FindStringSubmatch(body); m == nil || m[1] != "alert-warning" || flashOf(body) != "There is nothing to undo." {
		t.Errorf("nothing to undo: flash %q, class %v; want alert-warning", flashOf(body), m)
	}
}

// TestSessionEndsWithItsLastMessage: once the page has shown a session's
// message and the session keeps no undo, it is deleted and its cookie
// removed; a session with an undo stays.
func TestSessionEndsWithItsLastMessage(t *testing.T) {
	app := newSessionApp(t, session.DB)
	v := newVisitor(t)
	v.do("POST", app.url, "/add", url.Values{"name": {"a"}})
	if app.rows(t) != 1 {
		t.Fatalf("%d rows after an add, want 1", app.rows(t))
	}
	resp, body := v.do("GET", app.url, "/", nil)
	if flashOf(body) != "Added “a”." || !strings.Contains(resp.Header.Get("Set-Cookie"), "Max-Age=0") || app.rows(t) != 0 {
		t.Errorf("after its message: flash %q, cookie %q, %d rows; want the cookie removed and no row",
			flashOf(body), resp.Header.Get("Set-Cookie"), app.rows(t))
	}
	id := rowRE.FindStringSubmatch(body)[1]
	v.do("POST", app.url, "/remove", url.Values{"id": {id}})
	resp, body = v.do("GET", app.url, "/", nil)
	if !strings.Contains(body, `id="undo"`) || sessionToken(resp) == "" || app.rows(t) != 1 {
		t.Errorf("after a remove's message: undo offered %v, cookie %q, %d rows; want the session kept",
			strings.Contains(body, `id="undo"`), resp.Header.Get("Set-Cookie"), app.rows(t))
	}
}
