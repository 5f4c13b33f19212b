package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/tasklist/tasklist/internal/config"
)

// TestPageGate: with 95 tasks in pages of 10, some removed, every start a
// visitor can ask for (each id, ids of removed tasks, past the end) is
// either a page the links reach, served, or redirected (303, not stored)
// to the one such page that shows the first task after it, or the last
// page when none follows; the answer is computed here from the database's
// list, independently of the app. Then a flood of every other start
// stores nothing in the page or fragment caches, so the pages the links
// reach stay cached: before, each start was a page of its own in both.
func TestPageGate(t *testing.T) {
	for _, layers := range []struct {
		name string
		o    stackOptions
	}{
		{"all layers", stackOptions{layers: config.Layers{Query: true, Fragment: true, Page: true}, pageSize: 10}},
		{"fragments and pages, no query cache", stackOptions{layers: config.Layers{Fragment: true, Page: true}, pageSize: 10}},
		{"fragments only", stackOptions{layers: config.Layers{Query: true, Fragment: true}, pageSize: 10}},
	} {
		t.Run(layers.name, func(t *testing.T) {
			o := layers.o
			o.prefix = "g:"
			l := newStack(t, o)
			for i := range 95 {
				if _, _, err := l.Tasks().Add(t.Context(), fmt.Sprintf("task %02d", i+1)); err != nil {
					t.Fatal(err)
				}
			}
			for _, id := range []int{3, 10, 11, 20, 55} { // around page ends, through the app
				l.post(t, "/remove", url.Values{"id": {strconv.Itoa(id)}})
			}
			check := func(pass string) {
				snap, err := l.Tasks().List(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				var ids []int64
				for _, task := range snap.Tasks {
					ids = append(ids, task.ID)
				}
				// The starts of the pages the links reach: 0, then the id
				// ending each full page.
				starts := []int64{0}
				for i := 10; i < len(ids); i += 10 {
					starts = append(starts, ids[i-1])
				}
				// want is where a request for after goes: itself if it is a
				// start, else the start of the page showing the first task
				// after it, or of the last page.
				want := func(after int64) int64 {
					rank, _ := slices.BinarySearch(ids, after+1) // of the first task after it
					rank = min(rank, len(ids)-1)
					return starts[rank/10]
				}
				for after := int64(1); after <= 100; after++ {
					target := fmt.Sprintf("/?after=%d", after)
					resp, body := l.get(t, target)
					w := want(after)
					switch {
					case w == after && resp.StatusCode != 200:
						t.Errorf("%s: GET %s = %d, want 200 (a page the links reach)", pass, target, resp.StatusCode)
					case w == after:
					case resp.StatusCode != http.StatusSeeOther:
						t.Errorf("%s: GET %s = %d %q, want 303", pass, target, resp.StatusCode, rows(body))
					case resp.Header.Get("Location") != pageURL(w) || resp.Header.Get("Cache-Control") != "no-store":
						t.Errorf("%s: GET %s redirects to %q (%s), want %s, no-store", pass, target, resp.Header.Get("Location"), resp.Header.Get("Cache-Control"), pageURL(w))
					}
				}
			}
			// Walk the pages by their links first, as a visitor does.
			for target := "/"; target != ""; {
				resp, body := l.get(t, target)
				if resp.StatusCode != 200 {
					t.Fatalf("GET %s = %d", target, resp.StatusCode)
				}
				target = ""
				if m := nextRE.FindStringSubmatch(body); m != nil {
					target = m[1]
				}
			}
			// A render is a miss, or an error when it goes without the cache.
			renders := func() [2]uint64 {
				p, f := l.layer("page"), l.layer("fragment")
				return [2]uint64{p.Misses + p.Errors, f.Misses + f.Errors}
			}
			before := renders()
			check("flood")
			if after := renders(); after != before {
				t.Errorf("the flood rendered %d pages for the page cache and %d list fragments, want none", after[0]-before[0], after[1]-before[1])
			}
			// After a write the gate starts again from what it reads.
			l.post(t, "/add", url.Values{"name": {"task 96"}})
			check("after a write")
		})
	}
}

// pageURL links to the page after the id after, as the app does.
func pageURL(after int64) string {
	if after == 0 {
		return "/"
	}
	return "/?after=" + strconv.FormatInt(after, 10)
}

var nextRE = regexp.MustCompile(`id="next-page" href="([^"]*)"`)
