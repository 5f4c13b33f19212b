package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// BrowserTimeout bounds everything a test does with the browser Browser
// starts: when it runs out, the browser is stopped and every later action
// fails.
const BrowserTimeout = 60 * time.Second

// browserWindow is the size of the headless window, which is the viewport
// that pages are laid out in and that screenshots show.
const browserWindow = "1280,800"

// Browser starts a headless Chromium for the test and returns a chromedp
// context for its first tab; the browser is already running when Browser
// returns. The browser is TASKLIST_TEST_CHROMIUM, or "chromium" on PATH;
// when there is none, the test is skipped (failed under CI=true).
//
// The browser has its own fresh profile in a temporary directory, never
// talks to the network by itself (no sync, updates or background requests,
// no proxy) and runs without the sandbox and the GPU, so it works as root
// in a container. Everything is bounded by BrowserTimeout, and the browser
// is closed and its profile removed when the test ends; on a failed test
// the browser's own output is logged.
//
// The returned context belongs to the test's goroutine; derive a shorter
// timeout from it to bound one action.
func Browser(t testing.TB) context.Context {
	t.Helper()
	exe, err := chromiumPath()
	if err != nil {
		Unavailable(t, "Chromium", fmt.Sprintf("%v; install Debian's chromium, or set TASKLIST_TEST_CHROMIUM to a Chromium or Chrome binary", err))
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("window-size", browserWindow),
	)
	// No UserDataDir option: chromedp then makes a fresh temporary profile
	// for this browser, and removes it (retrying while Chromium's helper
	// processes let go of it) once the browser has exited.
	var out LockedBuffer
	opts = append(opts, chromedp.CombinedOutput(&out))

	// The browser's life is bound to the context of its first Run, so that
	// context is the bounded one.
	bounded, cancelTimeout := context.WithTimeout(context.Background(), BrowserTimeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(bounded, opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		// Close the browser gracefully, then make sure the process is gone
		// and its profile removed.
		closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := chromedp.Cancel(closeCtx); err != nil && bounded.Err() == nil {
			t.Logf("closing Chromium: %v", err)
		}
		cancel()
		cancelTab()
		cancelAlloc()
		cancelTimeout()
		if t.Failed() {
			t.Logf("Chromium output (%s):\n%s", exe, tail(&out, 8<<10))
		}
	})

	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium %s: %v\n%s", exe, err, tail(&out, 8<<10))
	}
	return ctx
}

// chromiumPath returns the browser to run: TASKLIST_TEST_CHROMIUM (a path,
// or a name looked up on PATH), else chromium on PATH.
func chromiumPath() (string, error) {
	name := os.Getenv("TASKLIST_TEST_CHROMIUM")
	if name == "" {
		name = "chromium"
	}
	return exec.LookPath(name)
}

// tail returns at most the last n bytes written, less the lines about
// D-Bus, which Chromium prints by the dozen in a container without one.
func tail(b *LockedBuffer, n int) string {
	var kept []string
	for line := range strings.Lines(b.String()) {
		if !strings.Contains(line, "dbus/") {
			kept = append(kept, line)
		}
	}
	s := strings.Join(kept, "")
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}
