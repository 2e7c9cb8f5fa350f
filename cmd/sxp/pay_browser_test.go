package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestPayAndMemberAdminInBrowser walks issue 16's additions in headless
// Chromium on a real circle (leaf at rate 1, acorn at rate 2): gwen@leaf
// pays dmitri@acorn through the review step (the quote in ACORN), confirms
// three times at once (one payment), and reads the receipt's two amounts;
// ada, leaf's admin, sets newcomers' limits, works on a member's page
// (limits, role, block, unblock, password reset, unlock, audit); a newcomer
// registers under those limits and ada approves her. It saves a screenshot
// of every page.
func TestPayAndMemberAdminInBrowser(t *testing.T) {
	c := startCircle(t)
	b := newTab(t, "pay-review")
	ctx := b.ctx

	c.member(c.leaf, "gwen")
	dmitri := c.member(c.acorn, "dmitri")

	shot, open, text, fill := b.shot, b.open, b.textOf, b.fill
	logIn := func(base, user string) {
		t.Helper()
		b.logIn(base, user, e2ePassword)
	}
	logOut := func() {
		t.Helper()
		fill(nil, `form[action="/logout"] button`, "#username")
	}
	balance := func(base, token string) string {
		t.Helper()
		st, body := c.api(base, "GET", "/api/v1/me/account", token, nil)
		if st != 200 {
			t.Fatalf("account: got %d %v", st, body)
		}
		return body["balance"].(string)
	}

	// gwen reviews a payment of 10.00 LEAF to dmitri@acorn: 10 VAL, 5.00 ACORN.
	logIn(c.leaf, "gwen")
	open(c.leaf+"/pay", "#to")
	fill(map[string]string{"#to": "dmitri@acorn", "#amount": "10.00", "#description": "apples"}, "#review", "#confirm")
	if got := text("#review-received"); !strings.Contains(got, "5.00 ACORN") || !strings.Contains(got, "10.00 base units") || !strings.Contains(got, "toward zero") {
		t.Errorf("review, they receive: got %q, want 5.00 ACORN from 10.00 base units, rounded toward zero", got)
	}
	if got := text("#review-community"); !strings.Contains(got, "Acorn Hill") {
		t.Errorf("review, community: got %q, want Acorn Hill", got)
	}
	if got := text("#review-sent"); got != "10.00 LEAF" {
		t.Errorf("review, you pay: got %q, want 10.00 LEAF", got)
	}
	shot("1-review-other-community")
	if got := balance(c.acorn, dmitri); got != "0.00" {
		t.Fatalf("dmitri after the review: got %s, want 0.00 (nothing sent)", got)
	}
	// A double (triple) submit: the form posted twice by script, then clicked.
	twice := `(async () => { const f = new URLSearchParams(new FormData(document.getElementById('confirm-form')));
		const a = await Promise.all([fetch('/pay', {method: 'POST', body: f}), fetch('/pay', {method: 'POST', body: f})]);
		return a.map(r => r.status).join(','); })()`
	if st, err := chromedp.Run(ctx, chromedp.Evaluate[string](twice, chromedp.EvalAwaitPromise)); err != nil || st != "200,200" {
		t.Fatalf("two confirms at once: got %q (%v), want 200,200", st, err)
	}
	fill(nil, "#confirm", "#receipt")
	if sent, got := text("#receipt-sent"), text("#receipt-received"); sent != "10.00 LEAF" || !strings.Contains(got, "5.00 ACORN") {
		t.Errorf("receipt: sent %q, received %q; want 10.00 LEAF and 5.00 ACORN", sent, got)
	}
	shot("2-receipt-both-amounts")
	if got := balance(c.acorn, dmitri); got != "5.00" {
		t.Errorf("dmitri after three confirms: got %s, want 5.00 (paid once)", got)
	}
	if got := balance(c.leaf, c.login(c.leaf, "gwen")); got != "-10.00" {
		t.Errorf("gwen after three confirms: got %s, want -10.00 (paid once)", got)
	}
	logOut()

	// ada gives newcomers 0..500 LEAF until approved.
	logIn(c.leaf, "ada")
	open(c.leaf+"/admin/members", "#newcomer_min")
	fill(map[string]string{"#newcomer_min": "0", "#newcomer_max": "500"}, "#set-newcomer", ".notice")
	if got := text("#newcomer-now"); !strings.Contains(got, "0.00 to 500.00 LEAF until you approve them") {
		t.Errorf("newcomer limits: got %q", got)
	}
	shot("3-admin-newcomer-limits")

	// ada's page of gwen: statement, limits, role, block, unblock.
	open(c.leaf+"/admin/members/gwen", "#member-name")
	if got := text("#member-statement"); !strings.Contains(got, "dmitri@acorn") || !strings.Contains(got, "-10.00") {
		t.Errorf("gwen's statement on her admin page: got %q", got)
	}
	shot("4-admin-member-page")
	fill(map[string]string{"#min": "-50", "#max": "400"}, "#set-limits", ".notice")
	if got := text("#member-account"); !strings.Contains(got, "limits -50.00 to 400.00 LEAF") {
		t.Errorf("after setting limits: got %q", got)
	}
	fill(map[string]string{"#role": "admin"}, "#set-role", ".notice")
	if got := text("#member-state"); !strings.Contains(got, "role: admin") {
		t.Errorf("after making gwen an admin: got %q", got)
	}
	fill(map[string]string{"#role": "member"}, "#set-role", ".notice")
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.confirm = () => true; true`)); err != nil {
		t.Fatal(err)
	}
	fill(nil, "#block", "#unblock")
	if got := text("#member-state"); !strings.Contains(got, "Status: blocked") {
		t.Errorf("after blocking: got %q", got)
	}
	shot("5-admin-member-blocked")
	fill(nil, "#unblock", "#block")
	// gwen locks herself out; ada unlocks her and resets her password.
	for range 10 {
		c.api(c.leaf, "POST", "/api/v1/session", "", map[string]string{"username": "gwen", "password": "not her password"})
	}
	if st, _ := c.api(c.leaf, "POST", "/api/v1/session", "", map[string]string{"username": "gwen", "password": e2ePassword}); st != 429 {
		t.Errorf("gwen after 10 wrong passwords: got %d, want 429", st)
	}
	open(c.leaf+"/admin/members/gwen", "#unlock")
	if got := text("#unlock"); !regexp.MustCompile(`\(\d+ failed attempts\)`).MatchString(got) {
		t.Errorf("unlock button: got %q, want the failed attempts", got)
	}
	fill(nil, "#unlock", ".notice")
	if st, _ := c.api(c.leaf, "POST", "/api/v1/session", "", map[string]string{"username": "gwen", "password": e2ePassword}); st != 201 {
		t.Errorf("gwen after unlock: got %d, want 201", st)
	}
	fill(nil, "#reset-password", "#temp-password")
	m := regexp.MustCompile(`([A-Za-z0-9]{16}) — shown once`).FindStringSubmatch(text("#temp-password"))
	if m == nil {
		t.Fatalf("no temporary password in %q", text("#temp-password"))
	}
	shot("6-admin-member-temp-password")
	if st, _ := c.api(c.leaf, "POST", "/api/v1/session", "", map[string]string{"username": "gwen", "password": m[1]}); st != 201 {
		t.Errorf("gwen with the temporary password: got %d, want 201", st)
	}
	audit := text("#member-audit")
	for _, want := range []string{"limits -50.00 to 400.00 LEAF", "role admin", "role member", "block", "unblock", "unlock", "temporary password made"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit log: got %q, want %q", audit, want)
		}
	}
	shot("7-admin-member-audit")
	logOut()

	// A newcomer registers under the newcomers' limits, then ada approves her.
	open(c.leaf+"/register", "#password2")
	if got := text("#new-limits"); !strings.Contains(got, "New members can receive payments and spend what they have received; spending on credit is enabled once an organiser approves you.") {
		t.Errorf("registration page: got %q", got)
	}
	shot("8-register-newcomer")
	fill(map[string]string{"#username": "hana", "#display_name": "Hana", "#password": e2ePassword, "#password2": e2ePassword}, "form button", ".notice")
	hana := c.login(c.leaf, "hana")
	if st, body := c.pay(c.leaf, hana, "gwen", "1.00", "hana-1"); st != 422 {
		t.Errorf("a newcomer spends on credit: got %d %v, want 422", st, body)
	}
	logOut()
	logIn(c.leaf, "ada")
	open(c.leaf+"/admin/members/hana", "#approve")
	shot("9-admin-newcomer-before-approval")
	fill(nil, "#approve", ".notice")
	if got := text("#member-account"); !strings.Contains(got, "limits -100.00 to 1000.00 LEAF") {
		t.Errorf("hana after approval: got %q, want the default limits", got)
	}
	shot("10-admin-newcomer-approved")
	if st, body := c.pay(c.leaf, hana, "gwen", "1.00", "hana-2"); st != 201 {
		t.Errorf("approved hana spends on credit: got %d %v, want 201", st, body)
	}
}
