package web_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/stats"
	"github.com/tasklist/tasklist/internal/taskcache"
	"github.com/tasklist/tasklist/internal/tasks"
	"github.com/tasklist/tasklist/internal/tasks/taskstest"
	"github.com/tasklist/tasklist/internal/testenv"
)

// TestPageStampedeAcrossInstances: with every layer on and a cold cache,
// 200 concurrent GET / spread over three instances (two shared memcached
// servers) while the list query takes 1s run the query once and render the
// page and its list fragment once, across all instances; all 200 answers
// are the same page, showing the database's list. (With package fill's
// miss made to load without a flight or a lease, the run counted 200 of
// each, seen when this test was written.)
func TestPageStampedeAcrossInstances(t *testing.T) {
	servers := startMemcacheds(t, 2)
	for _, strategy := range []taskcache.Strategy{taskcache.Delete, taskcache.Version, taskcache.Update, taskcache.Expire} {
		t.Run(string(strategy), func(t *testing.T) {
			dbURL := testenv.SQLiteURL(t, "stampede.db")
			migrate(t, dbURL)
			seed := taskstest.Open(t, dbURL, tasks.Options{})
			task, _, err := seed.Add(t.Context(), "the task")
			if err != nil {
				t.Fatal(err)
			}
			o := stackOptions{
				dbURL: dbURL,
				// A generous timeout: this test is about leases, not
				// about timeouts, which bypass the cache by design.
				backend:  memcachedBackend(servers, 5*time.Second),
				prefix:   testenv.RandomName("stampede") + ":",
				strategy: strategy,
				layers:   everyLayer,
				slow:     time.Second,
			}
			var cluster []*stack
			for range 3 {
				cluster = append(cluster, newStack(t, o))
			}

			bodies := make([]string, 200)
			var wg sync.WaitGroup
			for i := range bodies {
				wg.Go(func() {
					w := do(cluster[i%3].handler, "GET", "/", nil)
					if w.Code != http.StatusOK {
						t.Errorf("GET / on instance %d = %d", i%3, w.Code)
					}
					bodies[i] = w.Body.String()
				})
			}
			wg.Wait()

			if diff := cmp.Diff([]pageRow{{ID: task.ID, Name: "the task"}}, pageRows(bodies[0])); diff != "" {
				t.Errorf("the page shows the wrong list (-want +got):\n%s", diff)
			}
			for i, b := range bodies {
				if b != bodies[0] {
					t.Errorf("response %d differs from response 0:\n%s", i, cmp.Diff(bodies[0], b))
					break
				}
			}
			// A render stores what it made, unless it went without the
			// cache (an error): the page once, the list fragment and its
			// one row once each.
			var queries uint64
			var pages, frags stats.Counts
			for _, s := range cluster {
				queries += uint64(s.reads())
				pages, frags = pages.Add(s.layer("page")), frags.Add(s.layer("fragment"))
			}
			if queries != 1 || pages.Sets != 1 || pages.Errors != 0 || frags.Sets != 2 || frags.Errors != 0 {
				t.Errorf("200 cold requests over 3 instances ran the list query %d times, and counted %+v for pages and %+v for fragments; want 1 query, 1 page and 2 fragments stored, no error",
					queries, pages, frags)
			}
		})
	}
}
