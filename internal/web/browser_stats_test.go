package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tasklist/tasklist/internal/stats"
	"github.com/tasklist/tasklist/internal/testenv"
)

// TestBrowserStats opens /stats in headless Chromium with traffic behind
// it, as a person watching the cache would: the chart of hits and misses
// is drawn (its lines have points and are stroked), the page refreshes
// its figures by itself under its Content Security Policy, it fits a
// phone's width without scrolling sideways, and no page logs an error or
// breaks its policy. It saves a screenshot as stats.png in
// TASKLIST_SCREENSHOT_DIR (docs/stats.png in docs/application.md), or in a
// temporary directory.
func TestBrowserStats(t *testing.T) {
	ctx := testenv.Browser(t)
	if _, err := chromedp.Run(ctx, chromedp.EmulateViewport(1100, 760)); err != nil {
		t.Fatal(err)
	}
	// Every caching layer on the in-process cache, the statistics sampled
	// every 200 ms, on 127.0.0.1 (the statistics answer loopback without a
	// password).
	app := newStack(t, stackOptions{layers: everyLayer, hosts: []string{"127.0.0.1"},
		statsInterval: 200 * time.Millisecond, statsSamples: 20, run: true})
	srv := httptest.NewServer(app.handler)
	t.Cleanup(srv.Close)
	base := srv.URL
	console := watchConsole(t, ctx)

	// Traffic over several samples: reloads of the list, and now and then
	// a new task, which makes the next reloads miss. Each round has a
	// sample of its own: the next begins once the sampler has taken one.
	for round := range 12 {
		if round%4 == 0 {
			postForm(t, base+"/add", url.Values{"name": {"Task " + strconv.Itoa(round)}})
		}
		for range 5 + 3*round {
			getOK(t, base+"/")
		}
		last := newestRate(t, base)
		testenv.WaitFor(t, "a new sample of the statistics", func() bool { return newestRate(t, base).After(last) })
	}

	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(base+"/stats"))
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("opening /stats: %v %v", resp, err)
	}
	if csp, _ := resp.Headers["Content-Security-Policy"].(string); !strings.Contains(csp, "script-src 'self'") {
		t.Fatalf("/stats has Content-Security-Policy %q, want script-src 'self'", csp)
	}
	type line struct {
		Points int     `json:"points"`
		Width  float64 `json:"width"`
		Stroke string  `json:"stroke"`
	}
	lines := evaluate[map[string]line](t, ctx, `Object.fromEntries(["hits", "misses"].map(name => {
		const l = document.querySelector("#chart .chart-" + name);
		return [name, l ? {points: l.points.numberOfItems, width: l.getBBox().width, stroke: getComputedStyle(l).stroke} : {}];
	}))`)
	for _, name := range []string{"hits", "misses"} {
		if l := lines[name]; l.Points < 2 || l.Width <= 0 || l.Stroke == "" || l.Stroke == "none" {
			t.Errorf("chart line %s = %+v, want 2 points or more, drawn with a stroke", name, l)
		}
	}
	saveScreenshot(t, ctx, "stats.png")

	// More traffic; the page shows it without being reloaded.
	shown := func() string {
		return evaluate[string](t, ctx, `document.querySelector('tr[data-layer="total"] .hits').textContent`)
	}
	before := shown()
	for range 10 {
		getOK(t, base+"/")
	}
	wctx, cancel := context.WithTimeout(ctx, 3*stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(wctx, chromedp.Poll[chromedp.Void](`document.querySelector('tr[data-layer="total"] .hits').textContent !== `+strconv.Quote(before), chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(0))); err != nil {
		t.Errorf("the page still shows %s hits after more traffic: it did not refresh itself (%v)", before, err)
	}

	// A phone's width: nothing wider than the screen.
	if _, err := chromedp.Run(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	if w := evaluate[[]int](t, ctx, `[document.documentElement.scrollWidth, window.innerWidth]`); w[0] > w[1] {
		t.Errorf("on a 390 px wide screen the page is %d px wide", w[0])
	}

	// checkClean's deliberate violation needs a page without connect-src.
	if _, err := chromedp.Run(ctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	console.checkClean(t, ctx)
}

// newestRate returns when the newest rate of base's /stats.json was
// sampled (zero before the second sample).
func newestRate(t *testing.T, base string) time.Time {
	t.Helper()
	resp, err := http.Get(base + "/stats.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep stats.Report
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatalf("/stats.json: %v", err)
	}
	if len(rep.Rates) == 0 {
		return time.Time{}
	}
	return rep.Rates[len(rep.Rates)-1].At
}

func getOK(t *testing.T, u string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
}

func postForm(t *testing.T, u string, form url.Values) {
	t.Helper()
	resp, err := http.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK { // after following the 303
		t.Fatalf("POST %s: %d", u, resp.StatusCode)
	}
}
