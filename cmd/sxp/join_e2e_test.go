package main

// Joining a circle with no key copied by hand (issue 16), end to end with
// real processes: a fresh community server (oak) asks from its admin page,
// the circle's admin approves in headless Chromium, oak's server opens the
// credentials sealed to it and its first intertrades go both ways. A refused
// request and tampered requests (a bad signature, an altered key) change
// nothing in the circle.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
	"github.com/sxp-network/sxp/cmd/sxp/sxptest"
	"github.com/sxp-network/sxp/migrations/pgtest"
)

// joinPage drives one headless Chromium tab and saves screenshots; its
// shot, open and submit are the shared tab's (browser_helpers_test.go).
type joinPage struct {
	t   *testing.T
	ctx context.Context
	out string
}

func (p joinPage) shot(name string) { p.t.Helper(); tab(p).shot(name) }

func (p joinPage) open(u, ready string) { p.t.Helper(); tab(p).open(u, ready) }

func (p joinPage) submit(button, ready string) { p.t.Helper(); tab(p).click(button, ready) }

func (p joinPage) fill(fields ...string) {
	p.t.Helper()
	for i := 0; i+1 < len(fields); i += 2 {
		if err := chromedp.Do(p.ctx, chromedp.Clear(chromedp.CSS(fields[i])), chromedp.SendKeys(chromedp.CSS(fields[i]), fields[i+1])); err != nil {
			p.t.Fatalf("fill %s: %v", fields[i], err)
		}
	}
}

func (p joinPage) text(sel string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// joinSigner is a would-be community of the test's own making: its Ed25519
// key, and the request it sends.
type joinSigner struct {
	priv ed25519.PrivateKey
	req  cxp.JoinRequest
}

func newJoinSigner(t *testing.T, id, base string) joinSigner {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	boxPub, _, err := cxp.NewBoxKey()
	if err != nil {
		t.Fatal(err)
	}
	return joinSigner{priv: priv, req: cxp.JoinRequest{ID: id, Name: strings.ToUpper(id[:1]) + id[1:] + " Town", Currency: "ELM",
		Divisions: 2, BaseURL: base, Rate: "1", KeyID: base + "#k1", PublicKey: base64.StdEncoding.EncodeToString(pub),
		BoxKey: base64.StdEncoding.EncodeToString(boxPub[:])}}
}

// send signs body with the signer's key and sends it; tamper, when set,
// changes the request after it was signed.
func (s joinSigner) send(t *testing.T, method, url string, body []byte, tamper func(*http.Request) []byte) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(body) == 0 {
		req.Body, req.ContentLength = nil, 0
	}
	sg := httpsig.Signer{KeyID: s.req.KeyID, Alg: httpsig.AlgEd25519, Ed25519Key: s.priv, Label: cxp.JoinLabel}
	if err := sg.Sign(req, body); err != nil {
		t.Fatal(err)
	}
	if tamper != nil {
		b := tamper(req)
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: not JSON (%d): %s", method, url, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

func (s joinSigner) body(t *testing.T, r cxp.JoinRequest) []byte {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// circleRows counts what a join request may change in the circle.
type circleRows struct{ communities, joins, keys, accounts int }

func countCircle(t *testing.T, db *pgxpool.Pool) circleRows {
	t.Helper()
	var r circleRows
	err := db.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM clearing_communities), (SELECT count(*) FROM clearing_join_requests),
		(SELECT count(*) FROM clearing_keys), (SELECT count(*) FROM ledger_accounts)`).Scan(&r.communities, &r.joins, &r.keys, &r.accounts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestJoinCircleEndToEnd(t *testing.T) {
	c := startCircle(t)
	ctx := context.Background()
	before := countCircle(t, c.clearingDB)
	if before.communities != 2 || before.joins != 0 {
		t.Fatalf("the circle before: %+v, want 2 communities and no request to join", before)
	}

	// Tampered requests are refused with 401 and change nothing.
	elm := newJoinSigner(t, "elm", "http://127.0.0.1:9")
	joinURL := c.clearing + "/join/v1/requests"
	body := elm.body(t, elm.req)
	other := newJoinSigner(t, "elm", "http://127.0.0.1:9")
	for _, tc := range []struct {
		name   string
		tamper func(*http.Request) []byte
	}{
		{"body changed after signing", func(*http.Request) []byte {
			r := elm.req
			r.Name = "Evil Town"
			return elm.body(t, r)
		}},
		{"altered key (another public key, digest fixed)", func(req *http.Request) []byte {
			r := elm.req
			r.PublicKey = other.req.PublicKey
			b := elm.body(t, r)
			req.Header.Set("Content-Digest", httpsig.ContentDigest(b))
			return b
		}},
		{"altered delivery key (digest fixed)", func(req *http.Request) []byte {
			r := elm.req
			r.BoxKey = other.req.BoxKey
			b := elm.body(t, r)
			req.Header.Set("Content-Digest", httpsig.ContentDigest(b))
			return b
		}},
		{"unsigned", func(req *http.Request) []byte {
			req.Header.Del("Signature")
			req.Header.Del("Signature-Input")
			return body
		}},
	} {
		st, out := elm.send(t, "POST", joinURL, body, tc.tamper)
		if st != http.StatusUnauthorized {
			t.Errorf("%s: got %d %v, want 401", tc.name, st, out)
		}
	}
	// Signed by another key than the one it carries.
	forged := other
	forged.req = elm.req
	if st, out := forged.send(t, "POST", joinURL, body, nil); st != http.StatusUnauthorized {
		t.Errorf("signed by another key than the request's: got %d %v, want 401", st, out)
	}
	if got := countCircle(t, c.clearingDB); got != before {
		t.Fatalf("after tampered requests: %+v, want %+v", got, before)
	}

	// A well-signed request is pending; its repeat is the same request; a
	// different one for the same id is a conflict.
	st, out := elm.send(t, "POST", joinURL, body, nil)
	if st != http.StatusAccepted || out["state"] != "pending" {
		t.Fatalf("elm's request: got %d %v, want 202 pending", st, out)
	}
	elmID := int64(out["request"].(float64))
	if st, again := elm.send(t, "POST", joinURL, body, nil); st != http.StatusOK || int64(again["request"].(float64)) != elmID {
		t.Errorf("elm's repeat: got %d %v, want 200 request %d", st, again, elmID)
	}
	impostor := newJoinSigner(t, "elm", "http://127.0.0.1:9")
	if st, out := impostor.send(t, "POST", joinURL, impostor.body(t, impostor.req), nil); st != http.StatusConflict {
		t.Errorf("another key asking as elm while elm's request waits: got %d %v, want 409", st, out)
	}
	// A poll signed by another key learns nothing.
	pollURL := fmt.Sprintf("%s/join/v1/requests/%d", c.clearing, elmID)
	if st, out := other.send(t, "GET", pollURL, nil, nil); st != http.StatusUnauthorized {
		t.Errorf("poll signed by another key: got %d %v, want 401", st, out)
	}

	// A fresh community server, oak, alone: no circle setting at all.
	oakDB := pgtest.NewDatabase(t)
	oakPort := sxptest.FreePort(t)
	oak := fmt.Sprintf("http://127.0.0.1:%d", oakPort)
	oakArgs := []string{"--database", oakDB, "--community-id", "oak", "--community-name", "Oak Town", "--currency", "OAK",
		"--public-url", oak, "--default-min", "-100", "--default-max", "1000", "--federation-secret", "oak federation secret"}
	startOak := func() *sxptest.Process {
		p := startSXP(t, c.bin, "oak", append([]string{"community", "--listen", fmt.Sprintf("127.0.0.1:%d", oakPort),
			"--handshake-interval", "1h"}, oakArgs...)...)
		p.WaitReady(oak+"/readyz", readyWithin)
		return p
	}
	oakProc := startOak()
	c.sxp(e2ePassword+"\n", append([]string{"members", "add", "olga", "--password-stdin", "--admin", "--name", "Olga Admin"}, oakArgs...)...)
	olive := c.member(oak, "olive")
	oakPool, err := pgxpool.New(ctx, oakDB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(oakPool.Close)
	if st, out := c.pay(oak, olive, "bob@leaf", "1.00", "alone"); st/100 == 2 {
		t.Fatalf("a payment from oak while alone: got %d %v, want a refusal", st, out)
	}

	// The admin API says what the page does.
	olga := c.login(oak, "olga")
	if st, out := c.api(oak, "GET", "/api/v1/admin/intertrade/join", olga, nil); st != 200 || out["state"] != "none" {
		t.Errorf("oak's join state before asking: got %d %v, want none", st, out)
	}
	if st, out := c.api(oak, "POST", "/api/v1/admin/intertrade/join", olga, map[string]string{"circle_url": c.clearing, "rate": "-1"}); st != 400 ||
		itErrorOf(out)["field"] != "rate" {
		t.Errorf("asking at rate -1 through the API: got %d %v, want 400 naming rate", st, out)
	}
	if st, out := c.api(oak, "POST", "/api/v1/admin/intertrade/join", olive, map[string]string{"circle_url": c.clearing, "rate": "1"}); st != 403 {
		t.Errorf("a member asking to join: got %d %v, want 403", st, out)
	}

	out2 := testOutput(t, "join")
	oakTab := joinPage{t: t, ctx: browser(t), out: out2}
	circleTab := joinPage{t: t, ctx: browser(t), out: out2}

	// Oak's admin asks to join from the intertrading page.
	oakTab.open(oak+"/login", "#username")
	oakTab.fill("#username", "olga", "#password", e2ePassword)
	oakTab.submit(`form[action="/login"] button`, "body")
	oakTab.open(oak+"/admin/intertrade", "#join-form")
	oakTab.shot("oak-alone")
	oakTab.fill("#circle_url", "ftp://circle.example.org", "#join_rate", "0.5")
	oakTab.submit("#join", `div[role="alert"]`)
	if got := oakTab.text(`div[role="alert"]`); !strings.HasPrefix(got, "Circle's address:") {
		t.Errorf("a bad circle address: got %q, want it to name the circle's address", got)
	}
	oakTab.shot("oak-join-bad-address")
	oakTab.fill("#circle_url", c.clearing, "#join_rate", "0.5", "#join_message", "Oak Town's time bank, 40 members")
	oakTab.submit("#join", `#join-state[data-state="pending"]`)
	oakTab.shot("oak-join-pending")
	fingerprint := oakTab.text("#fingerprint")
	if st, out := c.api(oak, "GET", "/api/v1/admin/intertrade/join", olga, nil); st != 200 || out["state"] != "pending" || out["key_fingerprint"] != fingerprint {
		t.Errorf("oak's join state after asking: got %d %v, want pending with fingerprint %s", st, out, fingerprint)
	}

	// The circle's admin sees it, with the same fingerprint, and refuses elm first.
	circleTab.open(c.clearing+"/admin/joins", "#token")
	circleTab.fill("#token", c.adminToken)
	circleTab.submit("#login", `[data-join="oak"]`)
	circleTab.shot("circle-joins-pending")
	if got := circleTab.text("#pending-joins"); got != "2" {
		t.Errorf("the menu's count of waiting requests: got %q, want 2 (elm and oak)", got)
	}
	if got := circleTab.text(`[data-join="oak"] [data-field="fingerprint"]`); got != fingerprint || len(fingerprint) != 16 {
		t.Errorf("oak's key fingerprint on the circle's page: got %q, oak's page shows %q", got, fingerprint)
	}
	if got := circleTab.text(`[data-join="oak"] [data-field="declared"]`); got != "0.5 VAL per unit" {
		t.Errorf("oak's declared rate: got %q, want 0.5 VAL per unit", got)
	}
	circleTab.fill(`[data-join="elm"] .reason`, "we do not know this community")
	circleTab.submit(`[data-join="elm"] .refuse`, "#confirm")
	circleTab.shot("circle-refuse-confirm")
	circleTab.submit("#confirm", ".notice")
	circleTab.shot("circle-refused")
	if st, out := elm.send(t, "GET", pollURL, nil, nil); st != http.StatusOK || out["state"] != "refused" ||
		out["reason"] != "we do not know this community" || out["credentials"] != nil {
		t.Errorf("elm's poll after the refusal: got %d %v, want refused with the reason and no credentials", st, out)
	}
	afterRefusal := countCircle(t, c.clearingDB)
	if want := (circleRows{before.communities, before.joins + 2, before.keys, before.accounts}); afterRefusal != want {
		t.Errorf("after refusing elm (oak's request waits): %+v, want %+v", afterRefusal, want)
	}

	// Approving with a bad limit names the field; then approve with a rate
	// and limits.
	circleTab.fill(`[data-join="oak"] .min`, "lots", `[data-join="oak"] .max`, "500")
	circleTab.submit(`[data-join="oak"] .approve`, "#error")
	if got := circleTab.text("#error"); !strings.Contains(got, "Lower limit must be") {
		t.Errorf("approving with a bad lower limit: got %q, want it to name the lower limit", got)
	}
	circleTab.shot("circle-approve-bad-limit")
	circleTab.fill(`[data-join="oak"] .min`, "-500", `[data-join="oak"] .max`, "500")
	circleTab.submit(`[data-join="oak"] .approve`, "#confirm")
	circleTab.shot("circle-approve-confirm")
	if got := circleTab.text("#summary"); !strings.Contains(got, "lists this key in its /.well-known/sxp (checked now)") {
		t.Errorf("approval confirmation: got %q, want it to say oak's server lists the key", got)
	}
	if got := countCircle(t, c.clearingDB); got != afterRefusal {
		t.Fatalf("before confirming the approval: %+v, want %+v", got, afterRefusal)
	}
	circleTab.submit("#confirm", ".notice")
	circleTab.shot("circle-approved")
	var ticks string
	var vcMin, vcMax int64
	if err := c.clearingDB.QueryRow(ctx, `SELECT c.ticks::text, a.min_balance, a.max_balance FROM clearing_communities c
		JOIN ledger_accounts a ON a.id = c.account_id WHERE c.id = 'oak' AND c.uri = $1`, oak).Scan(&ticks, &vcMin, &vcMax); err != nil {
		t.Fatalf("oak in the circle: %v", err)
	}
	if ticks != "0.5" || vcMin != -50000 || vcMax != 50000 {
		t.Errorf("oak in the circle: rate %s, limits %d..%d; want 0.5, -50000..50000", ticks, vcMin, vcMax)
	}
	var actions []string
	rows, err := c.clearingDB.Query(ctx, `SELECT action FROM clearing_audit WHERE action LIKE 'join.%' OR subject = 'oak' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a string
		rows.Scan(&a)
		actions = append(actions, a)
	}
	rows.Close()
	if got := strings.Join(actions, ","); got != "join.refuse,community.add,join.approve" {
		t.Errorf("audit log: got %s, want join.refuse,community.add,join.approve", got)
	}

	// Oak asks for the answer: intertrading starts without a restart.
	oakTab.submit("#join-check", ".notice")
	oakTab.shot("oak-joined")
	if got := oakTab.text("main"); !strings.Contains(got, "valley at "+c.clearing) {
		t.Errorf("oak's intertrading page after joining does not name the circle:\n%s", got)
	}
	if st, out := c.api(oak, "GET", "/api/v1/admin/intertrade/join", olga, nil); st != 200 || out["state"] != "joined" || out["circle_id"] != "valley" || out["rate"] != "0.5" {
		t.Errorf("oak's join state after joining: got %d %v, want joined valley at 0.5", st, out)
	}
	if st, out := c.api(oak, "POST", "/api/v1/admin/intertrade/join", olga, map[string]string{"circle_url": c.clearing, "rate": "1"}); st != 409 {
		t.Errorf("asking again once joined: got %d %v, want 409", st, out)
	}
	var keySealed, boxSealed bool
	var state string
	if err := oakPool.QueryRow(ctx, `SELECT state, key_sealed, box_sealed FROM circle_joins ORDER BY id DESC LIMIT 1`).Scan(&state, &keySealed, &boxSealed); err != nil {
		t.Fatal(err)
	}
	if state != "joined" || !keySealed || !boxSealed {
		t.Errorf("oak's join row: state %s, key sealed %v, box key sealed %v; want joined, true, true", state, keySealed, boxSealed)
	}

	// The first intertrades: oak → leaf and leaf → oak.
	bobTok := c.member(c.leaf, "bob")
	if st, out := c.pay(oak, olive, "bob@leaf", "10.00", "first"); st/100 != 2 {
		t.Fatalf("oak's first intertrade: got %d %v", st, out)
	}
	alice := c.member(c.leaf, "alice")
	if st, out := c.pay(c.leaf, alice, "olive@oak", "1.00", "back"); st/100 != 2 {
		t.Fatalf("leaf paying olive@oak: got %d %v", st, out)
	}
	balance := func(base, token string) string {
		_, acct := c.api(base, "GET", "/api/v1/me/account", token, nil)
		s, _ := acct["balance"].(string)
		return s
	}
	// 10 OAK at 0.5 = 5 VAL = 5 LEAF; 1 LEAF = 1 VAL = 2 OAK.
	if got := balance(c.leaf, bobTok); got != "5.00" {
		t.Errorf("bob@leaf after oak's payment: got %s, want 5.00", got)
	}
	if got := balance(oak, olive); got != "-8.00" {
		t.Errorf("olive@oak: got %s, want -8.00 (paid 10, received 2)", got)
	}
	var vc int64
	if err := c.clearingDB.QueryRow(ctx, `SELECT a.balance FROM clearing_communities c JOIN ledger_accounts a ON a.id = c.account_id
		WHERE c.id = 'oak'`).Scan(&vc); err != nil || vc != -400 {
		t.Errorf("oak's virtual customer: got %d (%v), want -400 (-5.00 + 1.00 VAL)", vc, err)
	}

	// Restarted, oak is still in the circle: its sealed key opens.
	oakProc.Stop()
	startOak()
	if st, out := c.pay(oak, olive, "bob@leaf", "2.00", "after-restart"); st/100 != 2 {
		t.Fatalf("oak's intertrade after a restart: got %d %v", st, out)
	}
	if got := balance(c.leaf, bobTok); got != "6.00" {
		t.Errorf("bob@leaf after oak's second payment: got %s, want 6.00", got)
	}
	oakTab.open(oak+"/admin/intertrade", "h1")
	oakTab.shot("oak-intertrade-after-restart")

	// The refused elm is not in the circle; nothing it sent opened anything.
	var n int
	if err := c.clearingDB.QueryRow(ctx, `SELECT count(*) FROM clearing_communities WHERE id = 'elm'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("elm in the circle: %d (%v), want 0", n, err)
	}
	circleTab.open(c.clearing+"/admin/joins", "#decided")
	circleTab.shot("circle-joins-decided")
	t.Logf("screenshots in %s", out2)
}
