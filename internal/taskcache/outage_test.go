package taskcache_test

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/tasklist/tasklist/internal/dbstats"
	"github.com/tasklist/tasklist/internal/reqtrace"
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
// back. Reads served from the cache meanwhile say in their trace that the
// database is unavailable, and no longer once it answers. Once it is back,
// the next write shows at once (under Expire, within its TTL).
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
					src := dbstats.New(newSource(t, viaProxy.String(), 0).Store)
					s := newStore(t, src, newLocalCache(t, nil), taskcache.Options{Strategy: strategy, Unavailable: src.Unavailable})
					ctx := t.Context()
					if _, _, err := s.Add(ctx, "before the outage "+string(strategy)); err != nil {
						t.Fatal(err)
					}
					want := names(mustList(t, s))
					if _, _, err := s.VersionWith(ctx, nil); err != nil { // as the page cache reads it
						t.Fatal(err)
					}

					proxy.Refuse()
					_, _, err := s.Add(ctx, "during the outage")
					if err == nil || errors.Is(err, tasks.ErrOutcomeUnknown) {
						t.Fatalf("Add with the database refused = %v, want a failure before COMMIT", err)
					}
					if err := s.Confirm(ctx); err == nil {
						t.Error("Confirm with the database refused succeeded")
					}
					for range 3 {
						trace := new(reqtrace.Trace)
						snap, err := s.List(reqtrace.With(ctx, trace))
						if err != nil {
							t.Fatalf("List during the outage, after a failed write: %v", err)
						}
						if got := names(snap); !slices.Equal(got, want) {
							t.Errorf("List during the outage = %v, want %v", got, want)
						}
						if got := trace.ServerTiming(0); !strings.Contains(got, `db;desc="unavailable, 0 queries"`) {
							t.Errorf("List during the outage, from the cache: Server-Timing %s, want the database unavailable", got)
						}
					}
					trace := new(reqtrace.Trace)
					if _, _, err := s.VersionWith(reqtrace.With(ctx, trace), nil); err != nil {
						t.Errorf("the version during the outage: %v", err)
					} else if got := trace.ServerTiming(0); !strings.Contains(got, `db;desc="unavailable`) {
						t.Errorf("the version during the outage: Server-Timing %s, want the database unavailable", got)
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
					trace = new(reqtrace.Trace)
					s.List(reqtrace.With(ctx, trace))
					if got := trace.ServerTiming(0); strings.Contains(got, "unavailable") {
						t.Errorf("List after the outage: Server-Timing %s, want no outage", got)
					}
				})
			}
		})
	}
}
