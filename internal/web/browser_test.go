package web_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/tasklist/tasklist/internal/testenv"
)

// stepTimeout bounds one step in the browser: a page load after a click, a
// wait for the fonts or for the console.
const stepTimeout = 15 * time.Second

// TestBrowserTaskList drives the real application in headless Chromium the
// way a person would: it adds two tasks, the first named with HTML and
// quotes, marks the first done and not done again, deletes it, and after
// each step checks what the page shows. It also checks that the stylesheets
// and the icons are drawn, and that no page logged an error or broke
// its Content Security Policy. It saves a screenshot of the list with a done
// task in TASKLIST_SCREENSHOT_DIR, or in a temporary directory.
func TestBrowserTaskList(t *testing.T) {
	ctx := testenv.Browser(t)
	srv := httptest.NewServer(newStack(t, stackOptions{hosts: []string{"127.0.0.1"}}).handler)
	t.Cleanup(srv.Close)
	base := srv.URL
	console := watchConsole(t, ctx)

	// The empty list.
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(base+"/"))
	checkListPage(t, "opening /", base, resp, err)
	if csp, _ := resp.Headers["Content-Security-Policy"].(string); !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("GET / has Content-Security-Policy %q; the checks for violations below assume a strict one", csp)
	}
	if got, want := evaluate[[]string](t, ctx, `[...document.querySelectorAll(".card-header")].map(h => h.textContent.trim())`),
		[]string{"New Task", "Current Tasks"}; !reflect.DeepEqual(got, want) {
		t.Errorf("card headers = %q, want %q", got, want)
	}
	if got, want := evaluate[string](t, ctx, `document.querySelector("#no-tasks")?.textContent.trim() ?? "(no #no-tasks)"`),
		"No tasks yet. Add one above."; got != want {
		t.Errorf("empty list says %q, want %q", got, want)
	}
	checkRows(t, ctx, "the empty list", nil)
	checkStylesheets(t, ctx)
	checkIcons(t, ctx)

	// Two tasks; the first name would be markup if the page did not escape it.
	const tricky = `<b>Buy</b> "milk" & 'eggs'`
	addTask(t, ctx, base, tricky)
	first := checkRows(t, ctx, "after adding the first task", []taskRow{{Name: tricky, Toggle: "Done"}})[0]
	addTask(t, ctx, base, "Call Ada")
	second := checkRows(t, ctx, "after adding the second task", []taskRow{
		{ID: first.ID, Name: tricky, Toggle: "Done"},
		{Name: "Call Ada", Toggle: "Done"},
	})[1]
	if first.ID == second.ID {
		t.Fatalf("both rows have data-task-id %q", first.ID)
	}

	// Done, and not done again.
	toggle := rowSelector(first.ID) + " button.toggle"
	submit(t, ctx, base, toggle)
	checkRows(t, ctx, "after marking the first task done", []taskRow{
		{ID: first.ID, Name: tricky, Done: true, Struck: true, Toggle: "Reopen"},
		second,
	})
	saveScreenshot(t, ctx, "tasklist.png")
	submit(t, ctx, base, toggle)
	checkRows(t, ctx, "after undoing the first task", []taskRow{first, second})

	// Delete the first task.
	submit(t, ctx, base, rowSelector(first.ID)+" button.remove")
	checkRows(t, ctx, "after deleting the first task", []taskRow{second})

	console.checkClean(t, ctx)
}

// taskRow is what the page shows of one task: a tr[data-task-id].
type taskRow struct {
	ID     string `json:"id"`     // data-task-id
	Name   string `json:"name"`   // the text of the name cell
	Markup int    `json:"markup"` // elements inside the name cell: 0 unless a name became HTML
	Done   bool   `json:"done"`   // the row has class task-done
	Struck bool   `json:"struck"` // the name is drawn struck through
	Toggle string `json:"toggle"` // the text of the toggle button
}

// rowsJS reads every task row of the page, in page order.
const rowsJS = `[...document.querySelectorAll("tr[data-task-id]")].map(r => {
	const name = r.querySelector(".task-name");
	return {
		id: r.dataset.taskId,
		name: name ? name.textContent : "(no .task-name)",
		markup: name ? name.childElementCount : 0,
		done: r.classList.contains("task-done"),
		struck: !!name && getComputedStyle(name).textDecorationLine.includes("line-through"),
		toggle: r.querySelector("button.toggle")?.textContent.trim() ?? "(no button.toggle)",
	};
})`

// checkRows fails the test unless the page shows exactly the rows want, in
// order, and returns the rows it shows. A want row with an empty ID matches
// any ID that no other row has.
func checkRows(t *testing.T, ctx context.Context, when string, want []taskRow) []taskRow {
	t.Helper()
	got := evaluate[[]taskRow](t, ctx, rowsJS)
	match := make([]taskRow, len(want))
	copy(match, want)
	seen := map[string]bool{}
	for i := range match {
		if match[i].ID == "" && i < len(got) {
			match[i].ID = got[i].ID
		}
	}
	for _, r := range got {
		if seen[r.ID] || r.ID == "" {
			t.Fatalf("%s: the rows' data-task-id are not distinct and set: %+v", when, got)
		}
		seen[r.ID] = true
	}
	if !reflect.DeepEqual(got, match) {
		t.Fatalf("%s: the page shows\n\t%+v\nwant\n\t%+v", when, got, match)
	}
	return got
}

// rowSelector selects the row of the task with the given id.
func rowSelector(id string) string {
	return fmt.Sprintf("tr[data-task-id=%q]", id)
}

// addTask types name into the new-task field and submits it.
func addTask(t *testing.T, ctx context.Context, base, name string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#task-name"), name)); err != nil {
		t.Fatalf("typing %q: %v", name, err)
	}
	if got := evaluate[string](t, ctx, `document.querySelector("#task-name").value`); got != name {
		t.Fatalf("the field holds %q after typing %q", got, name)
	}
	submit(t, ctx, base, "#add-task")
}

// submit clicks the submit button sel and waits for the page the form's
// answer leads to, which must be the list at / (after the app's redirect).
func submit(t *testing.T, ctx context.Context, base, sel string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(sctx, chromedp.Click(chromedp.CSS(sel)))
	checkListPage(t, "clicking "+sel, base, resp, err)
}

// checkListPage fails the test unless a navigation ended at the list, /,
// answered with 200 OK.
func checkListPage(t *testing.T, what, base string, resp *network.Response, err error) {
	t.Helper()
	switch {
	case err != nil:
		t.Fatalf("%s: no page loaded: %v", what, err)
	case resp.Status != http.StatusOK || resp.URL != base+"/":
		t.Fatalf("%s: got %d %s from %s, want 200 from %s/", what, resp.Status, resp.StatusText, resp.URL, base)
	}
}

// checkStylesheets fails the test unless every stylesheet the page links
// loaded and Bootstrap's rules apply: its primary button has Bootstrap's
// primary colour, not the browser's grey.
func checkStylesheets(t *testing.T, ctx context.Context) {
	t.Helper()
	type sheet struct {
		Href  string `json:"href"`
		Rules int    `json:"rules"` // -1 when the sheet did not load or cannot be read
	}
	styles := evaluate[struct {
		Sheets   []sheet `json:"sheets"`
		ButtonBg string  `json:"buttonBg"`
		Primary  string  `json:"primary"`
	}](t, ctx, `({
		sheets: [...document.querySelectorAll('link[rel="stylesheet"]')].map(l => ({
			href: l.getAttribute("href"),
			rules: (() => { try { return l.sheet.cssRules.length } catch { return -1 } })(),
		})),
		buttonBg: getComputedStyle(document.querySelector(".btn-primary")).backgroundColor,
		primary: getComputedStyle(document.querySelector(".btn-primary")).getPropertyValue("--bs-btn-bg").trim(),
	})`)
	bootstrap := false
	for _, s := range styles.Sheets {
		if s.Rules <= 0 {
			t.Errorf("stylesheet %s did not load (%d rules)", s.Href, s.Rules)
		}
		bootstrap = bootstrap || strings.Contains(s.Href, "/bootstrap.trimmed.")
	}
	if !bootstrap {
		t.Errorf("the page links no bootstrap.trimmed.css: %+v", styles.Sheets)
	}
	want, err := cssRGB(styles.Primary)
	if err != nil {
		t.Fatalf("Bootstrap's --bs-btn-bg of .btn-primary: %v", err)
	}
	if styles.ButtonBg != want {
		t.Errorf(".btn-primary has background %s, want Bootstrap's primary %s (%s)", styles.ButtonBg, styles.Primary, want)
	}
}

// cssRGB turns a colour #rrggbb into the rgb(r, g, b) a computed style has.
func cssRGB(hex string) (string, error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(hex, "#"), 16, 32)
	if err != nil || len(hex) != 7 || hex[0] != '#' {
		return "", fmt.Errorf("%q is not a colour #rrggbb", hex)
	}
	return fmt.Sprintf("rgb(%d, %d, %d)", v>>16, v>>8&0xff, v&0xff), nil
}

// checkIcons fails the test unless every icon on the page is drawn: an
// inline <svg class="bi"> the size of its text, showing a symbol of the
// page's sprite that has shapes in it.
func checkIcons(t *testing.T, ctx context.Context) {
	t.Helper()
	type icon struct {
		Href   string  `json:"href"`
		Shapes int     `json:"shapes"` // elements in the symbol it shows; -1: no such symbol
		Width  float64 `json:"width"`
		Font   float64 `json:"font"` // the font size around it, px
	}
	icons := evaluate[[]icon](t, ctx, `[...document.querySelectorAll("svg.bi")].map(svg => {
		const href = svg.querySelector("use")?.getAttribute("href") ?? "";
		const symbol = href.startsWith("#") ? document.getElementById(href.slice(1)) : null;
		return {
			href,
			shapes: symbol?.localName === "symbol" ? symbol.childElementCount : -1,
			width: svg.getBoundingClientRect().width,
			font: parseFloat(getComputedStyle(svg).fontSize),
		};
	})`)
	if len(icons) == 0 {
		t.Fatal("the page shows no icon")
	}
	for _, ic := range icons {
		if ic.Shapes <= 0 || ic.Width <= 0 || ic.Width != ic.Font {
			t.Errorf("icon %+v: want a symbol of the sprite with shapes, as wide as its text is high", ic)
		}
	}
}

// evaluate returns the value of the JavaScript expression in the page.
func evaluate[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// saveScreenshot saves a PNG of the whole page as name in
// TASKLIST_SCREENSHOT_DIR, or in a temporary directory.
func saveScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("TASKLIST_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	img, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if _, err := png.DecodeConfig(bytes.NewReader(img)); err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// cspReporter runs in every page before the page's own content, and writes
// each securitypolicyviolation event to the console as an error.
const cspReporter = `document.addEventListener("securitypolicyviolation",
	e => console.error("securitypolicyviolation: " + e.effectiveDirective + " blocked " + e.blockedURI + " in " + e.documentURI),
	true);`

// consoleLog collects, in order, what the tab's pages write to the console,
// the browser's own log for them (where Chromium reports CSP violations and
// failed loads) and their uncaught exceptions. It is safe for concurrent use.
type consoleLog struct {
	mu   sync.Mutex
	msgs []chromedp.ConsoleMessage
	grew chan struct{} // closed, and replaced, when msgs grows
}

// watchConsole starts collecting the console of the tab of ctx, from the
// next page on, and reports every CSP violation of those pages there too.
func watchConsole(t *testing.T, ctx context.Context) *consoleLog {
	t.Helper()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: cspReporter}); err != nil {
		t.Fatalf("installing the CSP violation reporter: %v", err)
	}
	l := &consoleLog{grew: make(chan struct{})}
	messages := chromedp.Console(ctx)
	go func() { // ends when the browser's context does
		for m, err := range messages {
			if err != nil {
				return
			}
			l.mu.Lock()
			l.msgs = append(l.msgs, m)
			close(l.grew)
			l.grew = make(chan struct{})
			l.mu.Unlock()
		}
	}()
	return l
}

// waitFor waits until ok holds for the messages so far, and returns them.
func (l *consoleLog) waitFor(ctx context.Context, ok func([]chromedp.ConsoleMessage) bool) ([]chromedp.ConsoleMessage, error) {
	for {
		l.mu.Lock()
		msgs, grew := l.msgs, l.grew
		l.mu.Unlock()
		if ok(msgs) {
			return msgs, nil
		}
		select {
		case <-grew:
		case <-ctx.Done():
			return msgs, ctx.Err()
		}
	}
}

// checkClean makes the page break its CSP once on purpose, with a fetch
// that connect-src forbids, and waits until both the browser's log and the
// page's securitypolicyviolation reporter have told of it. That shows that
// both work, and, as messages arrive in order, that everything the earlier
// pages logged has arrived. It then fails the test for every error,
// exception or violation but that one, and logs the other messages.
func (l *consoleLog) checkClean(t *testing.T, ctx context.Context) {
	t.Helper()
	const canary = "/csp-canary-"
	evaluate[chromedp.Void](t, ctx, `void fetch("`+canary+`" + Date.now()).catch(() => {})`)
	wctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	msgs, err := l.waitFor(wctx, func(msgs []chromedp.ConsoleMessage) bool {
		var logged, reported bool
		for _, m := range msgs {
			if strings.Contains(m.Text, canary) {
				logged = logged || (m.Source != "" && m.Type == chromedp.ConsoleError)
				reported = reported || strings.HasPrefix(m.Text, "securitypolicyviolation: ")
			}
		}
		return logged && reported
	})
	if err != nil {
		t.Fatalf("a deliberate CSP violation (fetch %s…) was not both logged by the browser and reported by a securitypolicyviolation event (%v); the console had:\n%s",
			canary, err, formatConsole(msgs))
	}
	var bad []chromedp.ConsoleMessage
	for _, m := range msgs {
		switch {
		case strings.Contains(m.Text, canary):
		case m.Type == chromedp.ConsoleError || m.IsException() || strings.HasPrefix(m.Text, "securitypolicyviolation: "):
			bad = append(bad, m)
		default:
			t.Logf("console: %s", formatConsole([]chromedp.ConsoleMessage{m}))
		}
	}
	if len(bad) > 0 {
		t.Errorf("the pages logged errors or broke their Content Security Policy:\n%s", formatConsole(bad))
	}
}

// formatConsole lists messages one a line, with where they came from.
func formatConsole(msgs []chromedp.ConsoleMessage) string {
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "\t%s", m)
		if m.Source != "" {
			fmt.Fprintf(&b, " [browser log: %s]", m.Source)
		}
		if m.URL != "" {
			fmt.Fprintf(&b, " (%s:%d)", m.URL, m.Line+1)
		}
		b.WriteByte('\n')
	}
	if b.Len() == 0 {
		return "\t(nothing)\n"
	}
	return b.String()
}
