package memcache

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/testenv"
)

// TestNoteGuardsDeferredDeletes plays, step by step, an instance that reads
// a server another instance defers deletes for: the writer reaches the
// key's server through a proxy that stalls (a paused server, as the
// writer sees it until its replay gets an answer) or refuses (a one-sided
// partition); the reader reaches it directly. The writer's delete is
// retried, as a write's invalidation is, until it is done or deferred; the
// reader then stores the key (a fill after the server came back, as it
// sees it), the writer deletes it again (the next write: deferred at
// once), and the reader must not get the value. Once the writer reaches
// the server again, its replay deletes the key there.
//
// Before the note existed, the reader got the value in both cases: the
// stalled server's delete was deferred without a word to anyone, and a
// refused connection counted as a delete done.
func TestNoteGuardsDeferredDeletes(t *testing.T) {
	for _, fault := range []string{"stalled", "refused"} {
		t.Run(fault, func(t *testing.T) {
			eachKind(t, func(t *testing.T, k kind) { noteGuards(t, k, fault) })
		})
	}
}

func noteGuards(t *testing.T, k kind, fault string) {
	const key = "app:tasks:version"
	ctx := t.Context()
	servers := k.start(t, 2)
	opts := k.options(servers)
	opts.Timeout = 200 * time.Millisecond
	opts.DeferAfter = 500 * time.Millisecond // shorter than the app's 3 s, for a short test
	opts.Backoff = time.Minute               // no probe: the background replay brings the server back
	opts.Volatile = func() []string { return []string{key} }
	reader := newClient(t, opts)
	home := reader.ring.pick(hashKey(key), allUsable)
	proxy := testenv.StartProxy(t, servers[home].Addr())
	var dialer net.Dialer
	wopts := opts
	wopts.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == servers[home].Addr() {
			addr = proxy.Addr()
		}
		return dialer.DialContext(ctx, network, addr)
	}
	writer := newClient(t, wopts)
	plain := newClient(t, k.options(servers[home:home+1])) // no Volatile: reads the server as it is

	if fault == "stalled" {
		proxy.Stall()
	} else {
		proxy.Refuse()
	}
	deleted := func(step string) {
		t.Helper()
		testenv.WaitFor(t, step+": a Delete that succeeds", func() bool { return writer.Delete(ctx, key) == nil })
	}
	deleted("first write")
	if err := reader.Set(ctx, cache.Item{Key: key, Value: []byte("old")}); err != nil {
		t.Fatal(err)
	}
	deleted("next write")
	if it, err := reader.Get(ctx, key); !errors.Is(err, cache.ErrUnavailable) {
		t.Errorf("Get after the deferred delete = %q, %v; want an error matching cache.ErrUnavailable: the writer has noted deletes for the server", it.Value, err)
	}
	items, err := reader.GetMulti(ctx, []string{key, "other"})
	if _, ok := items[key]; ok || !errors.Is(err, cache.ErrUnavailable) {
		t.Errorf("GetMulti after the deferred delete = %v, %v; want the key left out as unavailable", items, err)
	}
	// A reader that cannot read the note (it has the note's server marked
	// down: it was paused too, as the reader saw it) must not trust the
	// key either.
	blind := newClient(t, opts)
	blind.health.markDown(1-home, errors.New("the note's server failed, as this reader saw it"))
	if it, err := blind.Get(ctx, key); !errors.Is(err, cache.ErrUnavailable) {
		t.Errorf("Get by a reader that cannot read the notes = %q, %v; want an error matching cache.ErrUnavailable", it.Value, err)
	}

	if err := proxy.Forward(); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "the writer's replay bringing the server back", func() bool { return writer.health.up(home) })
	if it, err := plain.Get(ctx, key); !errors.Is(err, cache.ErrMiss) {
		t.Errorf("after the replay the server holds %q, %v; want a miss", it.Value, err)
	}
}
