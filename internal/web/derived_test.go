package web_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/config"
	"github.com/tasklist/tasklist/internal/taskcache"
	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/testenv"
)

// committedSource runs afterCommit after a SetDone has committed, before
// the query cache invalidates: the moment between a write's commit and
// its answer. It is the database side of an instance's task-list cache
// (stackOptions.wrapSource).
type committedSource struct {
	taskcache.Source
	afterCommit func()
}

// wrap is a stackOptions.wrapSource that puts s under the task-list cache.
func (s *committedSource) wrap(src taskcache.Source) taskcache.Source {
	s.Source = src
	return s
}

func (s *committedSource) SetDone(ctx context.Context, id int64, done bool, seen string) (tasks.Task, tasks.Version, error) {
	t, rev, err := s.Source.SetDone(ctx, id, done, seen)
	if s.afterCommit != nil {
		s.afterCommit()
	}
	return t, rev, err
}

// TestDerivedCachesAfterVersionLoss plays, step by step, an interleaving
// under delete and update, whose list key does not name the version, on
// two instances A and B sharing one cache: the list,
// its version and a page are cached; the version is lost (an eviction;
// under update, a second write instead, which stores the list but not the
// version); a toggle on A commits, and before it invalidates, B serves a
// page (setting the version to the toggle's revision). Once the toggle has
// answered, both instances must show it. B then renders the page of the
// toggle's revision; the cached list is still the one from before the
// toggle, and it must not be used for that page (taskcache.PageAt). Fails,
// under delete and update, when pages are built from whatever list the
// query cache holds.
func TestDerivedCachesAfterVersionLoss(t *testing.T) {
	for _, strategy := range []taskcache.Strategy{taskcache.Delete, taskcache.Version, taskcache.Update} {
		for _, l := range []config.Layers{{Query: true, Page: true}, {Query: true, Fragment: true}} {
			t.Run(string(strategy)+"/"+l.String(), func(t *testing.T) {
				o := stackOptions{
					dbURL:    testenv.SQLiteURL(t, "derived.db"),
					backend:  fixedBackend(localBackend(t, "", nil)),
					prefix:   "derived:",
					strategy: strategy,
					layers:   l,
				}
				instance := func() (*committedSource, *stack) {
					src := new(committedSource)
					o.wrapSource = src.wrap
					return src, newStack(t, o)
				}
				srcA, stackA := instance()
				_, stackB := instance()
				a, b := stackA.handler, stackB.handler
				post := func(h http.Handler, path string, form url.Values) {
					t.Helper()
					if w := do(h, "POST", path, form, sameOrigin...); w.Code != http.StatusSeeOther {
						t.Fatalf("POST %s %v = %d", path, form, w.Code)
					}
				}
				post(a, "/add", url.Values{"name": {"a"}})
				first := pageRows(do(a, "GET", "/", nil).Body.String()) // caches the list, the version, the page
				if len(first) != 1 {
					t.Fatalf("the page shows %v, want task a", first)
				}
				want := []pageRow{{ID: first[0].ID, Name: "a", Done: true}}
				if strategy == taskcache.Update {
					post(a, "/add", url.Values{"name": {"b"}})
					want = append(want, pageRow{ID: first[0].ID + 1, Name: "b"})
				} else {
					evict(t, stackA.Cache(), versionKey(stackA.Tasks().Identity()))
				}
				srcA.afterCommit = func() { do(b, "GET", "/", nil) }
				post(a, "/toggle", url.Values{"id": {strconv.FormatInt(first[0].ID, 10)}, "done": {"1"}})
				srcA.afterCommit = nil
				for name, h := range map[string]http.Handler{"A": a, "B": b} {
					if diff := cmp.Diff(want, pageRows(do(h, "GET", "/", nil).Body.String())); diff != "" {
						t.Errorf("instance %s, after the toggle answered, shows (-want +got):\n%s", name, diff)
					}
				}
			})
		}
	}
}

// versionKey is the key of the version of database db's list, as
// package taskcache names it (without the cache's prefix). The tests that
// use it check that the key is read or held, so that a name changed there
// fails them rather than leaving them testing nothing.
func versionKey(db string) string { return "tasks:" + db + ":version" }

// evict deletes key from c, as an eviction would; the key must be there.
func evict(t *testing.T, c *cache.Cache, key string) {
	t.Helper()
	if _, err := c.Get(t.Context(), key); err != nil {
		t.Fatalf("evict %s: %v", key, err)
	}
	if err := c.Delete(t.Context(), key); err != nil {
		t.Fatal(err)
	}
}

// versionReadFailures is a cache backend whose next reads of the list's
// version fail, as a memcached server that times out would: the version
// then comes from the database.
type versionReadFailures struct {
	cache.Backend
	key  string
	left atomic.Int32 // reads of key still to fail
}

func (b *versionReadFailures) failing(keys ...string) bool {
	return slices.Contains(keys, b.key) && b.left.Add(-1) >= 0
}

func (b *versionReadFailures) Get(ctx context.Context, key string) (cache.Item, error) {
	if b.failing(key) {
		return cache.Item{}, cache.ErrUnavailable
	}
	return b.Backend.Get(ctx, key)
}

func (b *versionReadFailures) GetMulti(ctx context.Context, keys []string) (map[string]cache.Item, error) {
	if b.failing(keys...) {
		return map[string]cache.Item{}, &cache.PartialError{Unanswered: keys, Err: cache.ErrUnavailable}
	}
	return b.Backend.GetMulti(ctx, keys)
}

// TestPageOfAVersionFromTheDatabase plays, step by step, an interleaving
// in which one instance reads two versions that go back: a toggle has
// committed and not yet invalidated when a page is served whose version
// read fails, so the version is the database's revision, the toggle's;
// rendering that page, the list fragment reads the version again, from
// the cache, which still holds the one from before the toggle. The page
// keyed by the toggle's revision must not be built from the fragment of
// the older version: once the toggle has answered, the page must show it.
// Fails when the fragment cache keys the list by a version read of its own
// inside a page render.
func TestPageOfAVersionFromTheDatabase(t *testing.T) {
	for _, strategy := range taskcache.Strategies() {
		t.Run(string(strategy), func(t *testing.T) {
			backend := &versionReadFailures{Backend: localBackend(t, "", nil)}
			src := new(committedSource)
			s := newStack(t, stackOptions{
				backend:    fixedBackend(backend),
				prefix:     "goesback:",
				strategy:   strategy,
				layers:     everyLayer,
				wrapSource: src.wrap,
			})
			h := s.handler
			v, err := s.Tasks().Head(t.Context()) // the database's identity, which the key names
			if err != nil {
				t.Fatal(err)
			}
			backend.key = "goesback:" + versionKey(v.DB)
			if strategy == taskcache.Expire {
				backend.key += ":ttl"
			}
			if w := do(h, "POST", "/add", url.Values{"name": {"a"}}, sameOrigin...); w.Code != http.StatusSeeOther {
				t.Fatalf("add = %d", w.Code)
			}
			first := pageRows(do(h, "GET", "/", nil).Body.String()) // caches the version, the fragment, the page
			if len(first) != 1 {
				t.Fatalf("the page shows %v, want task a", first)
			}
			src.afterCommit = func() {
				// VersionWith's multi-get and its fill's get.
				backend.left.Store(2)
				do(h, "GET", "/", nil)
				if left := backend.left.Swap(0); left > 0 {
					t.Errorf("%d of the page's reads of the version (%s) did not happen: the step tests nothing", left, backend.key)
				}
			}
			if w := do(h, "POST", "/toggle", url.Values{"id": {strconv.FormatInt(first[0].ID, 10)}, "done": {"1"}}, sameOrigin...); w.Code != http.StatusSeeOther {
				t.Fatalf("toggle = %d", w.Code)
			}
			src.afterCommit = nil
			want := []pageRow{{ID: first[0].ID, Name: "a", Done: true}}
			if strategy == taskcache.Expire {
				return // stale for its TTL by design; the step above must not fail
			}
			if diff := cmp.Diff(want, pageRows(do(h, "GET", "/", nil).Body.String())); diff != "" {
				t.Errorf("after the toggle answered, the page shows (-want +got):\n%s", diff)
			}
		})
	}
}
