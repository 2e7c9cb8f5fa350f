package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sxp-network/sxp/cmd/sxp/sxptest"
)

// TestDealsPageInBrowser: a real community server; its admin opens Admin →
// Deals in headless Chromium, presses "Run a round", and the page shows the
// round (started by the admin) until it says what it proposed; a second
// round from the command line prints its phases on standard error and
// finds nothing, which the page lists too. Screenshots in testout/deals-page.
func TestDealsPageInBrowser(t *testing.T) {
	bin := sxptest.BuildSXP(t)
	s := startCommunities(t, bin, []fedCommunity{{"leaf", "Leaf Valley", "LEAF"}}, func(*fedServer) []string {
		return []string{"--registration", "open",
			"--arbiter-url", "http://127.0.0.1:9", "--arbiter-key", "P0g2SeRwo9JsQga1SUHhiP7HkBd/cxf+VLWmOp23i90="} // a pinned arbiter (never called here)
	})[0]
	sxp := func(args ...string) string {
		t.Helper()
		return sxptest.Run(t, bin, sxptest.WithoutSettings(), append(args, s.args...)...)
	}
	alice, bob := register(t, s.base, "alice"), register(t, s.base, "bob")
	register(t, s.base, "root")
	sxp("members", "make-admin", "root")
	offer := func(token, title string) string {
		t.Helper()
		st, out := apiJSON(t, s.base, "POST", "/api/v1/announcements", token, map[string]any{"kind": "offer", "title": title, "category": "goods"})
		if st != 201 {
			t.Fatalf("offer %q: %d %v", title, st, out)
		}
		return fmt.Sprint(int64(out["id"].(float64)))
	}
	bike, lamp := offer(alice, "Bike"), offer(bob, "Lamp")
	for _, w := range [][3]string{{alice, bike, lamp}, {bob, lamp, bike}} {
		if st, out := apiJSON(t, s.base, "PUT", "/api/v1/wantlists/"+w[1], w[0], map[string]any{"accepts": []string{w[2]}}); st != 200 {
			t.Fatalf("want list: %d %v", st, out)
		}
	}

	b := newTab(t, "deals-page")
	ctx := b.ctx
	shot, text := b.shot, b.page
	waitText := func(what string) string {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			if p := text(); strings.Contains(p, what) {
				return p
			} else if time.Now().After(deadline) {
				t.Fatalf("the page never said %q; it says:\n%s", what, p)
			}
		}
	}
	b.open(s.base+"/login", "#username")
	b.set("#username", "root")
	b.set("#password", fedPassword)
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS("form button"))); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(s.base+"/admin/members"), chromedp.WaitVisible(chromedp.CSS(`a[href="/admin/deals"]`))); err != nil {
		t.Fatalf("the admin pages link to Deals: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`a[href="/admin/deals"]`)), chromedp.WaitVisible(chromedp.CSS(`form[action="/admin/deals/round"] button`))); err != nil {
		t.Fatal(err)
	}
	if p := text(); !strings.Contains(p, "Run a round") || !strings.Contains(p, "No rounds yet.") {
		t.Errorf("the deals page before a round:\n%s", p)
	}
	shot("deals-before")
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`form[action="/admin/deals/round"] button`))); err != nil {
		t.Fatal(err)
	}
	p := waitText("1 loop, 2 trades, from 2 want lists")
	if !strings.Contains(p, "admin root") || !strings.Contains(p, "alice@leaf gives Bike to bob@leaf") {
		t.Errorf("the deals page after the round:\n%s", p)
	}
	shot("deals-after-round")

	code, stdout, stderr := sxptest.Exec(t, bin, sxptest.WithoutSettings(), "", append([]string{"deals", "round"}, s.args...)...)
	if code != 0 || !strings.Contains(stdout, "no loops found") ||
		!strings.Contains(stderr, "round 2: gather\nround 2: solve: 0 want lists\nround 2: done: found nothing\n") {
		t.Fatalf("sxp deals round: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	b.open(s.base+"/admin/deals", "#rounds")
	if p := text(); !strings.Contains(p, "found nothing in 0 want lists") || !strings.Contains(p, "command") {
		t.Errorf("the deals page after a command's round:\n%s", p)
	}
	shot("deals-rounds")
}
