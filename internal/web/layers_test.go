package web_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/config"
	"github.com/tasklist/tasklist/internal/stats"
	"github.com/tasklist/tasklist/internal/taskcache"
	"github.com/tasklist/tasklist/internal/testenv"
)

// countingBackend counts the calls that reach the backend: with one server,
// one call is one round trip.
type countingBackend struct {
	cache.Backend
	calls atomic.Int64
	// keysRead counts the keys that reads asked for.
	keysRead atomic.Int64
}

// immediateCounting counts the calls of an immediate backend (the
// in-process cache), and stays immediate, as the app sees it (see
// cache.Immediate).
type immediateCounting struct{ *countingBackend }

func (immediateCounting) Immediate() {}

// counted returns b for cache.New: immediate when what it counts is.
func (b *countingBackend) counted() cache.Backend {
	if _, ok := b.Backend.(cache.Immediate); ok {
		return immediateCounting{b}
	}
	return b
}

func (b *countingBackend) Get(ctx context.Context, key string) (cache.Item, error) {
	b.calls.Add(1)
	b.keysRead.Add(1)
	return b.Backend.Get(ctx, key)
}

func (b *countingBackend) GetMulti(ctx context.Context, keys []string) (map[string]cache.Item, error) {
	b.calls.Add(1)
	b.keysRead.Add(int64(len(keys)))
	return b.Backend.GetMulti(ctx, keys)
}

func (b *countingBackend) Set(ctx context.Context, it cache.Item) error {
	b.calls.Add(1)
	return b.Backend.Set(ctx, it)
}

func (b *countingBackend) Add(ctx context.Context, it cache.Item) error {
	b.calls.Add(1)
	return b.Backend.Add(ctx, it)
}

func (b *countingBackend) CompareAndSwap(ctx context.Context, it cache.Item) error {
	b.calls.Add(1)
	return b.Backend.CompareAndSwap(ctx, it)
}

func (b *countingBackend) Delete(ctx context.Context, key string) error {
	b.calls.Add(1)
	return b.Backend.Delete(ctx, key)
}

// allLayers is an instance with every caching layer on.
var allLayers = stackOptions{layers: everyLayer}

// backendOf opens in-process caches when addrs is nil, else clients of
// the memcached servers at addrs.
func backendOf(addrs []string) backendOpener {
	if addrs == nil {
		return localBackend
	}
	return memcachedBackend(addrs, 5*time.Second)
}

// sameOrigin marks a POST as coming from the app's own page.
var sameOrigin = []string{"Sec-Fetch-Site", "same-origin"}

func (l *stack) post(t *testing.T, path string, form url.Values) {
	t.Helper()
	if w := do(l.handler, "POST", path, form, sameOrigin...); w.Code != http.StatusSeeOther {
		t.Fatalf("POST %s %v = %d:\n%s", path, form, w.Code, w.Body)
	}
}

var rowRE = regexp.MustCompile(`<tr data-task-id="(\d+)"( class="task-done")?>\s*<td class="task-name">([^<]*)</td>`)

// rows lists the tasks a page shows, as "name" or "name (done)".
func rows(body string) []string {
	out := []string{}
	for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
		name := m[3]
		if m[2] != "" {
			name += " (done)"
		}
		out = append(out, name)
	}
	return out
}

func (l *stack) get(t *testing.T, target string, header ...string) (*http.Response, string) {
	t.Helper()
	w := do(l.handler, "GET", target, nil, header...)
	return w.Result(), w.Body.String()
}

// TestPageHitCost: a page hit runs no database query and makes at most one
// cache round trip, on the in-process cache and on memcached.
func TestPageHitCost(t *testing.T) {
	for _, backend := range []string{"local", "memcached"} {
		t.Run(backend, func(t *testing.T) {
			var addrs []string
			if backend == "memcached" {
				addrs = []string{testenv.StartMemcached(t, testenv.MemcachedOptions{}).Addr()}
			}
			for _, strategy := range taskcache.Strategies() {
				t.Run(string(strategy), func(t *testing.T) {
					o := allLayers
					o.strategy = strategy
					o.backend, o.prefix = backendOf(addrs), testenv.RandomName("hit")+":"
					app := newStack(t, o)
					app.post(t, "/add", url.Values{"name": {"one"}})
					app.post(t, "/add", url.Values{"name": {"two"}})
					if _, body := app.get(t, "/"); !slices2(rows(body), "one", "two") {
						t.Fatalf("first GET / rows = %v", rows(body))
					}
					for i := range 3 {
						lists, revs, calls, keys := app.lists(), app.revisions(), app.backend.calls.Load(), app.backend.keysRead.Load()
						resp, body := app.get(t, "/")
						if resp.StatusCode != 200 || !slices2(rows(body), "one", "two") {
							t.Fatalf("hit %d: %d %v", i, resp.StatusCode, rows(body))
						}
						if d := app.lists() - lists + app.revisions() - revs; d != 0 {
							t.Errorf("hit %d ran %d database queries, want 0", i, d)
						}
						if d := app.backend.calls.Load() - calls; d > 1 {
							t.Errorf("hit %d made %d cache round trips, want at most 1", i, d)
						}
						// The page itself comes from process memory, with
						// either backend: the version alone is read.
						if d := app.backend.keysRead.Load() - keys; d != 1 {
							t.Errorf("hit %d read %d keys from the cache, want 1 (the version)", i, d)
						}
					}
				})
			}
		})
	}
}

// slices2 reports whether got lists exactly want.
func slices2(got []string, want ...string) bool { return cmp.Equal(got, want) }

// TestFragmentsRenderOnlyChangedRows: with the page cache off, a page after
// one change takes every other row from the cache and renders and stores
// just the changed one; a changed row never shows its old state.
func TestFragmentsRenderOnlyChangedRows(t *testing.T) {
	app := newStack(t, stackOptions{prefix: "frag:", layers: config.Layers{Query: true, Fragment: true}})
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		app.post(t, "/add", url.Values{"name": {n}})
	}
	_, body := app.get(t, "/")
	// The list fragment and its rows, as the fragment layer counts them.
	st := app.layer("fragment")
	if want := (stats.Counts{Misses: 6, Sets: 6}); st != want {
		t.Fatalf("first render: %+v, want %+v: the list and 5 rows rendered and stored", st, want)
	}
	id := rowRE.FindAllStringSubmatch(body, -1)[2][1] // "c"
	app.post(t, "/toggle", url.Values{"id": {id}, "done": {"1"}})
	_, body = app.get(t, "/")
	if got, want := rows(body), []string{"a", "b", "c (done)", "d", "e"}; !cmp.Equal(got, want) {
		t.Errorf("after toggle rows = %v, want %v", got, want)
	}
	st2 := app.layer("fragment")
	if got, want := (stats.Counts{Hits: st2.Hits - st.Hits, Misses: st2.Misses - st.Misses, Sets: st2.Sets - st.Sets}), (stats.Counts{Hits: 4, Misses: 2, Sets: 2}); got != want {
		t.Errorf("render after one toggle counted %+v, want %+v: the list and one row stored, 4 rows reused", got, want)
	}
	// Back to the old state: the old row's fragment is the right one again.
	app.post(t, "/toggle", url.Values{"id": {id}, "done": {"0"}})
	_, body = app.get(t, "/")
	if got, want := rows(body), []string{"a", "b", "c", "d", "e"}; !cmp.Equal(got, want) {
		t.Errorf("after second toggle rows = %v, want %v", got, want)
	}
	// The list fragment is reused while nothing changes, from process
	// memory: only the version is read from the cache.
	lists, keys := app.lists(), app.backend.keysRead.Load()
	app.get(t, "/")
	if app.lists() != lists {
		t.Errorf("an unchanged page queried the list again")
	}
	if d := app.backend.keysRead.Load() - keys; d != 1 {
		t.Errorf("an unchanged page read %d keys from the cache, want 1 (the version)", d)
	}
}

// twoInstances starts two instances on one SQLite database sharing a
// memcached server, as two processes behind a load balancer would.
func twoInstances(t *testing.T, o stackOptions) (*stack, *stack) {
	t.Helper()
	o.dbURL = testenv.SQLiteURL(t, "t.db")
	o.backend = memcachedBackend([]string{testenv.StartMemcached(t, testenv.MemcachedOptions{}).Addr()}, 5*time.Second)
	o.prefix = testenv.RandomName("two") + ":"
	return newStack(t, o), newStack(t, o)
}

// TestConditionalAndCompressed: ETag and 304 across instances that share
// the cache, including one that never rendered the page; gzip for clients
// that accept it, identical once decompressed; Vary; HEAD.
func TestConditionalAndCompressed(t *testing.T) {
	a, b := twoInstances(t, allLayers)
	a.post(t, "/add", url.Values{"name": {"<b>bold</b> & co"}})
	resp, plain := a.get(t, "/")
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || etag == "" || resp.Header.Get("Vary") != "Accept-Encoding" ||
		resp.Header.Get("Cache-Control") != "private, no-cache" || resp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("GET / = %d, headers %v", resp.StatusCode, resp.Header)
	}
	if resp, _ := b.get(t, "/", "If-None-Match", etag); resp.StatusCode != http.StatusNotModified || resp.Header.Get("ETag") != etag {
		t.Errorf("conditional GET on the other instance = %d (ETag %q), want 304 with %q", resp.StatusCode, resp.Header.Get("ETag"), etag)
	}
	if b.lists() != 0 {
		t.Errorf("the 304 queried the list")
	}

	resp, zipped := b.get(t, "/", "Accept-Encoding", "br, gzip;q=0.8")
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("ETag") == etag {
		t.Errorf("gzip response: encoding %q, ETag %q (identity ETag %q)", resp.Header.Get("Content-Encoding"), resp.Header.Get("ETag"), etag)
	}
	zr, err := gzip.NewReader(strings.NewReader(zipped))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(unzipped, []byte(plain)) {
		t.Errorf("decompressed page differs from the identity page")
	}
	if resp, _ := b.get(t, "/", "Accept-Encoding", "gzip;q=0"); resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 got Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	w := do(b.handler, "HEAD", "/", nil)
	if w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("ETag") != etag || w.Header().Get("Content-Length") != fmt.Sprint(len(plain)) {
		t.Errorf("HEAD / = %d, %d body bytes, headers %v", w.Code, w.Body.Len(), w.Header())
	}

	// A write on one instance: the old ETag no longer matches on either.
	b.post(t, "/add", url.Values{"name": {"second"}})
	for name, in := range map[string]*stack{"writer": b, "other": a} {
		resp, body := in.get(t, "/", "If-None-Match", etag)
		if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag || !slices2(rows(body), "&lt;b&gt;bold&lt;/b&gt; &amp; co", "second") {
			t.Errorf("%s after a write: %d, ETag %q, rows %v", name, resp.StatusCode, resp.Header.Get("ETag"), rows(body))
		}
	}
}

// TestPaging: 250 tasks show as pages of 100, 100 and 50 with working
// links, every page is fresh after a write on another instance, a start
// that is no longer a page's is redirected, and a bad page parameter is a
// 400.
func TestPaging(t *testing.T) {
	a, b := twoInstances(t, allLayers)
	for i := range 250 {
		if _, _, err := a.Tasks().Add(t.Context(), fmt.Sprintf("task %03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	a.post(t, "/toggle", url.Values{"id": {"1"}, "done": {"1"}}) // a write through the app, so the caches know
	linkRE := regexp.MustCompile(`id="(prev|next)-page" href="([^"]*)"`)
	walk := func(in *stack) (sizes []int, firsts []string) {
		target := "/"
		for range 5 {
			resp, body := in.get(t, target)
			if resp.StatusCode != 200 {
				t.Fatalf("GET %s = %d", target, resp.StatusCode)
			}
			r := rows(body)
			sizes = append(sizes, len(r))
			firsts = append(firsts, r[0])
			links := map[string]string{}
			for _, m := range linkRE.FindAllStringSubmatch(body, -1) {
				links[m[1]] = strings.ReplaceAll(m[2], "&amp;", "&")
			}
			if len(sizes) > 1 && links["prev"] == "" {
				t.Errorf("page %d has no previous link", len(sizes))
			}
			if links["next"] == "" {
				return sizes, firsts
			}
			target = links["next"]
		}
		t.Fatal("more than 5 pages")
		return nil, nil
	}
	for name, in := range map[string]*stack{"a": a, "b": b} {
		sizes, firsts := walk(in)
		if !cmp.Equal(sizes, []int{100, 100, 50}) || !cmp.Equal(firsts, []string{"task 000 (done)", "task 100", "task 200"}) {
			t.Errorf("%s: pages of %v starting %v", name, sizes, firsts)
		}
	}
	// The previous link of the last page leads to the middle page.
	_, body := a.get(t, "/?after=200")
	if m := linkRE.FindStringSubmatch(body); m == nil || m[1] != "prev" || m[2] != "/?after=100" {
		t.Errorf("previous link of page 3: %v", m)
	}
	// A write on b shows on every page of a at once.
	b.post(t, "/remove", url.Values{"id": {"150"}})
	b.post(t, "/toggle", url.Values{"id": {"250"}, "done": {"1"}})
	if sizes, firsts := walk(a); !cmp.Equal(sizes, []int{100, 100, 49}) || firsts[2] != "task 201" {
		t.Errorf("after the writes: pages of %v starting %v", sizes, firsts)
	}
	// Task 150 gone, the last page starts after task 201 (id 201): the
	// start the old links name, 200, is redirected to the page showing
	// the task after it.
	if resp, _ := a.get(t, "/?after=200"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/?after=100" {
		t.Errorf("GET /?after=200 after the remove = %d to %q, want 303 to /?after=100", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, body := a.get(t, "/?after=201"); !slices.Contains(rows(body), "task 249 (done)") {
		t.Errorf("last page does not show the toggled task 249: %v", rows(body))
	}
	for _, bad := range []string{"/?after=", "/?after=x", "/?after=-1", "/?after=05", "/?after=+5", "/?after=0", "/?after=1&after=2", "/?after=99999999999999999999"} {
		if resp, _ := a.get(t, bad); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s = %d, want 400", bad, resp.StatusCode)
		}
	}
	if resp, _ := a.get(t, "/?after=100000"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/?after=201" {
		t.Errorf("a page past the end = %d to %q, want 303 to the last page", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestListCap: an add beyond the cap is a 409 and changes nothing, with
// every layer on.
func TestListCap(t *testing.T) {
	o := allLayers
	o.maxTasks = 3
	a, b := twoInstances(t, o)
	for _, n := range []string{"a", "b", "c"} {
		a.post(t, "/add", url.Values{"name": {n}})
	}
	_, before := b.get(t, "/")
	rev, err := a.Tasks().Head(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	w := do(b.handler, "POST", "/add", url.Values{"name": {"d"}}, sameOrigin...)
	if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "full") {
		t.Errorf("fourth add = %d:\n%s", w.Code, w.Body)
	}
	if rev2, _ := a.Tasks().Head(t.Context()); rev2 != rev {
		t.Errorf("a refused add moved the version from %v to %v", rev, rev2)
	}
	for _, in := range []*stack{a, b} {
		if _, body := in.get(t, "/"); !slices2(rows(body), "a", "b", "c") || body != before {
			t.Errorf("list after the refused add = %v", rows(body))
		}
	}
	a.post(t, "/remove", url.Values{"id": {"1"}})
	b.post(t, "/add", url.Values{"name": {"d"}})
	if _, body := a.get(t, "/"); !slices2(rows(body), "b", "c", "d") {
		t.Errorf("after remove and add: %v", rows(body))
	}
}

// TestCrossOriginRefusedWithCaching: CSRF protection stays on with every
// layer: a cross-site POST is refused and changes nothing, a same-origin
// one works, and the cached page carries no token.
func TestCrossOriginRefusedWithCaching(t *testing.T) {
	a, _ := twoInstances(t, allLayers)
	a.get(t, "/") // cache the empty page
	for _, h := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Origin", "http://evil.example"},
	} {
		if w := do(a.handler, "POST", "/add", url.Values{"name": {"forged"}}, h...); w.Code != http.StatusForbidden {
			t.Errorf("POST with %v = %d, want 403", h, w.Code)
		}
	}
	if _, body := a.get(t, "/"); len(rows(body)) != 0 || strings.Contains(strings.ToLower(body), "csrf") {
		t.Errorf("after forged posts: rows %v", rows(body))
	}
	a.post(t, "/add", url.Values{"name": {"real"}})
	if _, body := a.get(t, "/"); !slices2(rows(body), "real") {
		t.Errorf("same-origin add: rows %v", rows(body))
	}
}
