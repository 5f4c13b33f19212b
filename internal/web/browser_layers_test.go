package web_test

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/session"
	"github.com/tasklist/tasklist/internal/taskcache"
	"github.com/tasklist/tasklist/internal/testenv"
)

// TestBrowserCachedLayers drives the application with every caching layer
// on, over a real memcached, and sessions, in headless Chromium, with pages
// of three tasks: each add, toggle and remove made through the page shows
// at once (on the page after the app's redirect, which carries the write's
// message, on / opened again, from the page cache, and on the next page
// when the task is there); the previous and next links walk seven tasks in pages of
// three; and forms that a page on another origin (another loopback port)
// submits to the app by themselves are refused with 403 and change
// nothing. (Seen failing when it was written: with the cross-origin
// protection left out of Handler, the first attack landed on the list;
// with the version delete left out of taskcache's invalidate, the first
// add did not show.)
func TestBrowserCachedLayers(t *testing.T) {
	ctx := testenv.Browser(t)
	app := newStack(t, stackOptions{
		backend:  memcachedBackend(startMemcacheds(t, 1), 0),
		prefix:   testenv.RandomName("browser") + ":",
		strategy: taskcache.Version,
		layers:   everyLayer,
		pageSize: 3,
		sessions: session.CachedDB, // as cmd/tasklist has them
	})
	srv := httptest.NewServer(app.handler)
	t.Cleanup(srv.Close)
	base := srv.URL
	console := watchConsole(t, ctx)

	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(base+"/"))
	checkListPage(t, "opening /", base, resp, err)
	checkRows(t, ctx, "the empty list", nil)

	// Add, toggle, remove and undo: each shows on the page the redirect leads to
	// (which has the write's message, so it bypasses the page cache) and
	// on the shared page opened again.
	addTask(t, ctx, base, "one")
	one := checkShared(t, ctx, base, "after adding one", []taskRow{{Name: "one", Toggle: "Done"}})[0]
	addTask(t, ctx, base, "two")
	two := checkShared(t, ctx, base, "after adding two", []taskRow{one, {Name: "two", Toggle: "Done"}})[1]
	addTask(t, ctx, base, "three")
	three := checkShared(t, ctx, base, "after adding three", []taskRow{one, two, {Name: "three", Toggle: "Done"}})[2]
	submit(t, ctx, base, rowSelector(two.ID)+" button.toggle")
	twoDone := taskRow{ID: two.ID, Name: "two", Done: true, Struck: true, Toggle: "Reopen"}
	checkShared(t, ctx, base, "after marking two done", []taskRow{one, twoDone, three})
	// Remove one, undo it from the message, and remove it again.
	submit(t, ctx, base, rowSelector(one.ID)+" button.remove")
	checkRows(t, ctx, "after removing one", []taskRow{twoDone, three})
	checkFlash(t, ctx, "after removing one", "Removed “one”.")
	submit(t, ctx, base, "#undo")
	checkFlash(t, ctx, "after undo", "Restored “one”.")
	checkShared(t, ctx, base, "after undoing the remove", []taskRow{one, twoDone, three})
	submit(t, ctx, base, rowSelector(one.ID)+" button.remove")
	checkShared(t, ctx, base, "after removing one", []taskRow{twoDone, three})
	checkRange(t, ctx, "after removing one", "1–2 of 2")

	// Seven tasks in pages of three. A new task goes to the end, so the
	// first page shows the count change.
	for i, name := range []string{"four", "five", "six", "seven", "eight"} {
		addTask(t, ctx, base, name)
		checkRange(t, ctx, "after adding "+name, fmt.Sprintf("1–%d of %d", min(3, i+3), i+3))
	}
	page1 := checkRows(t, ctx, "page 1", []taskRow{twoDone, three, {Name: "four", Toggle: "Done"}})
	checkLinks(t, ctx, "page 1", "", base+"/?after="+page1[2].ID)
	followLink(t, ctx, "#next-page", base+"/?after="+page1[2].ID)
	page2 := checkRows(t, ctx, "page 2", []taskRow{{Name: "five", Toggle: "Done"}, {Name: "six", Toggle: "Done"}, {Name: "seven", Toggle: "Done"}})
	checkRange(t, ctx, "page 2", "4–6 of 7")
	checkLinks(t, ctx, "page 2", base+"/", base+"/?after="+page2[2].ID)
	followLink(t, ctx, "#next-page", base+"/?after="+page2[2].ID)
	checkRows(t, ctx, "page 3", []taskRow{{Name: "eight", Toggle: "Done"}})
	checkRange(t, ctx, "page 3", "7–7 of 7")
	checkLinks(t, ctx, "page 3", base+"/?after="+page1[2].ID, "")
	followLink(t, ctx, "#prev-page", base+"/?after="+page1[2].ID)
	checkRows(t, ctx, "page 2 again", page2)

	// A toggle on page 2 leads back to page 1, and page 2 shows it.
	submit(t, ctx, base, rowSelector(page2[1].ID)+" button.toggle")
	checkShared(t, ctx, base, "page 1 after marking six done", page1)
	followLink(t, ctx, "#next-page", base+"/?after="+page1[2].ID)
	sixDone := taskRow{ID: page2[1].ID, Name: "six", Done: true, Struck: true, Toggle: "Reopen"}
	checkRows(t, ctx, "page 2 after marking six done", []taskRow{page2[0], sixDone, page2[2]})
	followLink(t, ctx, "#prev-page", base+"/")
	checkRows(t, ctx, "page 1 again", page1)
	console.checkClean(t, ctx)

	// Another origin's page submits the app's forms: refused, and nothing
	// changes.
	before, err := app.Tasks().List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, attack := range []struct {
		action string
		field  string
		value  string
	}{
		{"/add", "name", "evil"},
		{"/toggle", "id", page1[1].ID},
		{"/remove", "id", page1[0].ID},
	} {
		attacker := httptest.NewServer(autoSubmit(base+attack.action, attack.field, attack.value))
		status, text := crossOriginSubmit(t, ctx, attacker.URL, base+attack.action)
		attacker.Close()
		if status != http.StatusForbidden || !strings.Contains(text, "Cross-origin requests that change data are refused.") {
			t.Errorf("a form on %s posting to %s was answered %d:\n%s", attacker.URL, attack.action, status, text)
		}
		after, err := app.Tasks().List(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, after); diff != "" {
			t.Errorf("a refused cross-origin POST %s changed the database (-before +after):\n%s", attack.action, diff)
		}
	}
	resp, err = chromedp.Run(ctx, chromedp.NavigateResponse(base+"/"))
	if err != nil || (resp.Status != http.StatusOK && resp.Status != http.StatusNotModified) {
		t.Fatalf("opening / after the attacks: %v, %+v", err, resp)
	}
	checkRows(t, ctx, "page 1 after the attacks", page1)
}

// autoSubmit serves a page of another origin whose form posts field=value
// to action, by itself, once the page has loaded.
func autoSubmit(action, field, value string) http.Handler {
	page := template.Must(template.New("attacker").Parse(`<!doctype html>
<title>Win a prize</title>
<body onload="document.forms[0].submit()">
<form method="post" action="{{.Action}}"><input type="hidden" name="{{.Field}}" value="{{.Value}}"></form>`))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		page.Execute(w, map[string]string{"Action": action, "Field": field, "Value": value})
	})
}

// crossOriginSubmit opens the attacker's page, waits until the browser has
// loaded the page its form leads to, at target, and returns that page's
// HTTP status and text.
func crossOriginSubmit(t *testing.T, ctx context.Context, attacker, target string) (int, string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	arrived := fmt.Sprintf(`location.href === %q && document.readyState === "complete"`, target)
	if err := chromedp.Do(sctx, chromedp.Navigate(attacker)); err != nil {
		t.Fatalf("opening %s: %v", attacker, err)
	}
	// Poll from here, not with chromedp.Poll: the navigation it waits for
	// destroys the context a poll in the page runs in.
	for {
		ok, err := chromedp.Run(sctx, chromedp.Evaluate[bool](arrived))
		if err == nil && ok {
			break
		}
		select {
		case <-sctx.Done():
			t.Fatalf("the page on %s did not lead to %s (last: %v; the browser is at %s)", attacker, target, err,
				evaluate[string](t, ctx, "location.href"))
		case <-time.After(20 * time.Millisecond):
		}
	}
	got := evaluate[struct {
		Status int    `json:"status"`
		Text   string `json:"text"`
	}](t, ctx, `({status: performance.getEntriesByType("navigation")[0].responseStatus, text: document.body.innerText})`)
	return got.Status, got.Text
}

// checkShared fails the test unless the page, which must carry the message
// of the write that led to it, shows the rows want, and / opened anew
// shows them again without the message (so from the page cache). It
// returns the rows.
func checkShared(t *testing.T, ctx context.Context, base, when string, want []taskRow) []taskRow {
	t.Helper()
	const flash = `document.querySelector("#flash-message")?.textContent.trim() ?? ""`
	got := checkRows(t, ctx, when, want)
	if evaluate[string](t, ctx, flash) == "" {
		t.Errorf("%s: the page has no message about the write", when)
	}
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(base+"/"))
	if err != nil || (resp.Status != http.StatusOK && resp.Status != http.StatusNotModified) || resp.URL != base+"/" {
		t.Fatalf("%s: opening / again: %v, %+v", when, err, resp)
	}
	if msg := evaluate[string](t, ctx, flash); msg != "" {
		t.Errorf("%s: / opened again still shows the message %q", when, msg)
	}
	return checkRows(t, ctx, when+", / opened again", got)
}

// checkFlash fails the test unless the page's message says want.
func checkFlash(t *testing.T, ctx context.Context, when, want string) {
	t.Helper()
	if got := evaluate[string](t, ctx, `document.querySelector("#flash-message")?.textContent.trim() ?? "(no message)"`); got != want {
		t.Errorf("%s: the message says %q, want %q", when, got, want)
	}
}

// checkRange fails the test unless the list's "first–last of total" says want.
func checkRange(t *testing.T, ctx context.Context, when, want string) {
	t.Helper()
	if got := evaluate[string](t, ctx, `document.querySelector("#task-range")?.textContent ?? "(no #task-range)"`); got != want {
		t.Errorf("%s: the list says %q, want %q", when, got, want)
	}
}

// checkLinks fails the test unless the previous and next links lead to
// prev and next ("" for no link).
func checkLinks(t *testing.T, ctx context.Context, when, prev, next string) {
	t.Helper()
	got := evaluate[[]string](t, ctx, `["#prev-page", "#next-page"].map(s => document.querySelector(s)?.href ?? "")`)
	if diff := cmp.Diff([]string{prev, next}, got); diff != "" {
		t.Errorf("%s: previous and next links (-want +got):\n%s", when, diff)
	}
}

// followLink clicks the link sel and waits for the page it leads to, which
// must be want, answered with 200, or 304 when the browser revalidated its
// copy.
func followLink(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(sctx, chromedp.Click(chromedp.CSS(sel)))
	switch {
	case err != nil:
		t.Fatalf("clicking %s: no page loaded: %v", sel, err)
	case resp.Status != http.StatusOK && resp.Status != http.StatusNotModified || resp.URL != want:
		t.Fatalf("clicking %s: got %d from %s, want 200 from %s", sel, resp.Status, resp.URL, want)
	}
}
