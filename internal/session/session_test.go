package session_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/cachetest"
	"github.com/tasklist/tasklist/internal/cache/local"
	"github.com/tasklist/tasklist/internal/cache/memcache"
	"github.com/tasklist/tasklist/internal/session"
	"github.com/tasklist/tasklist/internal/sqldb"
	"github.com/tasklist/tasklist/internal/testenv"
)

// token makes a token as scs does.
func token() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func openDB(t *testing.T, rawURL string) *sqldb.DB {
	t.Helper()
	db, err := sqldb.Open(t.Context(), rawURL, sqldb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := session.Migrate(t.Context(), db, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	return db
}

// memcached starts a real server (with SASL when user is set) and returns a
// Cache over it.
func memcached(t *testing.T, user string) (*cache.Cache, *testenv.Memcached) {
	t.Helper()
	opts := testenv.MemcachedOptions{}
	if user != "" {
		opts = testenv.MemcachedOptions{Username: user, Password: "secret"}
	}
	m := testenv.StartMemcached(t, opts)
	b, err := memcache.New(memcache.Options{Servers: []string{m.Addr()}, Username: opts.Username, Password: opts.Password, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c := cache.New(b, cache.Options{Prefix: testenv.RandomName("s") + ":", GetTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second})
	t.Cleanup(func() { c.Close() })
	return c, m
}

func localCache(t *testing.T, clock func() time.Time) *cache.Cache {
	t.Helper()
	b, err := local.New(local.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	c := cache.New(b, cache.Options{})
	t.Cleanup(func() { c.Close() })
	return c
}

func newStore(t *testing.T, engine string, c *cache.Cache, db *sqldb.DB, now func() time.Time) session.Store {
	t.Helper()
	s, err := session.New(engine, c, db, session.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// setup is one engine over one database and cache backend.
type setup struct {
	name   string
	engine string
	cache  func(t *testing.T, clock func() time.Time) *cache.Cache // nil: none
	db     func(t testing.TB) string                               // nil: none
}

// setups lists every engine on every database and cache backend it uses.
// The in-process cache runs on the test's clock; memcached on its own.
func setups() []setup {
	plain := func(t *testing.T, _ func() time.Time) *cache.Cache { c, _ := memcached(t, ""); return c }
	sasl := func(t *testing.T, _ func() time.Time) *cache.Cache { c, _ := memcached(t, "tasklist"); return c }
	dbs := testenv.Databases()
	list := []setup{
		{"cache/local", session.Cache, localCache, nil},
		{"cache/memcached", session.Cache, plain, nil},
		{"cache/memcached+sasl", session.Cache, sasl, nil},
		{"cached_db/local/sqlite", session.CachedDB, localCache, dbs["sqlite"]},
		{"cached_db/memcached+sasl/sqlite", session.CachedDB, sasl, dbs["sqlite"]},
	}
	for _, name := range []string{"sqlite", "mysql", "postgres"} {
		list = append(list,
			setup{"db/" + name, session.DB, nil, dbs[name]},
			setup{"cached_db/memcached/" + name, session.CachedDB, plain, dbs[name]})
	}
	return list
}

// run calls f, as a subtest, with su's store made with opts on a fake
// clock, and the cache and database it is built on (nil when it uses none).
func (su setup) run(t *testing.T, opts session.Options, f func(t *testing.T, s session.Store, c *cache.Cache, db *sqldb.DB, clock *cachetest.Clock)) {
	t.Run(su.name, func(t *testing.T) {
		clock := cachetest.NewClock()
		var (
			c  *cache.Cache
			db *sqldb.DB
		)
		if su.cache != nil {
			c = su.cache(t, clock.Now)
		}
		if su.db != nil {
			db = openDB(t, su.db(t))
		}
		opts.Now = clock.Now
		s, err := session.New(su.engine, c, db, opts)
		if err != nil {
			t.Fatal(err)
		}
		f(t, s, c, db, clock)
	})
}

// TestContract runs the same checks against every engine, on every
// database and cache backend it uses.
func TestContract(t *testing.T) {
	for _, su := range setups() {
		su.run(t, session.Options{}, func(t *testing.T, s session.Store, _ *cache.Cache, _ *sqldb.DB, clock *cachetest.Clock) {
			testContract(t, s, clock)
		})
	}
}

func testContract(t *testing.T, s session.Store, clock *cachetest.Clock) {
	ctx := t.Context()
	find := func(tok string) ([]byte, bool) {
		t.Helper()
		b, found, err := s.FindCtx(ctx, tok)
		if err != nil {
			t.Fatalf("Find: %v", err)
		}
		return b, found
	}
	tok := token()
	if _, found := find(tok); found {
		t.Fatal("a new token was found")
	}
	for _, bad := range []string{"", "x", "../../etc", token() + "A", string(bytes.Repeat([]byte("A"), 4000)), "tok en with spaces and more than forty-three c"} {
		if b, found, err := s.FindCtx(ctx, bad); found || err != nil || b != nil {
			t.Errorf("Find(%.20q) = %v, %v", bad, found, err)
		}
	}
	end := clock.Now().Add(time.Hour)
	if err := s.CommitCtx(ctx, tok, []byte("one"), end); err != nil {
		t.Fatal(err)
	}
	if b, found := find(tok); !found || string(b) != "one" {
		t.Errorf("after Commit: %q, %v", b, found)
	}
	if b, found := find(tok); !found || string(b) != "one" { // twice: from the cache too
		t.Errorf("second Find: %q, %v", b, found)
	}
	if err := s.CommitCtx(ctx, tok, []byte("two"), end); err != nil {
		t.Fatal(err)
	}
	if b, found := find(tok); !found || string(b) != "two" {
		t.Errorf("after a second Commit: %q, %v, want the new data", b, found)
	}
	if err := s.DeleteCtx(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, found := find(tok); found {
		t.Error("found after Delete")
	}
	if err := s.DeleteCtx(ctx, tok); err != nil {
		t.Errorf("Delete of a missing session: %v", err)
	}

	// Expiry: a session is not found once it has ended, whatever the cache
	// still holds.
	short := token()
	if err := s.CommitCtx(ctx, short, []byte("brief"), clock.Now().Add(90*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, found := find(short); !found {
		t.Fatal("not found before its end")
	}
	clock.Advance(91 * time.Second)
	if _, found := find(short); found {
		t.Error("found after its end")
	}

	// Concurrent commits of one token: afterwards every read agrees on one
	// of them.
	tok = token()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			if err := s.CommitCtx(ctx, tok, fmt.Appendf(nil, "v%02d", i), clock.Now().Add(time.Hour)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	first, found := find(tok)
	if !found || len(first) != 3 || first[0] != 'v' {
		t.Fatalf("after concurrent commits: %q, %v", first, found)
	}
	for range 3 {
		if b, _ := find(tok); !bytes.Equal(b, first) {
			t.Errorf("reads disagree: %q then %q", first, b)
		}
	}
	if st := s.Counts(); st.Sets == 0 || st.Deletes == 0 {
		t.Errorf("stats = %+v", st)
	}
}

// TestCachedDBSurvivesTheCache: under cached_db a session outlives a
// memcached restart (which empties it) and works while memcached is down;
// with the database down a write fails, it is not kept in the cache alone.
func TestCachedDBSurvivesTheCache(t *testing.T) {
	c, m := memcached(t, "")
	db := openDB(t, testenv.Databases()["sqlite"](t))
	s := newStore(t, session.CachedDB, c, db, nil)
	ctx := t.Context()
	tok := token()
	if err := s.CommitCtx(ctx, tok, []byte("keep me"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if b, found, err := s.FindCtx(ctx, tok); !found || err != nil || string(b) != "keep me" {
		t.Fatalf("Find = %q, %v, %v", b, found, err)
	}
	m.Stop()
	m.Start() // empty now
	if b, found, err := s.FindCtx(ctx, tok); !found || err != nil || string(b) != "keep me" {
		t.Errorf("after a memcached restart: %q, %v, %v", b, found, err)
	}
	m.Stop()
	if err := s.CommitCtx(ctx, tok, []byte("changed while down"), time.Now().Add(time.Hour)); err != nil {
		t.Errorf("Commit with memcached down: %v", err)
	}
	if b, found, err := s.FindCtx(ctx, tok); !found || err != nil || string(b) != "changed while down" {
		t.Errorf("Find with memcached down: %q, %v, %v", b, found, err)
	}
	m.Start()
	if b, _, _ := s.FindCtx(ctx, tok); string(b) != "changed while down" {
		t.Errorf("after memcached came back: %q", b)
	}
	db.Close()
	if err := s.CommitCtx(ctx, tok, []byte("lost?"), time.Now().Add(time.Hour)); err == nil {
		t.Error("Commit with the database closed succeeded")
	}
	if b, _, _ := s.FindCtx(ctx, tok); string(b) == "lost?" {
		t.Error("a failed write is served from the cache")
	}
}

// TestCacheEngineLosesSessions: the cache engine's sessions are gone after
// a memcached restart, as documented, and a cache failure does not fail a
// write.
func TestCacheEngineLosesSessions(t *testing.T) {
	c, m := memcached(t, "")
	s := newStore(t, session.Cache, c, nil, nil)
	ctx := t.Context()
	tok := token()
	if err := s.CommitCtx(ctx, tok, []byte("fleeting"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	m.Stop()
	if err := s.CommitCtx(ctx, tok, []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Errorf("Commit with memcached down = %v, want nil (the session is lost, not the request)", err)
	}
	m.Start()
	if _, found, err := s.FindCtx(ctx, tok); found || err != nil {
		t.Errorf("after a restart: found %v, %v", found, err)
	}
	if st := s.Counts(); st.Errors == 0 {
		t.Errorf("stats = %+v, want the failure counted", st)
	}
}

// TestCachedCopyNeverStale: a copy read from the database before a write
// is never stored after it (the fill's lease), so the next read sees the
// write.
func TestCachedCopyNeverStale(t *testing.T) {
	c := localCache(t, nil)
	db := openDB(t, testenv.Databases()["sqlite"](t))
	s := newStore(t, session.CachedDB, c, db, nil)
	ctx := t.Context()
	tok := token()
	if err := s.CommitCtx(ctx, tok, []byte("old"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if i%10 == 0 {
				s.CommitCtx(context.Background(), tok, fmt.Appendf(nil, "new%d", i), time.Now().Add(time.Hour))
				return
			}
			s.FindCtx(context.Background(), tok)
		})
	}
	wg.Wait()
	if err := s.CommitCtx(ctx, tok, []byte("last"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if b, _, _ := s.FindCtx(ctx, tok); string(b) != "last" {
			t.Fatalf("read after the last write = %q", b)
		}
	}
}

// TestDeleteExpired removes ended sessions in batches and keeps the rest.
func TestDeleteExpired(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			db := openDB(t, newURL(t))
			s := newStore(t, session.DB, nil, db, nil)
			now := time.Now()
			for i := range 1200 {
				end := now.Add(-time.Minute)
				if i%4 == 0 {
					end = now.Add(time.Hour)
				}
				if err := s.CommitCtx(t.Context(), token(), []byte("x"), end); err != nil {
					t.Fatal(err)
				}
			}
			n, err := session.DeleteExpired(t.Context(), db, now)
			if err != nil || n != 900 {
				t.Errorf("DeleteExpired = %d, %v; want 900", n, err)
			}
			var left int
			if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM tasklist_sessions").Scan(&left); err != nil || left != 300 {
				t.Errorf("%d sessions left (%v), want 300", left, err)
			}
		})
	}
}

// TestIdleTimeout: with an idle timeout, a session written with a long
// lifetime ends that long after its last write, on every engine: it is not
// found, a database row has that end (so the cleanup deletes it) and an
// in-process cache entry is gone; a later write moves the end on.
func TestIdleTimeout(t *testing.T) {
	const idle = 30 * time.Minute
	for _, su := range setups() {
		su.run(t, session.Options{IdleTimeout: idle}, func(t *testing.T, s session.Store, c *cache.Cache, db *sqldb.DB, clock *cachetest.Clock) {
			ctx := t.Context()
			tok := token()
			lifetime := clock.Now().Add(24 * time.Hour)
			if err := s.CommitCtx(ctx, tok, []byte("x"), lifetime); err != nil {
				t.Fatal(err)
			}
			if db != nil {
				var micros int64
				if err := db.QueryRowContext(ctx, db.Rebind("SELECT expiry FROM tasklist_sessions WHERE token = ?"), tok).Scan(&micros); err != nil {
					t.Fatal(err)
				}
				if end, want := time.UnixMicro(micros), clock.Now().Add(idle); !end.Equal(want.Truncate(time.Microsecond)) {
					t.Errorf("the row ends at %v, want %v (the idle timeout, not the lifetime)", end, want)
				}
			}
			clock.Advance(idle - time.Minute)
			if err := s.CommitCtx(ctx, tok, []byte("y"), lifetime); err != nil { // used again: the end moves on
				t.Fatal(err)
			}
			clock.Advance(idle - time.Minute)
			if b, found, err := s.FindCtx(ctx, tok); !found || err != nil || string(b) != "y" {
				t.Fatalf("a session written %v ago: %q, %v, %v", idle-time.Minute, b, found, err)
			}
			clock.Advance(2 * time.Minute)
			if _, found, err := s.FindCtx(ctx, tok); found || err != nil {
				t.Errorf("idle for %v: found %v, %v", idle+time.Minute, found, err)
			}
			if db != nil {
				if n, err := session.DeleteExpired(ctx, db, clock.Now()); n != 1 || err != nil {
					t.Errorf("DeleteExpired after the idle timeout = %d, %v; want 1", n, err)
				}
			}
			if c != nil && strings.Contains(su.name, "/local") {
				if _, err := c.Get(ctx, "session:"+tok); !errors.Is(err, cache.ErrMiss) {
					t.Errorf("the in-process cache still holds the idle session: %v", err)
				}
			}
		})
	}
}
