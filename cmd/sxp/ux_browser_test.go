package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestNewUserInBrowser walks what a new user met, in headless Chromium: the
// clearing house's own URL, a log-in as member@community, the payee's
// statement naming the payer as member@community, joining a community, a
// form error in words, a blocked community named to the payer and listed
// on the circle's Alerts page. It saves a screenshot of every page.
func TestNewUserInBrowser(t *testing.T) {
	c := startCircle(t)
	b := newTab(t, "new-user")
	ctx := b.ctx

	gwen := c.member(c.leaf, "gwen")
	c.member(c.acorn, "dmitri")
	if st, body := c.pay(c.leaf, gwen, "dmitri@acorn", "10.00", "ux-1"); st/100 != 2 {
		t.Fatalf("intertrade: got %d %v", st, body)
	}
	shot, open, page, fill := b.shot, b.open, b.page, b.fill

	// The clearing house's URL, as deploy/run prints it: a page, not JSON.
	open(c.clearing+"/", "#admin")
	if p := page(); !strings.Contains(p, "Valley circle") || strings.Contains(p, "no route") {
		t.Errorf("clearing landing page: got %q, want the circle's name and a link to /admin", p)
	}
	shot("clearing-landing")

	// dmitri logs in as dmitri@acorn and sees gwen@leaf of Leaf Valley, not a URL.
	open(c.acorn+"/login", "#username")
	shot("acorn-login")
	fill(map[string]string{"#username": "dmitri@acorn", "#password": e2ePassword}, "form button", "nav")
	home := page()
	if !strings.Contains(home, "gwen@leaf") || !strings.Contains(home, "Leaf Valley") || strings.Contains(home, "http://") {
		t.Errorf("dmitri's home: got %q, want gwen@leaf (Leaf Valley) and no URL", home)
	}
	shot("acorn-home-counterparty")
	open(c.acorn+"/statement", "table")
	if st := page(); !strings.Contains(st, "gwen@leaf") || strings.Contains(st, "http://") {
		t.Errorf("dmitri's statement: got %q, want gwen@leaf and no URL", st)
	}
	shot("acorn-statement-counterparty")

	// Joining leaf logs the new member in.
	open(c.leaf+"/register", "#password2")
	fill(map[string]string{"#username": "hana", "#display_name": "Hana", "#password": e2ePassword, "#password2": e2ePassword}, "form button", ".notice")
	if p := page(); !strings.Contains(p, "Welcome, Hana! You are a member of Leaf Valley.") || !strings.Contains(p, "0.00 LEAF") {
		t.Errorf("after joining: got %q, want hana's home with a welcome", p)
	}
	shot("leaf-joined")

	// A form error names its field in words (the browser's own checks off).
	open(c.leaf+"/offers/new", "#title")
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelectorAll('[required]').forEach(e => e.removeAttribute('required')); true`)); err != nil {
		t.Fatal(err)
	}
	fill(nil, `form[action="/offers/new"] button`, ".error") // the title is left empty
	if p := page(); !strings.Contains(p, "Title must not be empty") {
		t.Errorf("empty title: got %q, want \"Title must not be empty\"", p)
	}
	shot("leaf-offer-error")

	// The circle blocks acorn: gwen's payment names acorn; the Alerts page lists it.
	if st, body := c.api(c.clearing, "POST", "/admin/api/communities/acorn/block", c.adminToken, map[string]string{"reason": "fees unpaid"}); st != 200 {
		t.Fatalf("block acorn: got %d %v", st, body)
	}
	st, body := c.pay(c.leaf, gwen, "dmitri@acorn", "1.00", "ux-2")
	e, _ := body["error"].(map[string]any)
	if reason, _ := e["message"].(string); st != 422 || !strings.Contains(reason, "Acorn Hill (acorn)") || strings.Contains(reason, "our community") {
		t.Errorf("paying into blocked acorn: got %d %v, want a refusal naming Acorn Hill (acorn)", st, body)
	}
	open(c.clearing+"/admin/alerts", "#token")
	fill(map[string]string{"#token": c.adminToken}, "#login", "#alerts")
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#alerts tr[data-kind="blocked"][data-community="acorn"]').length`))
	if err != nil || n != 1 {
		t.Errorf("blocked alerts for acorn: got %d (%v), want 1", n, err)
	}
	if p := page(); !strings.Contains(p, "fees unpaid") {
		t.Errorf("alerts page: got %q, want the block's reason", p)
	}
	shot("clearing-alerts-blocked")
}
