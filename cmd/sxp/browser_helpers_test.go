package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The helpers every browser test shares: browser starts Chromium,
// testOutput names the screenshots' folder, and a tab drives one page,
// failing the test on any error.

// chromiumPath is Debian's chromium, installed by deploy/test.
const chromiumPath = "/usr/bin/chromium"

// testOutput is the folder for this test's screenshots: $SXP_TEST_OUTPUT,
// or testout/ at the top of the repository (ignored by git).
func testOutput(t *testing.T, sub string) string {
	t.Helper()
	dir := os.Getenv("SXP_TEST_OUTPUT")
	if dir == "" {
		dir = filepath.Join("..", "..", "testout")
	}
	dir = filepath.Join(dir, sub)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dir)
	return abs
}

// browser starts headless Chromium with a fresh profile; it fails the test
// when Chromium is missing.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("chromium not found at %s (Debian package chromium; deploy/test installs it): %v", chromiumPath, err)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// tab is one headless Chromium tab of a test; out is where its screenshots go.
type tab struct {
	t   *testing.T
	ctx context.Context
	out string
}

// newTab starts Chromium for t, saving screenshots in testOutput(t, sub).
func newTab(t *testing.T, sub string) tab {
	t.Helper()
	ctx := browser(t)
	return tab{t: t, ctx: ctx, out: testOutput(t, sub)}
}

// shot saves a screenshot of the whole page as out/name.png.
func (b tab) shot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.out, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// open goes to u and waits until the CSS selector ready is visible.
func (b tab) open(u, ready string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(u), chromedp.WaitVisible(chromedp.CSS(ready))); err != nil {
		b.t.Fatalf("open %s (waiting for %s): %v", u, ready, err)
	}
}

// page is the text of the whole page.
func (b tab) page() string {
	b.t.Helper()
	// "" while the page reloads itself (a page that refreshes, such as the
	// deals page while a round runs, has no body for a moment).
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		if b.ctx.Err() != nil {
			b.t.Fatal(err)
		}
		return "" // the document went away under the evaluation
	}
	return s
}

// textOf is the text of the first element sel selects, "" when there is none.
func (b tab) textOf(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(document.querySelector(`+quoteJS(sel)+`) || {innerText: ""}).innerText`))
	if err != nil {
		b.t.Fatal(err)
	}
	return s
}

// set sets the value of the form field sel.
func (b tab) set(sel, v string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.SetValue(chromedp.CSS(sel), v)); err != nil {
		b.t.Fatalf("fill %s: %v", sel, err)
	}
}

// click clicks button, waits for the response, then until ready is visible.
func (b tab) click(button, ready string) {
	b.t.Helper()
	if _, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(button))); err != nil {
		b.t.Fatalf("click %s: %v", button, err)
	}
	if err := chromedp.Do(b.ctx, chromedp.WaitVisible(chromedp.CSS(ready))); err != nil {
		b.t.Fatalf("after %s, waiting for %s: %v", button, ready, err)
	}
}

// fill sets the fields (selector to value), then clicks button and waits
// until ready is visible.
func (b tab) fill(fields map[string]string, button, ready string) {
	b.t.Helper()
	for sel, v := range fields {
		b.set(sel, v)
	}
	b.click(button, ready)
}

// logIn logs user in on base's log-in page and waits for the navigation bar.
func (b tab) logIn(base, user, password string) {
	b.t.Helper()
	b.open(base+"/login", "#username")
	b.fill(map[string]string{"#username": user, "#password": password}, "form button", "nav")
}

// quoteJS writes s as a JavaScript string literal.
func quoteJS(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
