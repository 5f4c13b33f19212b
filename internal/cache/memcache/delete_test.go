package memcache

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/testenv"
)

// TestDeleteReachesEveryServer: a copy of a key on a server other than the
// one it hashes to (written there while that one was marked down) is deleted
// too, and counted once; a stopped or paused server is an error to retry,
// until it is marked down and the delete deferred.
func TestDeleteReachesEveryServer(t *testing.T) {
	eachKind(t, func(t *testing.T, k kind) {
		ctx := t.Context()
		servers := k.start(t, 2)
		c := newClient(t, k.options(servers))
		single := make([]*Client, len(servers))
		for i, s := range servers {
			single[i] = newClient(t, k.options([]*testenv.Memcached{s}))
		}
		plant := func(i int) {
			t.Helper()
			if err := single[i].Set(ctx, cache.Item{Key: "k", Value: []byte("copy")}); err != nil {
				t.Fatalf("plant on server %d: %v", i, err)
			}
		}
		gone := func(i int) {
			t.Helper()
			if _, err := single[i].Get(ctx, "k"); !errors.Is(err, cache.ErrMiss) {
				t.Errorf("server %d still answers for the deleted key: %v", i, err)
			}
		}

		plant(0)
		plant(1)
		if err := c.Delete(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		gone(0)
		gone(1)
		// One key removed, though from two servers, is one delete; an
		// absent key is none (see cache.Backend's Stats).
		if err := c.Delete(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		var deletes []uint64
		for _, s := range serverStats(t, c) {
			deletes = append(deletes, s.Client.Deletes)
		}
		if diff := cmp.Diff([]uint64{1, 0}, deletes); diff != "" {
			t.Errorf("Deletes per server after removing copies from both, then deleting again (-want +got):\n%s", diff)
		}

		// A refused connection is a failure to retry, not a delete done:
		// the server may be running, and reachable by other instances.
		// Once the server is marked down (FailureThreshold failures), the
		// delete is deferred, after a note on the other server.
		plant(0)
		servers[1].Stop()
		if err := c.Delete(ctx, "k"); !errors.Is(err, cache.ErrUnavailable) {
			t.Errorf("Delete with a stopped server = %v, want an error matching cache.ErrUnavailable", err)
		}
		gone(0)
		if err := c.Delete(ctx, "k"); err != nil {
			t.Errorf("Delete once the stopped server is marked down = %v, want it deferred", err)
		}
		servers[1].Start()

		opts := k.options(servers)
		opts.Timeout = 200 * time.Millisecond
		short := newClient(t, opts)
		servers[1].Pause()
		err := short.Delete(ctx, "k")
		servers[1].Resume()
		if !errors.Is(err, cache.ErrUnavailable) {
			t.Errorf("Delete with a paused server = %v, want an error matching cache.ErrUnavailable", err)
		}
	})
}
