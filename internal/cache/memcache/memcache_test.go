package memcache

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/cachetest"
	"github.com/tasklist/tasklist/internal/testenv"
)

// TestContract holds both backends to the cache.Backend contract: plain on
// a two-server cluster, SASL on two SASL servers.
func TestContract(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
		opts := k.options(k.start(t, 2))
		cachetest.Run(t, func(t *testing.T) cache.Backend { return newClient(t, opts) })
	})
}

func TestName(t *testing.T) {
	for _, tt := range []struct {
		user, want string
	}{{"", "memcache"}, {"u", "memcache+sasl"}} {
		c := newClient(t, Options{Servers: []string{"127.0.0.1:1"}, Username: tt.user})
		if got := c.Name(); got != tt.want {
			t.Errorf("Name() with username %q = %q, want %q", tt.user, got, tt.want)
		}
	}
}

// TestWrongCredentials: a rejected user or password is ErrAuth from
// Verify and from requests, names the server and the user, and never holds
// the password.
func TestWrongCredentials(t *testing.T) {
	t.Parallel()
	srv := testenv.StartMemcached(t, kinds[1].server)
	tests := []struct{ name, user, password string }{
		{"wrong password", testUser, "Wrong-Pa55word"},
		{"unknown user", "mallory", testPassword},
		{"empty password", testUser, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, Options{Servers: []string{srv.Addr()}, Username: tt.user, Password: tt.password})
			err := c.Verify(t.Context())
			if !errors.Is(err, ErrAuth) {
				t.Fatalf("Verify: %v, want ErrAuth", err)
			}
			msg := err.Error()
			t.Logf("Verify: %s", msg)
			if !strings.Contains(msg, srv.Addr()) || !strings.Contains(msg, strconv.Quote(tt.user)) {
				t.Errorf("error %q does not name the server %s and the user %q", msg, srv.Addr(), tt.user)
			}
			for _, pw := range []string{tt.password, testPassword} {
				if pw != "" && strings.Contains(msg, pw) {
					t.Errorf("error %q holds a password", msg)
				}
			}
			_, err = c.Get(t.Context(), "k")
			if !errors.Is(err, ErrAuth) || !errors.Is(err, cache.ErrUnavailable) {
				t.Errorf("Get: %v, want ErrAuth and cache.ErrUnavailable", err)
			}
		})
	}
	t.Run("right credentials", func(t *testing.T) {
		c := newClient(t, kinds[1].options([]*testenv.Memcached{srv}))
		if err := c.Verify(t.Context()); err != nil {
			t.Errorf("Verify: %v", err)
		}
	})
}

// TestGetMultiOneRoundTripPerServer counts the round trips on the wire.
func TestGetMultiOneRoundTripPerServer(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
		w := newWire()
		opts := k.options(k.start(t, 2))
		opts.DialContext = w.DialContext
		c := newClient(t, opts)
		keys := make([]string, 100)
		perServer := map[string]int{}
		for i := range keys {
			keys[i] = "multi:" + strconv.Itoa(i)
			if err := c.Set(t.Context(), cache.Item{Key: keys[i], Value: []byte(keys[i])}); err != nil {
				t.Fatal(err)
			}
			perServer[c.addrs[c.ring.pick(hashKey(keys[i]), allUsable)]]++
		}
		if len(perServer) != 2 {
			t.Fatalf("keys per server = %v, want keys on both", perServer)
		}
		w.counts() // connections are open and authenticated now
		got, err := c.GetMulti(t.Context(), keys)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(keys) {
			t.Errorf("GetMulti found %d of %d keys", len(got), len(keys))
		}
		for _, key := range keys {
			if string(got[key].Value) != key {
				t.Errorf("GetMulti[%q] = %q", key, got[key].Value)
			}
		}
		dials, trips := w.counts()
		t.Logf("keys per server %v, round trips %v, new connections %v", perServer, trips, dials)
		for addr := range perServer {
			if trips[addr] != 1 {
				t.Errorf("%s: %d round trips, want 1", addr, trips[addr])
			}
		}
	})
}

// TestLargeGetMulti fetches more keys than fit in socket buffers, which the
// binary client must write while it reads.
func TestLargeGetMulti(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
		c := newClient(t, k.options(k.start(t, 1)))
		keys := make([]string, 3000)
		value := bytes.Repeat([]byte("v"), 1000)
		for i := range keys {
			keys[i] = fmt.Sprintf("%0200d", i)
			if i%2 == 0 {
				if err := c.Set(t.Context(), cache.Item{Key: keys[i], Value: value}); err != nil {
					t.Fatal(err)
				}
			}
		}
		got, err := c.GetMulti(t.Context(), keys)
		if err != nil || len(got) != len(keys)/2 {
			t.Fatalf("GetMulti: %d items, %v; want %d", len(got), err, len(keys)/2)
		}
		for i := 0; i < len(keys); i += 2 {
			if !bytes.Equal(got[keys[i]].Value, value) {
				t.Fatalf("GetMulti: key %d has a wrong value", i)
			}
		}
	})
}

// TestTooLarge: values over MaxItemSize are refused before they are sent;
// a value the server refuses (the client believes the limit larger) is
// ErrTooLarge as well, does not count against the server, and leaves the
// connection usable.
func TestTooLarge(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
		srv := k.start(t, 1)
		w := newWire()
		opts := k.options(srv)
		opts.DialContext = w.DialContext
		opts.MaxConnsPerServer = 1
		c := newClient(t, opts)
		if err := c.Set(t.Context(), cache.Item{Key: "small", Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
		w.counts()
		for _, size := range []int{c.MaxItemSize() + 1, 2 << 20} {
			err := c.Set(t.Context(), cache.Item{Key: "big", Value: make([]byte, size)})
			if !errors.Is(err, cache.ErrTooLarge) {
				t.Errorf("Set of %d bytes: %v, want ErrTooLarge", size, err)
			}
		}
		if _, trips := w.counts(); len(trips) != 0 {
			t.Errorf("refused values were sent: round trips %v", trips)
		}

		opts.ItemSizeLimit = 4 << 20 // the server's is 1 MiB
		c = newClient(t, opts)
		if err := c.Set(t.Context(), cache.Item{Key: "small", Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
		w.counts()
		for range 3 {
			err := c.Set(t.Context(), cache.Item{Key: "big", Value: make([]byte, 3<<20)})
			if !errors.Is(err, cache.ErrTooLarge) {
				t.Errorf("Set of 3 MiB refused by the server: %v, want ErrTooLarge", err)
			}
			if it, err := c.Get(t.Context(), "small"); err != nil || string(it.Value) != "v" {
				t.Errorf("Get after the refusal: %q, %v; want \"v\"", it.Value, err)
			}
		}
		dials, _ := w.counts()
		if k.name == "sasl" && len(dials) != 0 {
			t.Errorf("the connection was replaced after a refused value: new connections %v", dials)
		}
		st, err := c.Stats(t.Context())
		if err != nil || !st[0].Up || st[0].Client.Errors != 3 {
			t.Errorf("Stats: %+v, %v; want the server up with 3 errors", st, err)
		}
	})
}

// TestConcurrency runs 64 goroutines against two servers, with fewer
// connections than goroutines so that requests wait for the pool.
func TestConcurrency(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
		opts := k.options(k.start(t, 2))
		opts.MaxConnsPerServer = 8
		c := newClient(t, opts)
		const goroutines, rounds = 64, 50
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				ctx := t.Context()
				for r := range rounds {
					key := fmt.Sprintf("c:%d:%d", g, r%5)
					value := []byte(fmt.Sprintf("%d-%d", g, r))
					if err := c.Set(ctx, cache.Item{Key: key, Value: value, TTL: time.Minute}); err != nil {
						t.Errorf("Set: %v", err)
						return
					}
					it, err := c.Get(ctx, key)
					if err != nil || !bytes.Equal(it.Value, value) {
						t.Errorf("Get(%s) = %q, %v; want %q", key, it.Value, err, value)
						return
					}
					added := fmt.Sprintf("a:%d:%d", g, r)
					if err := c.Add(ctx, cache.Item{Key: added, Value: value, TTL: time.Minute}); err != nil {
						t.Errorf("Add(%s): %v", added, err)
						return
					}
					m, err := c.GetMulti(ctx, []string{key, added, "c:absent"})
					if err != nil || len(m) != 2 {
						t.Errorf("GetMulti: %d items, %v; want 2", len(m), err)
						return
					}
				}
			})
		}
		wg.Wait()
	})
}

// TestServerStats checks the figures read from memcached's own stats, on
// plain and SASL servers: memory, connections, items, and the server's own
// get_hits, get_misses and cmd_set; and that a stopped server is reported
// down at once, by the stats request that finds it gone.
func TestServerStats(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
		servers := k.start(t, 2)
		c := newClient(t, k.options(servers))
		keys := make([]string, 20)
		for i := range keys {
			keys[i] = "s" + strconv.Itoa(i)
			if err := c.Set(t.Context(), cache.Item{Key: keys[i], Value: []byte("value")}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.GetMulti(t.Context(), append(keys, "absent1", "absent2", "absent3")); err != nil {
			t.Fatal(err)
		}
		st, err := c.Stats(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		type sums struct{ Items, Sets, GetHits, GetMisses, CmdSet uint64 }
		var got sums
		for i, s := range st {
			if s.Addr != c.addrs[i] || !s.Up || s.LimitBytes != 64<<20 || s.CurrConnections == 0 || s.Bytes == 0 {
				t.Errorf("server %d: %+v; want its address, up, 64 MiB limit, connections and bytes", i, s)
			}
			got.Items += s.Items
			got.Sets += s.Client.Sets
			got.GetHits += s.GetHits
			got.GetMisses += s.GetMisses
			got.CmdSet += s.CmdSet
		}
		if diff := cmp.Diff(sums{Items: 20, Sets: 20, GetHits: 20, GetMisses: 3, CmdSet: 20}, got); diff != "" {
			t.Errorf("figures summed over both servers (-want +got):\n%s", diff)
		}

		servers[1].Stop()
		st, err = c.Stats(t.Context())
		if err == nil || !strings.Contains(err.Error(), servers[1].Addr()) {
			t.Errorf("Stats with a server stopped: error %v, want one naming %s", err, servers[1].Addr())
		}
		if len(st) != 2 || !st[0].Up || st[1].Up || st[1].Addr != servers[1].Addr() {
			t.Errorf("Stats with the second server stopped: %+v; want the first up, the second down", st)
		}
	})
}
