package taskcache_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/cachetest"
	"github.com/tasklist/tasklist/internal/cache/local"
	"github.com/tasklist/tasklist/internal/stats"
	"github.com/tasklist/tasklist/internal/taskcache"
	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/tasks/taskstest"
	"github.com/tasklist/tasklist/internal/testenv"
)

var strategies = []taskcache.Strategy{taskcache.Delete, taskcache.Version, taskcache.Update}

// source is the real store with hooks around List, to count queries and to
// hold a query at a chosen moment; it counts page reads apart.
type source struct {
	*tasks.Store
	queries atomic.Int64
	pages   atomic.Int64
	// hook, when set, runs at the start of every List.
	hook atomic.Pointer[func()]
}

func (s *source) List(ctx context.Context) (tasks.Snapshot, error) {
	s.queries.Add(1)
	if h := s.hook.Load(); h != nil {
		(*h)()
	}
	return s.Store.List(ctx)
}

func (s *source) Page(ctx context.Context, after int64, n int) (tasks.Page, error) {
	s.pages.Add(1)
	return s.Store.Page(ctx, after, n)
}

func (s *source) setHook(h func()) { s.hook.Store(&h) }

func newSource(t *testing.T, rawURL string, slow time.Duration) *source {
	t.Helper()
	if rawURL == "" {
		rawURL = testenv.SQLiteURL(t, "tasks.db")
	}
	return &source{Store: taskstest.Open(t, rawURL, tasks.Options{SlowQuery: slow})}
}

func newLocalCache(t *testing.T, clock func() time.Time) *cache.Cache {
	t.Helper()
	b, err := local.New(local.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	c := cache.New(b, cache.Options{Prefix: "test:"})
	t.Cleanup(func() { c.Close() })
	return c
}

func newStore(t *testing.T, src taskcache.Source, c *cache.Cache, opts taskcache.Options) *taskcache.Store {
	t.Helper()
	s, err := taskcache.New(src, c, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func names(snap tasks.Snapshot) []string {
	out := []string{}
	for _, t := range snap.Tasks {
		name := t.Name
		if t.Done {
			name += " (done)"
		}
		out = append(out, name)
	}
	return out
}

func mustList(t *testing.T, s *taskcache.Store) tasks.Snapshot {
	t.Helper()
	snap, err := s.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func checkNames(t *testing.T, what string, got tasks.Snapshot, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if diff := cmp.Diff(want, names(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}

// TestWritesAreVisibleAtOnce: under Delete, Version and Update every write is
// on the next read, and unchanged lists come from the cache.
func TestWritesAreVisibleAtOnce(t *testing.T) {
	for _, strategy := range strategies {
		t.Run(string(strategy), func(t *testing.T) {
			src := newSource(t, "", 0)
			s := newStore(t, src, newLocalCache(t, nil), taskcache.Options{Strategy: strategy})
			ctx := t.Context()

			checkNames(t, "empty list", mustList(t, s))
			checkNames(t, "empty list again", mustList(t, s))
			if q := src.queries.Load(); q != 1 {
				t.Errorf("an empty list was queried %d times; an empty list must be cached like any other", q)
			}
			a, _, err := s.Add(ctx, "a")
			if err != nil {
				t.Fatal(err)
			}
			checkNames(t, "after add", mustList(t, s), "a")
			if _, _, err := s.Add(ctx, "b"); err != nil {
				t.Fatal(err)
			}
			checkNames(t, "after second add", mustList(t, s), "a", "b")
			if _, _, err := s.SetDone(ctx, a.ID, true, ""); err != nil {
				t.Fatal(err)
			}
			checkNames(t, "after toggle", mustList(t, s), "a (done)", "b")
			if _, _, err := s.Remove(ctx, a.ID, ""); err != nil {
				t.Fatal(err)
			}
			checkNames(t, "after remove", mustList(t, s), "b")
			before := src.queries.Load()
			for range 5 {
				checkNames(t, "repeated read", mustList(t, s), "b")
			}
			if q := src.queries.Load() - before; q != 0 {
				t.Errorf("5 reads of an unchanged list ran %d queries, want 0", q)
			}
			if _, _, err := s.Remove(ctx, a.ID, ""); !errors.Is(err, tasks.ErrNotFound) {
				t.Errorf("Remove of a removed task = %v, want ErrNotFound", err)
			}
			if st := s.Counts(); st.Hits < 5 || st.Errors != 0 {
				t.Errorf("counted %+v, want the 5 hits and no error", st)
			}
		})
	}
}

// TestPageAtReadsItsOwnRows: a page made for a version (by the page and
// fragment caches, once per version) is cut out of the cached list when the
// query cache holds that version's list, and otherwise reads only its own
// rows, without reading or storing the whole list; a page of another
// version is never given for v. Fails when PageAt fills the list to cut
// one page out of it.
func TestPageAtReadsItsOwnRows(t *testing.T) {
	for _, strategy := range strategies {
		t.Run(string(strategy), func(t *testing.T) {
			src := newSource(t, "", 0)
			opts := taskcache.Options{Strategy: strategy}
			writer := newStore(t, src, newLocalCache(t, nil), opts)
			ctx := t.Context()
			for _, name := range []string{"a", "b", "c", "d"} {
				if _, _, err := writer.Add(ctx, name); err != nil {
					t.Fatal(err)
				}
			}
			// The reader's cache is its own, so that no write (Update
			// stores the list) fills it.
			reader := newStore(t, src, newLocalCache(t, nil), opts)
			v, _, err := reader.VersionWith(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			pageAt := func(what string, want ...string) {
				t.Helper()
				p, err := reader.PageAt(ctx, 0, 2, v)
				if err != nil {
					t.Fatalf("%s: PageAt(%s) = %v", what, v, err)
				}
				checkNames(t, what, tasks.Snapshot{Tasks: p.Tasks}, want...)
				if p.Version() != v || p.Total != 4 || p.Next == 0 {
					t.Errorf("%s: page of version %s, %d tasks in all, next %d; want version %s, 4, and a next page", what, p.Version(), p.Total, p.Next, v)
				}
			}
			lists, pages := src.queries.Load(), src.pages.Load()
			for i := range int64(2) {
				pageAt("uncached list", "a", "b")
				if q, p := src.queries.Load()-lists, src.pages.Load()-pages; q != 0 || p != i+1 {
					t.Fatalf("page %d without the list cached: %d list queries and %d page reads, want 0 and %d", i+1, q, p, i+1)
				}
			}
			hits := reader.Counts().Hits
			checkNames(t, "list", mustList(t, reader), "a", "b", "c", "d")
			pageAt("cached list", "a", "b")
			if q, p := src.queries.Load()-lists, src.pages.Load()-pages; q != 1 || p != 2 {
				t.Errorf("page with the list of its version cached: %d list queries and %d page reads, want 1 (the list's own) and 2 (as before)", q, p)
			}
			if n := reader.Counts().Hits - hits; n < 1 {
				t.Errorf("a page cut out of the cached list counted %d query-cache hits, want at least 1", n)
			}
			if _, _, err := writer.Add(ctx, "e"); err != nil {
				t.Fatal(err)
			}
			fresh := newStore(t, src, newLocalCache(t, nil), opts)
			if _, err := fresh.PageAt(ctx, 0, 2, v); !errors.Is(err, tasks.ErrMoved) {
				t.Errorf("PageAt(%s) after a write, the list not cached = %v, want tasks.ErrMoved", v, err)
			}
		})
	}
}

const expireTTL = 5 * time.Second

// newExpireStore returns an Expire store with a 5s TTL, its source, and the
// fake clock that both it and its cache run on.
func newExpireStore(t *testing.T) (*taskcache.Store, *source, *cachetest.Clock) {
	clock := cachetest.NewClock()
	src := newSource(t, "", 0)
	s := newStore(t, src, newLocalCache(t, clock.Now), taskcache.Options{Strategy: taskcache.Expire, TTL: expireTTL, Now: clock.Now})
	return s, src, clock
}

// TestExpireIsStaleAtMostTTL: under Expire a write is not seen until the TTL
// has passed since the cached read began — and then it is.
func TestExpireIsStaleAtMostTTL(t *testing.T) {
	s, _, clock := newExpireStore(t)
	checkNames(t, "empty", mustList(t, s))
	if _, _, err := s.Add(t.Context(), "new"); err != nil {
		t.Fatal(err)
	}
	checkNames(t, "within the TTL the cached list may be stale", mustList(t, s))
	clock.Advance(expireTTL - 1)
	checkNames(t, "just before the TTL the cached list is still used", mustList(t, s))
	clock.Advance(2)
	checkNames(t, "past the TTL the write must show", mustList(t, s), "new")
}

// TestExpireCountsFromTheReadStart: a slow query's result expires TTL after
// the query began, not after it was stored.
func TestExpireCountsFromTheReadStart(t *testing.T) {
	s, src, clock := newExpireStore(t)
	src.setHook(func() { clock.Advance(3 * time.Second) }) // the query takes 3s
	checkNames(t, "first read", mustList(t, s))
	src.setHook(func() {})
	if _, _, err := s.Add(t.Context(), "new"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2*time.Second + 1) // 5s+1ns after the read began, 2s after the set
	checkNames(t, "a list read 5s ago must not be served with a 5s TTL", mustList(t, s), "new")
}

// TestNoStaleSet: a reader that read the old list before a write must not
// store it after the write invalidated (the classic stale-set race).
func TestNoStaleSet(t *testing.T) {
	for _, strategy := range strategies {
		t.Run(string(strategy), func(t *testing.T) {
			src := newSource(t, "", 0)
			c := newLocalCache(t, nil)
			s := newStore(t, src, c, taskcache.Options{Strategy: strategy})
			ctx := t.Context()

			// Hold the reader's query after it has read the old (empty) list.
			read, release := make(chan struct{}), make(chan struct{})
			blocking := &heldSource{Store: src.Store, after: holdFirst(read, release)}
			s2 := newStore(t, blocking, c, taskcache.Options{Strategy: strategy})
			done := make(chan tasks.Snapshot)
			go func() {
				snap, _ := s2.List(ctx)
				done <- snap
			}()
			<-read
			if _, _, err := s.Add(ctx, "written"); err != nil { // a write on "another instance"
				t.Fatal(err)
			}
			close(release)
			checkNames(t, "the held reader sees what it read", <-done)
			checkNames(t, "a read after the write", mustList(t, s), "written")
			checkNames(t, "a read after the write, other instance", mustList(t, s2), "written")
		})
	}
}

// heldSource runs after() once its List has read the database, before
// returning: the moment a stale set would happen.
type heldSource struct {
	*tasks.Store
	after func()
}

func (h *heldSource) List(ctx context.Context) (tasks.Snapshot, error) {
	snap, err := h.Store.List(ctx)
	h.after()
	return snap, err
}

// holdFirst returns a hook that, on its first call only, closes read and
// waits for release; later calls (a writer's re-read, say) pass.
func holdFirst(read, release chan struct{}) func() {
	var first atomic.Bool
	return func() {
		if first.CompareAndSwap(false, true) {
			close(read)
			<-release
		}
	}
}

// TestLeaseNobodyCanFill: a list too large for the cache is served, and the
// lease taken for it is released at once, so the next read does not wait for
// it to expire.
func TestLeaseNobodyCanFill(t *testing.T) {
	for _, strategy := range strategies {
		t.Run(string(strategy), func(t *testing.T) {
			src := newSource(t, "", 0)
			if _, _, err := src.Store.Add(t.Context(), "a task whose list does not fit"); err != nil {
				t.Fatal(err)
			}
			b, err := local.New(local.Options{})
			if err != nil {
				t.Fatal(err)
			}
			c := cache.New(b, cache.Options{MaxItemSize: 40})
			s := newStore(t, src, c, taskcache.Options{Strategy: strategy, LeaseTTL: time.Hour})
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			for range 3 {
				snap, err := s.List(ctx)
				if err != nil || len(snap.Tasks) != 1 {
					t.Fatalf("List = %v, %v", names(snap), err)
				}
			}
			if st := s.Counts(); st.Hits != 0 || src.queries.Load() < 3 {
				t.Errorf("counted %+v with %d queries: reads waited on a lease nobody could fill", st, src.queries.Load())
			}
		})
	}
}

// TestStampede: 200 reads of a cold cache, some arriving while the slow
// query runs, run it once.
func TestStampede(t *testing.T) {
	for _, strategy := range append(strategies, taskcache.Expire) {
		t.Run(string(strategy), func(t *testing.T) {
			src := newSource(t, "", 200*time.Millisecond)
			if _, _, err := src.Add(t.Context(), "one"); err != nil {
				t.Fatal(err)
			}
			s := newStore(t, src, newLocalCache(t, nil), taskcache.Options{Strategy: strategy})
			// 100 at once, then 100 more arriving while the query runs: the
			// query waits for them to have called List.
			var late sync.WaitGroup
			late.Add(100)
			src.setHook(late.Wait)
			var wg sync.WaitGroup
			read := func() {
				snap, err := s.List(t.Context())
				if err != nil || len(snap.Tasks) != 1 {
					t.Errorf("List = %v, %v", names(snap), err)
				}
			}
			for range 100 {
				wg.Go(read)
			}
			testenv.WaitFor(t, "the query starting", func() bool { return src.queries.Load() > 0 })
			for range 100 {
				wg.Go(func() {
					late.Done()
					read()
				})
			}
			wg.Wait()
			if q := src.queries.Load(); q != 1 {
				t.Errorf("200 cold reads ran the slow query %d times, want 1", q)
			}
		})
	}
}

// brokenBackend fails every call, like a memcached that is down.
type brokenBackend struct{ cache.Backend }

var errDown = errors.New("connection refused")

func (brokenBackend) Get(context.Context, string) (cache.Item, error) { return cache.Item{}, errDown }
func (brokenBackend) GetMulti(context.Context, []string) (map[string]cache.Item, error) {
	return nil, errDown
}
func (brokenBackend) Add(context.Context, cache.Item) error            { return errDown }
func (brokenBackend) Set(context.Context, cache.Item) error            { return errDown }
func (brokenBackend) CompareAndSwap(context.Context, cache.Item) error { return errDown }
func (brokenBackend) Delete(context.Context, string) error             { return errDown }
func (brokenBackend) Name() string                                     { return "broken" }
func (brokenBackend) MaxItemSize() int                                 { return 1 << 20 }
func (brokenBackend) Close() error                                     { return nil }

// TestCacheDown: with the cache failing, reads and writes still work, from
// the database; failed invalidations are counted, not fatal.
func TestCacheDown(t *testing.T) {
	for _, strategy := range append(strategies, taskcache.Expire) {
		t.Run(string(strategy), func(t *testing.T) {
			src := newSource(t, "", 0)
			c := cache.New(brokenBackend{}, cache.Options{})
			s := newStore(t, src, c, taskcache.Options{Strategy: strategy, InvalidateTimeout: 50 * time.Millisecond,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if _, _, err := s.Add(t.Context(), "x"); err != nil {
				t.Fatalf("Add with the cache down: %v", err)
			}
			// An invalidation, failed: an error.
			want := stats.Counts{Deletes: 1, Errors: 1}
			if st := s.Counts(); st != want {
				t.Errorf("after the write: counted %+v, want %+v", st, want)
			}
			checkNames(t, "list with the cache down", mustList(t, s), "x")
			if st := s.Counts(); st.Errors == want.Errors {
				t.Errorf("after the read: counted %+v, want a bypass (an error)", st)
			}
			// A page for a version: its own rows, and the failed look for
			// the list counted as an error.
			v, err := src.Head(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			before := s.Counts()
			p, err := s.PageAt(t.Context(), 0, 10, v)
			if err != nil || len(p.Tasks) != 1 || p.Tasks[0].Name != "x" {
				t.Fatalf("PageAt with the cache down = %+v, %v; want the page with x", p, err)
			}
			if st := s.Counts(); st.Errors != before.Errors+1 || st.Misses != before.Misses+1 {
				t.Errorf("PageAt with the cache down: counted %+v after %+v, want one more error and miss", st, before)
			}
		})
	}
}

// heldRevision runs after() once its Head has read the database.
type heldRevision struct {
	*tasks.Store
	after func()
}

func (h *heldRevision) Head(ctx context.Context) (tasks.Version, error) {
	v, err := h.Store.Head(ctx)
	h.after()
	return v, err
}

// TestVersionNeverGoesBack: a reader re-creating an evicted version from a
// revision it read before a write must not store it after the write: the
// version would go back and the old list, still cached under it, would be
// served again.
func TestVersionNeverGoesBack(t *testing.T) {
	src := newSource(t, "", 0)
	c := newLocalCache(t, nil)
	s := newStore(t, src, c, taskcache.Options{Strategy: taskcache.Version})
	ctx := t.Context()
	checkNames(t, "empty list, cached under the first version", mustList(t, s))
	if err := c.Delete(ctx, "tasks:"+src.Identity()+":version"); err != nil { // as if evicted
		t.Fatal(err)
	}

	read, release := make(chan struct{}), make(chan struct{})
	slow := newStore(t, &heldRevision{Store: src.Store, after: holdFirst(read, release)}, c, taskcache.Options{Strategy: taskcache.Version})
	done := make(chan tasks.Snapshot)
	go func() { snap, _ := slow.List(ctx); done <- snap }()
	<-read // it has read revision 0 and holds the version's lease
	if _, _, err := s.Add(ctx, "written"); err != nil {
		t.Fatal(err)
	}
	close(release)
	checkNames(t, "the held reader sees what it read", <-done)
	checkNames(t, "a read after the write", mustList(t, s), "written")
}
