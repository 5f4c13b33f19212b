package taskcache_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/local"
	"github.com/tasklist/tasklist/internal/taskcache"
	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/testenv"
)

// holdingBackend holds the first Get that finds a value other than a lease
// (a lease is one byte), once armed, until release is closed. It counts
// the Gets that find a lease.
type holdingBackend struct {
	cache.Backend
	armed         atomic.Bool
	held, release chan struct{}
	leaseLooks    atomic.Int64
}

func (h *holdingBackend) Get(ctx context.Context, key string) (cache.Item, error) {
	it, err := h.Backend.Get(ctx, key)
	if err == nil && len(it.Value) == 1 {
		h.leaseLooks.Add(1)
	}
	if err == nil && len(it.Value) > 1 && h.armed.CompareAndSwap(true, false) {
		close(h.held)
		<-h.release
	}
	return it, err
}

// TestLateJoinerGetsFreshList: a request that joins a flight after a write
// has answered must not take the list that flight read before the write.
//
// The flight is waiting on another instance's lease; that instance stores the
// list; the flight's next look finds it and is held there; a write answers;
// a new request misses (the write deleted the list) and joins the held
// flight. Its result predates the request, so the request must start over.
func TestLateJoinerGetsFreshList(t *testing.T) {
	ctx := t.Context()
	dbURL := testenv.SQLiteURL(t, "t.db")
	b, err := local.New(local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hold := &holdingBackend{Backend: b, held: make(chan struct{}), release: make(chan struct{})}
	c := cache.New(hold, cache.Options{})
	defer c.Close()
	opts := taskcache.Options{Strategy: taskcache.Delete, PollInterval: time.Millisecond, LeaseTTL: time.Minute}
	s := newStore(t, newSource(t, dbURL, 0), c, opts)

	// Another instance takes the lease and is held at the start of its query.
	otherSrc := newSource(t, dbURL, 0)
	other := newStore(t, otherSrc, c, opts)
	gate, querying := make(chan struct{}), make(chan struct{})
	otherSrc.setHook(func() { close(querying); <-gate })
	otherDone := make(chan struct{})
	go func() { other.List(ctx); close(otherDone) }()
	<-querying
	otherSrc.setHook(func() {})
	hold.leaseLooks.Store(0) // the other's own look, before its query

	first := make(chan tasks.Snapshot)
	go func() { snap, _ := s.List(ctx); first <- snap }()
	// Only s reads the list while the other holds its lease: the request's
	// read, then its flight's first look.
	testenv.WaitFor(t, "the flight waiting on the other's lease", func() bool { return hold.leaseLooks.Load() >= 2 })
	// The other instance reads the list as it is before the write and stores it.
	hold.armed.Store(true)
	close(gate)
	<-otherDone
	<-hold.held // the flight found that list and is held
	if _, _, err := s.Add(ctx, "written"); err != nil {
		t.Fatal(err)
	}
	late := make(chan tasks.Snapshot)
	go func() { snap, _ := s.List(ctx); late <- snap }() // arrives after the write answered
	// Joined: the first reader flies the one flight (held in the cache
	// read), and the late one waits for it.
	testenv.WaitFor(t, "the late reader joining the held flight", func() bool {
		return len(testenv.Goroutines("fill.(*Group).miss(", true)) == 1 && len(testenv.Goroutines("fill.(*Group).fly(", false)) == 1
	})
	close(hold.release)
	if snap := <-first; len(snap.Tasks) != 0 {
		t.Errorf("first reader = %d tasks, want the empty list it read", len(snap.Tasks))
	}
	if snap := <-late; len(snap.Tasks) != 1 || snap.Tasks[0].Name != "written" {
		t.Errorf("late reader = %+v, want the task written before it arrived", snap.Tasks)
	}
}
