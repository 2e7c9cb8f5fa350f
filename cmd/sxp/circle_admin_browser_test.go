package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestCircleAdminFormsInBrowser adds a community and changes and approves
// rates on the clearing house's pages in headless Chromium, as `sxp admin
// community add` and `sxp admin rate set|approve` do: bad input is refused
// with the field named in words and changes nothing, each change is
// confirmed on a second page, written and audited.
func TestCircleAdminFormsInBrowser(t *testing.T) {
	c := startCircle(t)
	ctx := context.Background()
	p := joinPage{t: t, ctx: browser(t), out: testOutput(t, "circle-admin-forms")}
	count := func(sql string, args ...any) int {
		t.Helper()
		var n int
		if err := c.clearingDB.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	p.open(c.clearing+"/admin", "#token")
	p.fill("#token", c.adminToken)
	p.submit("#login", "#communities")
	p.submit("#new-community", "#add-community")
	p.shot("add-community-form")

	// Bad input: each refusal names its field in words; nothing is written.
	good := map[string]string{"#id": "pine", "#name": "Pine Ridge", "#uri": "http://127.0.0.1:9", "#rate": "0.8", "#min": "-300", "#max": "300"}
	for _, tc := range []struct{ field, value, want string }{
		{"#name", " ", "Name must not be empty"},
		{"#uri", "pine.example.org", "Server address must be"},
		{"#rate", "-1", "Rate must be a number above 0"},
		{"#rate", "one", "Rate must be a number above 0"},
		{"#min", "12", "Lower limit must be zero or a negative amount of VAL"},
		{"#max", "1.001", "Upper limit must be zero or a positive amount of VAL (at most 2 decimal places)"},
		{"#id", "leaf", "Community id: community leaf exists already"},
	} {
		var fields []string
		for k, v := range good {
			if k == tc.field {
				v = tc.value
			}
			fields = append(fields, k, v)
		}
		p.fill(fields...)
		if tc.field == "#id" { // an id in use is found by the domain, after the confirmation
			p.submit("#add", "#confirm")
			p.submit("#confirm", "#error")
		} else {
			p.submit("#add", "#error")
		}
		if got := p.text("#error"); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s = %q: got %q, want it to start %q", tc.field, tc.value, got, tc.want)
		}
	}
	p.shot("add-community-refused")
	if n := count(`SELECT count(*) FROM clearing_communities`); n != 2 {
		t.Fatalf("after refused forms: %d communities, want 2", n)
	}
	if kept, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.querySelector('#name').value`)); err != nil || kept != "Pine Ridge" {
		t.Errorf("the form keeps what was typed: name %q (%v), want Pine Ridge", kept, err)
	}

	// Add pine: confirm, then its key is shown once.
	var fields []string
	for k, v := range good {
		fields = append(fields, k, v)
	}
	p.fill(fields...)
	p.submit("#add", "#confirm")
	p.shot("add-community-confirm")
	if got := p.text("#summary"); !strings.Contains(got, "Limits: -300.00 to 300.00 VAL") || !strings.Contains(got, "= 0.8 VAL") {
		t.Errorf("confirmation: got %q, want the limits and rate", got)
	}
	if n := count(`SELECT count(*) FROM clearing_communities WHERE id = 'pine'`); n != 0 {
		t.Fatalf("pine before confirming: %d rows, want 0", n)
	}
	p.submit("#confirm", "#key")
	p.shot("add-community-key")
	key := p.text("#key")
	sum := sha256.Sum256([]byte(key))
	if n := count(`SELECT count(*) FROM clearing_keys WHERE community_id = 'pine' AND fingerprint = $1`, hex.EncodeToString(sum[:8])); n != 1 || len(key) < 40 {
		t.Errorf("pine's key on the page (%d characters) matches %d stored keys, want 1", len(key), n)
	}
	var ticks string
	var lo, hi int64
	if err := c.clearingDB.QueryRow(ctx, `SELECT c.ticks::text, a.min_balance, a.max_balance FROM clearing_communities c
		JOIN ledger_accounts a ON a.id = c.account_id WHERE c.id = 'pine'`).Scan(&ticks, &lo, &hi); err != nil {
		t.Fatal(err)
	}
	if ticks != "0.8" || lo != -30000 || hi != 30000 {
		t.Errorf("pine: rate %s, limits %d..%d; want 0.8, -30000..30000", ticks, lo, hi)
	}

	// Limits: a positive lower limit is refused in words.
	p.open(c.clearing+"/admin/communities/leaf", "#limits")
	p.fill("#min", "5")
	p.submit("#limits", "#error")
	if got := p.text("#error"); !strings.HasPrefix(got, "Lower limit must be zero or a negative amount of VAL") {
		t.Errorf("lower limit 5: got %q", got)
	}
	p.shot("limits-refused")

	// Rates: a bad rate is refused in words; a new one is confirmed and written.
	p.open(c.clearing+"/admin/communities/leaf", "#set-rate")
	p.fill("#rate", "0")
	p.submit("#set-rate", "#error")
	if got := p.text("#error"); !strings.HasPrefix(got, "Rate must be a number above 0") {
		t.Errorf("rate 0: got %q", got)
	}
	p.shot("rate-refused")
	p.fill("#rate", "1.25")
	p.submit("#set-rate", "#confirm")
	if got := p.text("#summary"); !strings.Contains(got, "Rate: 1 → 1.25 VAL") {
		t.Errorf("rate confirmation: got %q, want Rate: 1 → 1.25 VAL", got)
	}
	p.shot("rate-confirm")
	p.submit("#confirm", ".notice")
	if got := p.text(`#rates [data-field="ticks"]`); got != "1.25" {
		t.Errorf("leaf's rate on its page: got %q, want 1.25", got)
	}

	// Leaf still declares 1 at its handshakes (every 2 s): the declared
	// rate waits for approval, which the page offers.
	deadline := time.Now().Add(30 * time.Second)
	for count(`SELECT count(*) FROM clearing_communities WHERE id = 'leaf' AND declared_ticks = 1`) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("leaf's declared rate 1 did not arrive within 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.open(c.clearing+"/admin/communities/leaf", "#approve-rate")
	p.shot("rate-declared")
	if got := p.text(`#rates [data-field="declared"]`); got != "1" {
		t.Errorf("leaf's declared rate on its page: got %q, want 1", got)
	}
	p.submit("#approve-rate", "#confirm")
	p.shot("rate-approve-confirm")
	p.submit("#confirm", ".notice")
	p.shot("rate-approved")
	if n := count(`SELECT count(*) FROM clearing_communities WHERE id = 'leaf' AND ticks = 1 AND declared_ticks IS NULL`); n != 1 {
		t.Errorf("leaf after approving: want rate 1 and nothing declared")
	}
	var sources []string
	rows, err := c.clearingDB.Query(ctx, `SELECT source || ':' || ticks::text FROM clearing_rates WHERE community_id = 'leaf' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		sources = append(sources, s)
	}
	rows.Close()
	if got := strings.Join(sources, ","); got != "created:1,admin:1.25,approved:1" {
		t.Errorf("leaf's rate history: got %s, want created:1,admin:1.25,approved:1", got)
	}
	if n := count(`SELECT count(*) FROM clearing_audit WHERE actor = 'admin' AND
		((action = 'community.add' AND subject = 'pine') OR (action = 'community.rate' AND subject = 'leaf'))`); n != 3 {
		t.Errorf("audit entries by the page's admin: got %d, want 3 (pine added, leaf's rate twice)", n)
	}
}
