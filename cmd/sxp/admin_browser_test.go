package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sxp-network/sxp/clearing"
	"github.com/sxp-network/sxp/server/payments"
)

// TestAdminPagesInBrowser logs in to the clearing house's and a community's
// admin pages in headless Chromium, checks the numbers they show against the
// databases, blocks a community through the pages (with confirmation), and
// saves a screenshot of every page.
func TestAdminPagesInBrowser(t *testing.T) {
	c := startCircle(t)
	b := newTab(t, "admin-pages")
	ctx, out := b.ctx, b.out
	dbctx := context.Background()

	alice := c.member(c.leaf, "alice")
	c.member(c.leaf, "bob")
	carol := c.member(c.acorn, "carol")
	if st, body := c.pay(c.leaf, alice, "bob", "12.50", "b-1"); st/100 != 2 {
		t.Fatalf("local payment: got %d %v", st, body)
	}
	for i, amount := range []string{"5.00", "7.25"} {
		if st, body := c.pay(c.leaf, alice, "carol@acorn", amount, fmt.Sprintf("b-i-%d", i)); st/100 != 2 {
			t.Fatalf("intertrade %s: got %d %v", amount, st, body)
		}
	}

	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	shot, open, submit := b.shot, b.open, b.click
	f := func(v int64) string { return clearing.FormatAmount(v, 2) }

	// The clearing house: the pages send a visitor without a session to log in.
	open(c.clearing+"/admin", "#token")
	shot("clearing-login")
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#token"), c.adminToken)); err != nil {
		t.Fatal(err)
	}
	submit("#login", "#communities")
	shot("clearing-communities")

	type vc struct {
		id, status, ticks           string
		balance, min, max, spend    int64
		earn, pendingDebit, pendCre int64
	}
	communities := func() map[string]vc {
		rows, err := c.clearingDB.Query(dbctx, `
			SELECT c.id, c.status, c.ticks::text, a.balance, a.min_balance, a.max_balance, a.pending_debits, a.pending_credits
			FROM clearing_communities c JOIN ledger_accounts a ON a.id = c.account_id ORDER BY c.id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		m := map[string]vc{}
		for rows.Next() {
			var v vc
			if err := rows.Scan(&v.id, &v.status, &v.ticks, &v.balance, &v.min, &v.max, &v.pendingDebit, &v.pendCre); err != nil {
				t.Fatal(err)
			}
			v.spend = v.balance - v.pendingDebit - v.min
			v.earn = v.max - v.balance - v.pendCre
			m[v.id] = v
		}
		return m
	}
	db := communities()
	if len(db) != 2 || db["leaf"].balance != -1225 || db["acorn"].balance != 1225 {
		t.Fatalf("clearing database: got %+v, want leaf -12.25 and acorn 12.25", db)
	}
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#communities tbody tr[data-community]').length`))
	if err != nil || n != len(db) {
		t.Errorf("community rows: got %d (%v), want %d", n, err, len(db))
	}
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('svg.limits rect.balance').length`))
	if err != nil || bars != len(db) {
		t.Errorf("balance bars: got %d (%v), want %d", bars, err, len(db))
	}
	for id, v := range db {
		for _, cell := range []struct{ field, want string }{
			{"balance", f(v.balance)}, {"min", f(v.min)}, {"max", f(v.max)}, {"spend", f(v.spend)},
			{"earn", f(v.earn)}, {"status", v.status}, {"rate", v.ticks},
		} {
			if got := text(fmt.Sprintf(`tr[data-community=%q] [data-field=%q]`, id, cell.field)); got != cell.want {
				t.Errorf("overview, %s %s: got %q, want %q", id, cell.field, got, cell.want)
			}
		}
	}

	// Readable on a phone: at 390 px wide nothing but the tables' own scroll boxes overflows.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	open(c.clearing+"/admin", "#communities")
	wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
	if err != nil || wide {
		t.Errorf("on a 390 px screen the page is wider than the screen (%v)", err)
	}
	shot("clearing-communities-phone")
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}

	// Balance of trade and the trade matrix.
	open(c.clearing+"/admin/trade", "#matrix")
	var paid int64
	if err := c.clearingDB.QueryRow(dbctx, `SELECT COALESCE(sum(quantity), 0) FROM clearing_intertrades
		WHERE status = 'posted' AND payer_community = 'leaf' AND payee_community = 'acorn'`).Scan(&paid); err != nil {
		t.Fatal(err)
	}
	for _, cell := range []struct{ sel, want string }{
		{`tr[data-payer="leaf"] td[data-payee="acorn"]`, f(paid)},
		{`tr[data-payer="acorn"] td[data-payee="leaf"]`, f(0)},
		{`#totals tr[data-community="leaf"] [data-field="paid"]`, f(paid)},
		{`#totals tr[data-community="acorn"] [data-field="received"]`, f(paid)},
	} {
		if got := text(cell.sel); got != cell.want {
			t.Errorf("trade page, %s: got %q, want %q", cell.sel, got, cell.want)
		}
	}
	if paid != 1225 {
		t.Errorf("posted leaf → acorn: got %d, want 1225", paid)
	}
	lines, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('svg.timeseries polyline.series').length`))
	if err != nil || lines != 2 {
		t.Errorf("balance lines: got %d (%v), want 2", lines, err)
	}
	shot("clearing-trade")

	// Alerts and integrity.
	open(c.clearing+"/admin/alerts", "#integrity")
	for id, v := range db {
		if got := text(fmt.Sprintf(`#integrity tr[data-community=%q] [data-field="balance"]`, id)); got != f(v.balance) {
			t.Errorf("alerts page, %s circle balance: got %q, want %q", id, got, f(v.balance))
		}
	}
	shot("clearing-alerts")

	// Bring leaf's lower limit close to its balance through its page
	// (confirmed on a second page): monitoring then warns of it.
	open(c.clearing+"/admin/communities/leaf", "#limits")
	if err := chromedp.Do(ctx,
		chromedp.Clear(chromedp.CSS("#min")), chromedp.SendKeys(chromedp.CSS("#min"), "-13.00"),
		chromedp.Clear(chromedp.CSS("#max")), chromedp.SendKeys(chromedp.CSS("#max"), "1000.00")); err != nil {
		t.Fatal(err)
	}
	submit("#limits", "#confirm")
	shot("clearing-limits-confirm")
	if got := text("#summary"); !strings.Contains(got, "-1000.00 → -13.00") {
		t.Errorf("limits confirmation: got %q, want it to show -1000.00 → -13.00", got)
	}
	if v := communities()["leaf"]; v.min != -100000 {
		t.Fatalf("before confirming: leaf's lower limit is %d, want -100000", v.min)
	}
	submit("#confirm", ".notice")
	if v := communities()["leaf"]; v.min != -1300 || v.max != 100000 {
		t.Fatalf("after confirming: leaf's limits are %d..%d, want -1300..100000", v.min, v.max)
	}
	if got := text(`#community [data-field="min"]`); got != "-13.00" {
		t.Errorf("community page lower limit: got %q, want -13.00", got)
	}
	open(c.clearing+"/admin/alerts", "#alerts")
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#alerts tr[data-kind="near_limit"][data-community="leaf"]').length`)); err != nil || n != 1 {
		t.Errorf("near_limit alerts for leaf: got %d (%v), want 1", n, err)
	}
	shot("clearing-alerts-near-limit")
	open(c.clearing+"/admin", "#communities")
	if got, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`tr[data-community="leaf"] [data-field="balance"]`), "class")); err != nil || !strings.Contains(got.Value, "near") {
		t.Errorf("leaf's balance cell: class %q (%v), want near", got.Value, err)
	}
	shot("clearing-communities-near-limit")

	// Block acorn through its page, confirming on the second page.
	open(c.clearing+"/admin/communities/acorn", "#block")
	shot("clearing-community")
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#reason"), "unpaid circle fees")); err != nil {
		t.Fatal(err)
	}
	submit("#block", "#confirm")
	shot("clearing-block-confirm")
	var status string
	if err := c.clearingDB.QueryRow(dbctx, `SELECT status FROM clearing_communities WHERE id = 'acorn'`).Scan(&status); err != nil || status != "trading" {
		t.Fatalf("before confirming: acorn is %q (%v), want trading", status, err)
	}
	submit("#confirm", ".notice")
	shot("clearing-blocked")
	if err := c.clearingDB.QueryRow(dbctx, `SELECT status FROM clearing_communities WHERE id = 'acorn'`).Scan(&status); err != nil || status != "blocked" {
		t.Fatalf("after confirming: acorn is %q (%v), want blocked", status, err)
	}
	if got := text(`#community [data-field="status"]`); got != "blocked" {
		t.Errorf("community page status after the block: got %q, want blocked", got)
	}
	_, fams := c.scrape(c.clearing)
	if got := value(fams, "sxp_clearing_community_blocked", map[string]string{"community": "acorn"}); got != 1 {
		t.Errorf("sxp_clearing_community_blocked{community=acorn}: got %v, want 1", got)
	}
	// The circle now refuses acorn's own requests with code 16.
	if st, _ := c.pay(c.acorn, carol, "alice@leaf", "1.00", "after-block"); st/100 == 2 {
		t.Errorf("payment from blocked acorn: got %d, want a refusal", st)
	}
	var code int
	if err := c.acornDB.QueryRow(dbctx, `SELECT COALESCE(cxp_code, 0) FROM intertrades ORDER BY id DESC LIMIT 1`).Scan(&code); err != nil || code != 16 {
		t.Errorf("acorn's refused intertrade: got code %d (%v), want 16", code, err)
	}

	// The audit log shows the block.
	open(c.clearing+"/admin/audit", "#audit")
	if got := text(`#audit tbody tr:first-child [data-field="action"]`); got != "community.block" {
		t.Errorf("latest audit entry: got %q, want community.block", got)
	}
	if got := text(`#audit tbody tr:first-child [data-field="subject"]`); got != "acorn" {
		t.Errorf("latest audit entry's subject: got %q, want acorn", got)
	}
	shot("clearing-audit")

	// The community server's admin pages, as leaf's admin ada.
	open(c.leaf+"/login", "#username")
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#username"), "ada"), chromedp.SendKeys(chromedp.CSS("#password"), e2ePassword)); err != nil {
		t.Fatal(err)
	}
	submit(`form[action="/login"] button`, "body")
	open(c.leaf+"/admin/members", "table")
	cur := payments.Currency{Code: "LEAF", Divisions: 2}
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`Object.fromEntries(Array.from(document.querySelectorAll('table tr'))
		.filter(tr => tr.querySelector('strong') && tr.querySelector('td.num'))
		.map(tr => [tr.querySelector('strong').textContent.trim(), tr.querySelector('td.num').textContent.trim()]))`))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := c.leafDB.Query(dbctx, `SELECT m.username, a.balance FROM members m JOIN ledger_accounts a ON a.id = m.account_id`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for rows.Next() {
		var u string
		var b int64
		if err := rows.Scan(&u, &b); err != nil {
			t.Fatal(err)
		}
		want[u] = cur.Format(b)
	}
	rows.Close()
	if len(want) != 3 || want["alice"] != cur.Format(-2475) || want["bob"] != cur.Format(1250) {
		t.Errorf("leaf database balances: got %v, want alice -24.75, bob 12.50, ada 0", want)
	}
	for u, w := range want {
		if shown[u] != w {
			t.Errorf("members page, %s's balance: got %q, want %q", u, shown[u], w)
		}
	}
	if bars, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('svg.limits rect.balance').length`)); err != nil || bars != len(want) {
		t.Errorf("members page: got %d balance bars (%v), want %d", bars, err, len(want))
	}
	shot("community-members")

	open(c.leaf+"/admin/intertrade", "h1")
	var ie int64
	if err := c.leafDB.QueryRow(dbctx, `SELECT balance FROM ledger_accounts WHERE code = 'intertrade:import-export'`).Scan(&ie); err != nil {
		t.Fatal(err)
	}
	body := text("main")
	if !strings.Contains(body, cur.Format(ie)) || ie != 1225 {
		t.Errorf("intertrade page: the import/export balance %s (database %d) is not shown:\n%s", cur.Format(ie), ie, body)
	}
	shot("community-intertrade")
	t.Logf("screenshots in %s", out)
}

// TestAdminPagesRefuseForgedForms checks the clearing house's admin pages
// without a browser: no session → log-in page, a POST without the CSRF
// token → 403 and nothing changed, a wrong token → refused.
func TestAdminPagesRefuseForgedForms(t *testing.T) {
	c := startCircle(t)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (int, string) {
		resp, err := client.Get(c.clearing + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Location") + string(b)
	}
	post := func(path string, form url.Values) (int, string) {
		resp, err := client.PostForm(c.clearing+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Location") + string(b)
	}
	status := func() string {
		var s string
		if err := c.clearingDB.QueryRow(context.Background(), `SELECT status FROM clearing_communities WHERE id = 'leaf'`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if st, loc := get("/admin"); st != http.StatusSeeOther || !strings.HasPrefix(loc, "/admin/login") {
		t.Errorf("no session: got %d %q, want 303 to /admin/login", st, loc)
	}
	if st, _ := post("/admin/login", url.Values{"token": {"wrong"}}); st != http.StatusUnauthorized {
		t.Errorf("wrong token: got %d, want 401", st)
	}
	if st, loc := post("/admin/login", url.Values{"token": {c.adminToken}, "next": {"https://evil.example/"}}); st != http.StatusSeeOther || loc != "/admin" {
		t.Errorf("log in with an outside next: got %d %q, want 303 to /admin", st, loc)
	}
	if st, _ := get("/admin"); st != http.StatusOK {
		t.Errorf("with the session: got %d, want 200", st)
	}
	form := url.Values{"reason": {"forged"}, "confirm": {"yes"}}
	if st, _ := post("/admin/communities/leaf/block", form); st != http.StatusForbidden || status() != "trading" {
		t.Errorf("block without CSRF: got %d and leaf %s, want 403 and trading", st, status())
	}
	form.Set("csrf", strings.Repeat("0", 64))
	if st, _ := post("/admin/communities/leaf/block", form); st != http.StatusForbidden || status() != "trading" {
		t.Errorf("block with a wrong CSRF token: got %d and leaf %s, want 403 and trading", st, status())
	}
	if st, body := post("/admin/communities/leaf/limits", url.Values{"min": {"-1.234"}, "max": {"10"}}); st != http.StatusForbidden {
		t.Errorf("limits without CSRF: got %d, want 403: %s", st, body)
	}

	// With the page's CSRF token, bad limits are refused and change nothing.
	_, page := get("/admin/communities/leaf")
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]{64})"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("community page has no CSRF field:\n%s", page)
	}
	limits := func() (lo, hi int64) {
		if err := c.clearingDB.QueryRow(context.Background(), `SELECT a.min_balance, a.max_balance FROM ledger_accounts a
			JOIN clearing_communities c ON c.account_id = a.id WHERE c.id = 'leaf'`).Scan(&lo, &hi); err != nil {
			t.Fatal(err)
		}
		return lo, hi
	}
	for _, tt := range []struct{ name, min, max string }{
		{"three decimals", "-1.234", "10"},
		{"not a number", "minus ten", "10"},
		{"lower limit above zero", "5", "10"},
	} {
		st, _ := post("/admin/communities/leaf/limits", url.Values{"csrf": {m[1]}, "min": {tt.min}, "max": {tt.max}, "confirm": {"yes"}})
		if lo, hi := limits(); st != http.StatusBadRequest || lo != -100000 || hi != 100000 {
			t.Errorf("limits %s: got %d and limits %d..%d, want 400 and -100000..100000", tt.name, st, lo, hi)
		}
	}
	// Without confirm=yes a valid change only asks for confirmation.
	if st, body := post("/admin/communities/leaf/limits", url.Values{"csrf": {m[1]}, "min": {"-500"}, "max": {"500"}}); st != http.StatusOK || !strings.Contains(body, `id="confirm"`) {
		t.Errorf("limits without confirmation: got %d, want 200 with a confirm button", st)
	}
	if lo, hi := limits(); lo != -100000 || hi != 100000 {
		t.Errorf("limits before confirming: got %d..%d, want unchanged", lo, hi)
	}
	if st, loc := post("/admin/communities/leaf/limits", url.Values{"csrf": {m[1]}, "min": {"-500"}, "max": {"500"}, "confirm": {"yes"}}); st != http.StatusSeeOther {
		t.Errorf("confirmed limits: got %d %q, want 303", st, loc)
	}
	if lo, hi := limits(); lo != -50000 || hi != 50000 {
		t.Errorf("limits after confirming: got %d..%d, want -50000..50000", lo, hi)
	}
}
