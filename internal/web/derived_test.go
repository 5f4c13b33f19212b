package web_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/config"
	"github.com/tasklist/tasklist/internal/taskcache"
	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/web"
)

// knownStaleReason says why knownStale combinations are skipped.
const knownStaleReason = "known stale read: under delete and update, with the query cache and the fragment or page cache on, " +
	"a page or list fragment keyed by version N can be built from a cached list older than N"

// knownStale reports whether the layers under strategy serve stale pages:
// under delete and update the list's key does not name the version, so
// when the version is set again (after an eviction, or after an update-
// strategy write stored the list but not the version) between a write's
// commit and its invalidation, a page or list fragment rendered then under
// the write's revision N shows the cached list of before the write; once
// the write has answered, the version is set to N again and every instance
// serves that page until the next write. Remove the combinations from here
// once that is fixed: TestDerivedCachesAfterVersionLoss and
// TestPageCoherence then check them.
func knownStale(l config.Layers, s taskcache.Strategy) bool {
	return l.Query && (l.Fragment || l.Page) && (s == taskcache.Delete || s == taskcache.Update)
}

// committedSource runs afterCommit after a Toggle has committed, before
// the query cache invalidates: the moment between a write's commit and
// its answer.
type committedSource struct {
	*tasks.Store
	afterCommit func()
}

func (s *committedSource) Toggle(ctx context.Context, id int64) (tasks.Task, int64, error) {
	t, rev, err := s.Store.Toggle(ctx, id)
	if s.afterCommit != nil {
		s.afterCommit()
	}
	return t, rev, err
}

// TestDerivedCachesAfterVersionLoss plays, step by step, the interleaving
// behind knownStale on two instances A and B sharing one cache: the list,
// its version and a page are cached; the version is lost (an eviction;
// under update, a second write instead, which stores the list but not the
// version); a toggle on A commits, and before it invalidates, B serves a
// page (setting the version to the toggle's revision). Once the toggle has
// answered, both instances must show it.
func TestDerivedCachesAfterVersionLoss(t *testing.T) {
	for _, strategy := range []taskcache.Strategy{taskcache.Delete, taskcache.Version, taskcache.Update} {
		for _, l := range []config.Layers{{Query: true, Page: true}, {Query: true, Fragment: true}} {
			t.Run(string(strategy)+"/"+l.String(), func(t *testing.T) {
				if knownStale(l, strategy) {
					t.Skip(knownStaleReason)
				}
				dbURL := "sqlite:" + filepath.Join(t.TempDir(), "derived.db")
				migrate(t, dbURL)
				c := cache.New(localBackend(t), cache.Options{Prefix: "derived:"})
				t.Cleanup(func() { c.Close() })
				instance := func() (*committedSource, http.Handler) {
					src := &committedSource{Store: openStore(t, dbURL, 0, false)}
					store, err := taskcache.New(src, c, taskcache.Options{Strategy: strategy})
					if err != nil {
						t.Fatal(err)
					}
					srv, err := web.New(web.Config{Tasks: store, Cache: c, Versions: store, Logger: slog.New(slog.DiscardHandler),
						Fragments: l.Fragment, Pages: l.Page, AllowedHosts: []string{"example.com"}})
					if err != nil {
						t.Fatal(err)
					}
					return src, srv.Handler()
				}
				srcA, a := instance()
				_, b := instance()
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
				} else if err := c.Delete(t.Context(), "tasks:version"); err != nil { // evicted
					t.Fatal(err)
				}
				srcA.afterCommit = func() { do(b, "GET", "/", nil) }
				post(a, "/toggle", url.Values{"id": {strconv.FormatInt(first[0].ID, 10)}})
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
