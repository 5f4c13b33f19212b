package pagecache

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/local"
	"github.com/tasklist/tasklist/internal/taskcache"
	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/tasks/taskstest"
	"github.com/tasklist/tasklist/internal/testenv"
)

// newTestPageCache is a page cache over the in-process cache, keyed by the
// version of a real (empty) task list.
func newTestPageCache(t *testing.T) *Pages {
	t.Helper()
	p, _ := newTestPageCacheOf(t)
	return p
}

// newTestPageCacheOf is newTestPageCache with the cached task list whose
// version it is keyed by, for a test that writes to the list.
func newTestPageCacheOf(t *testing.T) (*Pages, *taskcache.Store) {
	t.Helper()
	store := taskstest.Open(t, testenv.SQLiteURL(t, "t.db"), tasks.Options{})
	b, err := local.New(local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := cache.New(b, cache.Options{})
	t.Cleanup(func() { c.Close() })
	tc, err := taskcache.New(store, c, taskcache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPages(Options{Cache: c, Versions: tc, Build: "test"}, PagesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p, tc
}

// TestNothingPersonalIsShared: per-visitor content is neither stored in the
// shared page nor served from it. The stand-in handler greets the visitor
// named by a cookie, shows a flash message when the request has one, and
// sets a cookie when asked to.
func TestNothingPersonalIsShared(t *testing.T) {
	var renders atomic.Int64
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		renders.Add(1)
		who := "anonymous"
		if c, err := r.Cookie("visitor"); err == nil {
			who = c.Value
		}
		if r.Header.Get("X-Set-Cookie") != "" {
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "secret-of-" + who})
		}
		if c, err := r.Cookie("flash"); err == nil {
			w.Write([]byte("flash: " + c.Value + "; "))
		}
		w.Write([]byte("hello " + who))
	})
	p := newTestPageCache(t)
	h := p.Handler(ignoringVersion(handler), func(r *http.Request) (string, bool) {
		_, err := r.Cookie("flash") // a flash message waiting: not a shared page
		return "k", err != nil
	})
	get := func(header ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/", nil)
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Add(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	// A visitor with a cookie gets the shared page, rendered without it.
	if w := get("Cookie", "visitor=alice"); w.Body.String() != "hello anonymous" {
		t.Errorf("alice got %q, want the shared page", w.Body)
	}
	if w := get(); w.Body.String() != "hello anonymous" {
		t.Errorf("an anonymous visitor got %q", w.Body)
	}
	if n := renders.Load(); n != 1 {
		t.Errorf("%d renders for two requests of one page, want 1", n)
	}
	// A visitor with a pending flash bypasses the cache, in both directions.
	w := get("Cookie", "visitor=bob; flash=Added")
	if got := w.Body.String(); got != "flash: Added; hello bob" || w.Header().Get("ETag") != "" {
		t.Errorf("bob with a flash got %q (ETag %q), want his own uncached page", got, w.Header().Get("ETag"))
	}
	if w := get(); strings.Contains(w.Body.String(), "bob") || strings.Contains(w.Body.String(), "flash") {
		t.Errorf("after bob's visit the shared page is %q", w.Body)
	}
	if s := p.Counts().Sets; s != 1 {
		t.Errorf("%d pages stored, want 1", s)
	}
}

// TestResponseSettingCookieIsNeverStored: a response that sets a cookie (or
// is not a 200, or says no-store) is neither stored nor shared: every
// request gets its own, with its own cookie.
func TestResponseSettingCookieIsNeverStored(t *testing.T) {
	for name, handler := range map[string]http.HandlerFunc{
		"set-cookie": func(w http.ResponseWriter, r *http.Request) {
			http.SetCookie(w, &http.Cookie{Name: "session", Value: r.Header.Get("X-Who")})
			w.Write([]byte("page for " + r.Header.Get("X-Who")))
		},
		"no-store": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			w.Write([]byte("page for " + r.Header.Get("X-Who")))
		},
		"not 200": func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "page for "+r.Header.Get("X-Who"), http.StatusServiceUnavailable)
		},
	} {
		t.Run(name, func(t *testing.T) {
			p := newTestPageCache(t)
			h := p.Handler(ignoringVersion(handler), func(*http.Request) (string, bool) { return "k", true })
			for _, who := range []string{"alice", "bob", "carol"} {
				r := httptest.NewRequest("GET", "/", nil)
				r.Header.Set("X-Who", who)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if !strings.Contains(w.Body.String(), "page for "+who) {
					t.Errorf("%s got %q", who, w.Body)
				}
				if c := w.Header().Get("Set-Cookie"); c != "" && !strings.Contains(c, who) {
					t.Errorf("%s got another visitor's cookie %q", who, c)
				}
			}
			if s := p.Counts().Sets; s != 0 {
				t.Errorf("%d responses stored, want none", s)
			}
		})
	}
}

// TestPageMemory: the in-process copy keeps one version's pages within its
// byte bound and drops them when the version moves on, or when a version of
// another database comes.
func TestPageMemory(t *testing.T) {
	m := newMemory(100)
	e := func(n int) *entry { return &entry{body: make([]byte, n)} }
	v := func(rev int64) tasks.Version { return tasks.Version{DB: "a", Revision: rev} }
	m.put(v(1), "a", e(60))
	m.put(v(1), "b", e(60)) // over the bound: not kept
	if m.get(v(1), "a") == nil || m.get(v(1), "b") != nil || m.get(v(2), "a") != nil {
		t.Errorf("after two puts: a %v, b %v", m.get(v(1), "a") != nil, m.get(v(1), "b") != nil)
	}
	m.put(v(0), "old", e(1)) // an older version is ignored
	if m.get(v(0), "old") != nil {
		t.Error("kept a page of an older version")
	}
	if m.get(tasks.Version{DB: "b", Revision: 1}, "a") != nil {
		t.Error("served database a's page for database b")
	}
	m.put(v(2), "b", e(60))
	if m.get(v(1), "a") != nil || m.get(v(2), "b") == nil || m.size != 60 {
		t.Errorf("after the version moved: size %d", m.size)
	}
	other := tasks.Version{DB: "b", Revision: 1} // an older revision, but another database's
	m.put(other, "c", e(10))
	if m.get(other, "c") == nil || m.get(v(2), "b") != nil {
		t.Error("another database's version did not replace the pages")
	}
	var nilMem *memory
	nilMem.put(v(1), "a", e(1))
	if nilMem.get(v(1), "a") != nil {
		t.Error("nil memory kept a page")
	}
}

func TestAcceptsGzipAndETagMatch(t *testing.T) {
	for header, want := range map[string]bool{
		"": false, "gzip": true, "GZIP": true, "br, gzip": true, "gzip;q=0": false, "gzip; q=0.5": true,
		"deflate": false, "x-gzip": false, "gzip;q=abc": false,
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Encoding", header)
		if got := AcceptsGzip(r); got != want {
			t.Errorf("acceptsGzip(%q) = %v", header, got)
		}
	}
	for _, tt := range []struct {
		header string
		want   bool
	}{{`"x"`, true}, {`W/"x"`, true}, {`"y", "x"`, true}, {"*", true}, {`"y"`, false}, {"", false}, {`x`, false}} {
		if got := ETagMatch(tt.header, `"x"`); got != tt.want {
			t.Errorf("etagMatch(%q) = %v", tt.header, got)
		}
	}
}

func TestPageCodec(t *testing.T) {
	body := []byte(strings.Repeat("<p>hello</p>", 100))
	e, err := decodePage(encodePage(body))
	if err != nil || string(e.body) != string(body) || len(e.gz) == 0 {
		t.Fatalf("round trip: %v", err)
	}
	for _, bad := range [][]byte{nil, {'X'}, {'P'}, {'P', 0xff}, {'P', 10, 'a'}} {
		if _, err := decodePage(bad); err == nil {
			t.Errorf("decodePage(%q) succeeded", bad)
		}
	}
}

// TestMovedWhileMade: when a write moves the list on while a page is made,
// the page of the version after it is made and served from the cache, not
// one page per waiting request outside it; only after maxMoves such moves
// in a row is the request served without the cache.
func TestMovedWhileMade(t *testing.T) {
	tests := []struct {
		name      string
		moves     int // renders that find the list moved on
		versioned int // renders for a version wanted
		uncached  bool
	}{
		{"one move", 1, 2, false},
		{"a move every time", maxMoves, maxMoves, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, tc := newTestPageCacheOf(t)
			var versioned, uncached int
			h := p.Handler(func(w http.ResponseWriter, r *http.Request, v tasks.Version) {
				if v == (tasks.Version{}) {
					uncached++
					w.Write([]byte("made without the cache"))
					return
				}
				versioned++
				if versioned <= tt.moves {
					// A write lands while this page is made: the list has
					// moved past v, as the handler finds and answers.
					if _, _, err := tc.Add(r.Context(), "written meanwhile"); err != nil {
						t.Fatal(err)
					}
					w.WriteHeader(http.StatusConflict)
					return
				}
				w.Write([]byte("page of " + v.String()))
			}, func(*http.Request) (string, bool) { return "k", true })

			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
			now, _, err := tc.VersionWith(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			want := "page of " + now.String()
			if tt.uncached {
				want = "made without the cache"
			}
			if w.Code != http.StatusOK || w.Body.String() != want {
				t.Errorf("GET = %d %q, want 200 %q", w.Code, w.Body, want)
			}
			if versioned != tt.versioned || (uncached == 1) != tt.uncached {
				t.Errorf("renders: %d for a version, %d without the cache; want %d and %v", versioned, uncached, tt.versioned, tt.uncached)
			}
		})
	}
}

// ignoringVersion adapts a handler that ignores the version to a
// VersionedHandler.
func ignoringVersion(h http.Handler) VersionedHandler {
	return func(w http.ResponseWriter, r *http.Request, _ tasks.Version) { h.ServeHTTP(w, r) }
}
