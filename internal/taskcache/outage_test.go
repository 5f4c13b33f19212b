package taskcache_test

import (
	"errors"
	"net/url"
	"slices"
	"testing"

	"github.com/tasklist/tasklist/internal/taskcache"
	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/testenv"
)

// TestWriteFailureKeepsTheCache: with the database unreachable (a proxy
// that refuses connections), a write fails before its COMMIT and changed
// nothing, so it invalidates nothing: the list cached before the outage is
// still served, by every strategy, and neither the write nor the periodic
// check against the database empties the cache. A write that had
// invalidated made every read of every instance fail until the database was
// back. Once it is back, the next write shows at once (under Expire, within
// its TTL).
func TestWriteFailureKeepsTheCache(t *testing.T) {
	for _, kind := range []string{"postgres", "mysql"} {
		t.Run(kind, func(t *testing.T) {
			dbURL := testenv.Databases()[kind](t)
			u, err := url.Parse(dbURL)
			if err != nil {
				t.Fatal(err)
			}
			newSource(t, dbURL, 0) // migrates
			for _, strategy := range taskcache.Strategies() {
				t.Run(string(strategy), func(t *testing.T) {
					proxy := testenv.StartProxy(t, u.Host)
					viaProxy := *u
					viaProxy.Host = proxy.Addr()
					src := newSource(t, viaProxy.String(), 0)
					s := newStore(t, src, newLocalCache(t, nil), taskcache.Options{Strategy: strategy})
					ctx := t.Context()
					if _, _, err := s.Add(ctx, "before the outage "+string(strategy)); err != nil {
						t.Fatal(err)
					}
					want := names(mustList(t, s))

					proxy.Refuse()
					_, _, err := s.Add(ctx, "during the outage")
					if err == nil || errors.Is(err, tasks.ErrOutcomeUnknown) {
						t.Fatalf("Add with the database refused = %v, want a failure before COMMIT", err)
					}
					if err := s.Confirm(ctx); err == nil {
						t.Error("Confirm with the database refused succeeded")
					}
					for range 3 {
						snap, err := s.List(ctx)
						if err != nil {
							t.Fatalf("List during the outage, after a failed write: %v", err)
						}
						if got := names(snap); !slices.Equal(got, want) {
							t.Errorf("List during the outage = %v, want %v", got, want)
						}
					}
					if st := s.Counts(); st.Deletes != 1 {
						t.Errorf("%d invalidations, want 1: the failed write must not invalidate", st.Deletes)
					}

					if err := proxy.Forward(); err != nil {
						t.Fatal(err)
					}
					if _, _, err := s.Add(ctx, "after the outage"); err != nil {
						t.Fatal(err)
					}
					if got := names(mustList(t, s)); strategy != taskcache.Expire && !slices.Contains(got, "after the outage") {
						t.Errorf("after the outage the list is %v", got)
					}
				})
			}
		})
	}
}
