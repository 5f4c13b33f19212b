package taskcache_test

import (
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/local"
	"github.com/tasklist/tasklist/internal/cache/memcache"
	"github.com/tasklist/tasklist/internal/taskcache"
	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/testenv"
)

// BenchmarkList shows what the query cache saves on the read path. It reads
// a list of 50 tasks from SQLite (a temp file) three ways:
//
//   - uncached: tasks.Store.List, the query itself;
//   - cached/local: taskcache.Store.List over the in-process backend;
//   - cached/memcache: the same over a real memcached on 127.0.0.1 (skipped
//     when memcached is missing, see testenv.StartMemcached);
//
// each with no added latency (slow=0s) and with a simulated 50ms slow query
// (slow=50ms, tasks.Options.SlowQuery). The cached cases use the default
// strategy, Version (two cache reads per List: the version, then the list),
// and are warmed first, so they measure hits only: the slow query should not
// show in them. The machine may be shared, so compare the sub-benchmarks of
// one run as ratios rather than their absolute times.
func BenchmarkList(b *testing.B) {
	dbURL := testenv.SQLiteURL(b, "bench.db")
	seed := openStore(b, dbURL, 0)
	if err := seed.Migrate(b.Context(), slog.New(slog.DiscardHandler)); err != nil {
		b.Fatal(err)
	}
	for i := range 50 {
		if _, _, err := seed.Add(b.Context(), "task "+strconv.Itoa(i)); err != nil {
			b.Fatal(err)
		}
	}

	backends := []struct {
		name    string
		backend func(b *testing.B) cache.Backend // nil: uncached
	}{
		{"uncached", nil},
		{"cached/local", func(b *testing.B) cache.Backend {
			l, err := local.New(local.Options{})
			if err != nil {
				b.Fatal(err)
			}
			return l
		}},
		{"cached/memcache", func(b *testing.B) cache.Backend {
			m := testenv.StartMemcached(b, testenv.MemcachedOptions{})
			mc, err := memcache.New(memcache.Options{Servers: []string{m.Addr()}})
			if err != nil {
				b.Fatal(err)
			}
			return mc
		}},
	}
	for _, bk := range backends {
		for _, slow := range []time.Duration{0, 50 * time.Millisecond} {
			b.Run(bk.name+"/slow="+slow.String(), func(b *testing.B) {
				src := openStore(b, dbURL, slow)
				list := src.List
				if bk.backend != nil {
					c := cache.New(bk.backend(b), cache.Options{Prefix: testenv.RandomName("bench") + ":"})
					b.Cleanup(func() { c.Close() })
					s, err := taskcache.New(src, c, taskcache.Options{Strategy: taskcache.Version})
					if err != nil {
						b.Fatal(err)
					}
					list = s.List
					defer func() { // every timed List must have been a hit
						if st := s.Counts(); st.Misses != 1 || st.Errors != 0 {
							b.Errorf("the query layer counted %+v, want 1 miss (the warm-up) and no bypass", st)
						}
					}()
				}
				ctx := b.Context()
				if snap, err := list(ctx); err != nil || len(snap.Tasks) != 50 { // warms the cache
					b.Fatalf("List = %d tasks, %v; want 50", len(snap.Tasks), err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, err := list(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// openStore opens the task database at dbURL with the given slow query.
func openStore(b *testing.B, dbURL string, slow time.Duration) *tasks.Store {
	b.Helper()
	st, err := tasks.Open(b.Context(), dbURL, tasks.Options{SlowQuery: slow})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}
