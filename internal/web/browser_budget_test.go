package web_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/tasklist/tasklist/internal/session"
	"github.com/tasklist/tasklist/internal/testenv"
	"github.com/tasklist/tasklist/internal/web"
)

// firstVisitBudget is the most a first visit to / may move over the
// network, headers included: the page with a full page of tasks, its
// style sheets, its icons and the favicon, as Chromium fetches them.
const firstVisitBudget = 40_000

// transfer is what Chromium's network domain reports of one request.
type transfer struct {
	url, encoding string
	bytes         float64 // encodedDataLength: headers and body as received
	done          bool    // finished or failed
	failed        string
}

// transfers records the requests of a tab. It is safe for concurrent use.
type transfers struct {
	mu   sync.Mutex
	byID map[network.RequestID]*transfer
	grew chan struct{} // closed, and replaced, when a request ends
}

// watchTransfers records the requests of the tab of ctx from now on.
func watchTransfers(t *testing.T, ctx context.Context) *transfers {
	t.Helper()
	tr := &transfers{byID: map[network.RequestID]*transfer{}, grew: make(chan struct{})}
	err := chromedp.Listen(ctx, func(ev any) {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		get := func(id network.RequestID) *transfer {
			if tr.byID[id] == nil {
				tr.byID[id] = &transfer{}
			}
			return tr.byID[id]
		}
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			get(e.RequestID).url = e.Request.URL
		case *network.EventResponseReceived:
			for k, v := range e.Response.Headers {
				if strings.EqualFold(k, "Content-Encoding") {
					get(e.RequestID).encoding = fmt.Sprint(v)
				}
			}
		case *network.EventLoadingFinished:
			x := get(e.RequestID)
			x.bytes, x.done = e.EncodedDataLength, true
			tr.ended()
		case *network.EventLoadingFailed:
			x := get(e.RequestID)
			x.done, x.failed = true, e.ErrorText
			tr.ended()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// ended wakes the waiters of settled; tr.mu is held.
func (tr *transfers) ended() {
	close(tr.grew)
	tr.grew = make(chan struct{})
}

// settled waits until every request seen so far has ended, and returns
// them by URL.
func (tr *transfers) settled(ctx context.Context) ([]transfer, error) {
	for {
		tr.mu.Lock()
		all, grew := []transfer{}, tr.grew
		for _, x := range tr.byID {
			all = append(all, *x)
		}
		tr.mu.Unlock()
		if !slices.ContainsFunc(all, func(x transfer) bool { return !x.done }) {
			slices.SortFunc(all, func(a, b transfer) int { return strings.Compare(a.url, b.url) })
			return all, nil
		}
		select {
		case <-grew:
		case <-ctx.Done():
			return nil, fmt.Errorf("requests still unfinished: %w", ctx.Err())
		}
	}
}

// TestBrowserFirstVisitBudget opens / in a fresh Chromium (empty cache),
// the app wired as cmd/tasklist wires it (every caching layer, sessions)
// and showing a full page of tasks, and adds up what Chromium says each
// request moved (headers and body as sent: gzip'd where the server
// compressed). The favicon is fetched too, as an image, should headless
// Chromium not ask for it itself. The total must stay under
// firstVisitBudget; every request must succeed.
func TestBrowserFirstVisitBudget(t *testing.T) {
	ctx := testenv.Browser(t)
	o := allLayers
	o.sessions = session.CachedDB
	o.prefix = "budget:"
	app := newStack(t, o)
	for i := range web.DefaultPageSize {
		app.post(t, "/add", url.Values{"name": {"Task number " + strconv.Itoa(i+1) + " of the first page"}})
	}
	srv := httptest.NewServer(app.handler)
	t.Cleanup(srv.Close)

	tr := watchTransfers(t, ctx)
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(srv.URL+"/"))
	checkListPage(t, "opening /", srv.URL, resp, err)
	if n := evaluate[int](t, ctx, `document.querySelectorAll("tr[data-task-id]").length`); n != web.DefaultPageSize {
		t.Fatalf("the page shows %d tasks, want a full page of %d", n, web.DefaultPageSize)
	}
	// The favicon, fetched as an image the way a browser's tab strip does;
	// resolves once it has loaded (or failed).
	const favicon = `new Promise(done => {
		const img = new Image();
		img.onload = () => done(img.naturalWidth > 0);
		img.onerror = () => done(false);
		img.src = document.querySelector('link[rel="icon"]').href;
	})`
	if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](favicon, chromedp.EvalAwaitPromise)); err != nil || !ok {
		t.Errorf("the favicon did not load (%v)", err)
	}

	pctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	all, err := tr.settled(pctx)
	if err != nil {
		t.Fatal(err)
	}
	var total float64
	var report strings.Builder
	kinds := map[string]bool{}
	for _, x := range all {
		if x.failed != "" {
			t.Errorf("%s failed: %s", x.url, x.failed)
		}
		total += x.bytes
		fmt.Fprintf(&report, "\n  %6.0f  %-5s %s", x.bytes, x.encoding, x.url)
		for _, k := range []string{"/static/app.", "/static/vendor/bootstrap/", "/static/favicon.", srv.URL + "/"} {
			if strings.HasPrefix(x.url, k) || strings.HasPrefix(x.url, srv.URL+k) {
				kinds[k] = true
			}
		}
	}
	t.Logf("first visit: %.0f bytes in %d requests (budget %d):%s", total, len(all), firstVisitBudget, report.String())
	if len(kinds) != 4 {
		t.Errorf("the requests miss the page, a style sheet or the favicon (saw %v)", kinds)
	}
	if total >= firstVisitBudget {
		t.Errorf("a first visit moved %.0f bytes, over the budget of %d", total, firstVisitBudget)
	}
}
