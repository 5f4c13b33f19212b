package tasks_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/tasks/taskstest"
	"github.com/tasklist/tasklist/internal/testenv"
)

// TestSQLiteInstancesShareAFile: three stores, each with its own connection
// pool as separate instances have, share one SQLite file; 24 writers add
// 2,000 tasks while 4 readers read pages (every 5 ms) and the whole list (every 50 ms). Every write must
// queue for the file's write lock rather than fail with SQLITE_BUSY
// ("database is locked") or run out of its time (the default database
// timeout) while SQLite's lock wait passes it over; every read must succeed.
func TestSQLiteInstancesShareAFile(t *testing.T) {
	file := testenv.SQLiteURL(t, "shared.db")
	stores := make([]*tasks.Store, 3)
	for i := range stores {
		stores[i] = taskstest.Open(t, file, tasks.Options{})
	}
	const writers, adds = 24, 2000
	var (
		slowest   atomic.Int64 // nanoseconds
		next      atomic.Int64
		failures  atomic.Int64
		writersWG sync.WaitGroup
		readersWG sync.WaitGroup
		done      = make(chan struct{})
	)
	for w := range writers {
		s := stores[w%len(stores)]
		writersWG.Go(func() {
			for next.Add(1) <= adds {
				start := time.Now()
				if _, _, err := s.Add(t.Context(), "shared file task"); err != nil {
					failures.Add(1)
					t.Errorf("add: %v", err)
				}
				d := int64(time.Since(start))
				for old := slowest.Load(); d > old && !slowest.CompareAndSwap(old, d); old = slowest.Load() {
				}
			}
		})
	}
	var reads atomic.Int64
	for r := range 4 {
		s := stores[r%len(stores)]
		whole, pause := r == 0, 5*time.Millisecond
		if whole {
			pause = 50 * time.Millisecond
		}
		readersWG.Go(func() {
			for {
				select {
				case <-done:
					return
				case <-time.After(pause):
				}
				var err error
				if whole {
					_, err = s.List(t.Context())
				} else {
					_, err = s.Page(t.Context(), 0, 50)
				}
				if err != nil {
					failures.Add(1)
					t.Errorf("read: %v", err)
				}
				reads.Add(1)
			}
		})
	}
	writersWG.Wait()
	close(done)
	readersWG.Wait()
	snap, err := stores[0].List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d adds and %d reads on three stores, %d failed; slowest add %v", adds, reads.Load(), failures.Load(), time.Duration(slowest.Load()).Round(time.Millisecond))
	if len(snap.Tasks) != adds || snap.Revision < adds {
		t.Errorf("after %d adds: %d tasks at revision %d", adds, len(snap.Tasks), snap.Revision)
	}
}
