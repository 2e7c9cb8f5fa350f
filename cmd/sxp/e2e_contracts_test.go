package main

// The end-to-end test of signed contracts (issue 14): a clearing house
// (circle valley, serving T at /arbiter/v1) and three real community
// servers leaf, oak and pine in it, peered with each other. The loop of
// three (alice@leaf gives a Bike to pat@pine, bob@oak a Canoe to alice,
// pat pays 20.00 PINE to bob) is signed by the three servers without
// calling T, the money leg is paid once through the circle, the items are
// confirmed, and the bundle verifies offline. A second loop with pine's
// server stopped: leaf and oak time out, T aborts, nothing settles; pine
// comes back, asks T and agrees. Pat asks T to abort and goes on: T
// overturns. Pine stops after round 2: T resolves, pine learns it.
//
// Every party's key is filled in: the test reads each member's contract key
// (GET /api/v1/me/contract-key) and stores the proposals directly, ready,
// on the three servers, so that each conflict starts from a known state;
// TestRoundSignedEndToEnd goes the whole way from want lists and a round.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
	"github.com/sxp-network/sxp/cmd/sxp/sxptest"
)

func TestContractsEndToEnd(t *testing.T) {
	bin := sxptest.BuildSXP(t)
	ctx := context.Background()
	cc := startContractsCircle(t, bin)
	clearingURL, cpool, coms, start := cc.clearingURL, cc.cpool, cc.coms, cc.start
	leaf, oak, pine := coms[0], coms[1], coms[2]
	alice, bob, pat := register(t, leaf.base, "alice"), register(t, oak.base, "bob"), register(t, pine.base, "pat")
	offer := func(c *contractsCommunity, token, title string, money map[string]string) string {
		t.Helper()
		return postOffer(t, c.base, token, title, money)
	}
	bike := offer(leaf, alice, "Bike", nil)
	canoe := offer(oak, bob, "Canoe", nil)
	twenty := offer(pine, pat, "Twenty pines", map[string]string{"value": "20", "currency": "PINE"})

	// Each member's contract key, made at registration and held (sealed)
	// by their server.
	keyOf := func(c *contractsCommunity, token string) string {
		t.Helper()
		st, out := apiJSON(t, c.base, "GET", "/api/v1/me/contract-key", token, nil)
		if st != 200 || out["key"] == "" {
			t.Fatalf("contract key: %d %v", st, out)
		}
		return out["key"].(string)
	}
	keys := map[string]string{"alice": keyOf(leaf, alice), "bob": keyOf(oak, bob), "pat": keyOf(pine, pat)}
	_, out := apiJSON(t, clearingURL, "GET", "/arbiter/v1/key", "", nil)
	ttp := map[string]any{"url": clearingURL, "key": out["key"]}

	// propose stores the loop, every party having accepted, on the three servers.
	var lastRaw []byte // the JSON of the last contract proposed
	propose := func(nonce string, timeout int) string {
		t.Helper()
		party := func(name string, c *contractsCommunity) map[string]any {
			return map[string]any{"member": name + "@" + c.id, "server": c.base, "key": keys[name]}
		}
		now := time.Now().UTC()
		c := map[string]any{"type": "sxp-contract/1", "id": "6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b", "proposer": leaf.base,
			"created_at": now.Format(time.RFC3339), "deadline": now.Add(time.Hour).Format(time.RFC3339), "round_timeout_s": timeout,
			"nonce": nonce, "parties": []any{party("alice", leaf), party("bob", oak), party("pat", pine)},
			"legs": []any{
				map[string]any{"from": 0, "to": 2, "offer": bike, "title": "Bike", "money": nil},
				map[string]any{"from": 1, "to": 0, "offer": canoe, "title": "Canoe", "money": nil},
				map[string]any{"from": 2, "to": 1, "offer": twenty, "title": "Twenty pines", "money": map[string]any{"value": "20.00", "currency": "PINE"}},
			}, "ttp": ttp}
		raw, _ := json.Marshal(c)
		lastRaw = raw
		p, err := contract.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		for _, com := range coms {
			if _, err := com.pool.Exec(ctx, `INSERT INTO deal_proposals (h, contract, state, deadline) VALUES ($1, $2, 'ready', $3)`,
				p.Hash(), raw, now.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			for _, o := range []string{bike, canoe, twenty} {
				if _, err := com.pool.Exec(ctx, `INSERT INTO deal_proposal_offers (h, offer) VALUES ($1, $2)`, p.Hash(), o); err != nil {
					t.Fatal(err)
				}
			}
		}
		return p.Hash()
	}
	stateOf := func(c *contractsCommunity, token, h string) map[string]any {
		t.Helper()
		st, out := apiJSON(t, c.base, "GET", "/api/v1/contracts/"+h, token, nil)
		if st != 200 && st != 404 {
			t.Fatalf("contract %s on %s: %d %v", h[:8], c.id, st, out)
		}
		return out
	}
	waitState := func(what, h, want string, parties ...struct {
		c     *contractsCommunity
		token string
	}) {
		t.Helper()
		if !eventually(60*time.Second, func() bool {
			for _, p := range parties {
				if stateOf(p.c, p.token, h)["state"] != want {
					return false
				}
			}
			return true
		}) {
			for _, p := range parties {
				t.Logf("%s: %v", p.c.id, stateOf(p.c, p.token, h))
			}
			t.Fatalf("gave up waiting: %s", what)
		}
	}
	type party = struct {
		c     *contractsCommunity
		token string
	}
	all := []party{{leaf, alice}, {oak, bob}, {pine, pat}}

	// 1. All sign: the loop binds without T.
	h := propose("signed by all", 60)
	waitState("the loop is signed on all three servers", h, "signed", all...)
	var tRows int
	if err := cpool.QueryRow(ctx, `SELECT count(*) FROM clearing_arbiter_contracts`).Scan(&tRows); err != nil || tRows != 0 {
		t.Fatalf("T was asked about %d contracts (%v), want 0", tRows, err)
	}
	// Each server sent its member's 4 promises to the 2 others, and never
	// called T.
	cc.promisesWithoutT(t)
	// The money leg settles once through the circle: pat pays bob 20.00.
	if !eventually(60*time.Second, func() bool {
		legs, _ := stateOf(pine, pat, h)["legs"].([]any)
		return len(legs) == 3 && legs[2].(map[string]any)["state"] == "paid"
	}) {
		t.Fatalf("the money leg is not paid: %v", stateOf(pine, pat, h))
	}
	balance := func(c *contractsCommunity, token string) string {
		_, out := apiJSON(t, c.base, "GET", "/api/v1/me/account", token, nil)
		return fmt.Sprint(out["balance"])
	}
	if !eventually(30*time.Second, func() bool { return balance(oak, bob) == "20.00" }) {
		t.Fatalf("bob's balance: got %s, want 20.00", balance(oak, bob))
	}
	if a, p := balance(leaf, alice), balance(pine, pat); a != "0.00" || p != "-20.00" {
		t.Fatalf("balances: alice %s, pat %s; want 0.00, -20.00", a, p)
	}
	var transfers int
	if err := pine.pool.QueryRow(ctx, `SELECT count(*) FROM intertrades WHERE idempotency_key = $1`, h+":2").Scan(&transfers); err != nil || transfers != 1 {
		t.Errorf("pine's intertrades with key h:2: got %d (%v), want 1", transfers, err)
	}
	// Circle integrity: each side reconciles with the clearing house.
	cc.reconciles(t, map[string]string{"pine": "20.00", "oak": "-20.00", "leaf": "0.00"})
	// Items: pat confirms the bike, alice the canoe; bob cannot confirm alice's.
	if st, out := apiJSON(t, oak.base, "POST", "/api/v1/contracts/"+h+"/legs/1/confirm", bob, nil); st != 404 && st != 403 {
		t.Errorf("bob confirms alice's canoe: got %d %v, want refused", st, out)
	}
	for _, c := range []struct {
		p   party
		leg int
	}{{party{pine, pat}, 0}} {
		st, out := apiJSON(t, c.p.c.base, "POST", fmt.Sprintf("/api/v1/contracts/%s/legs/%d/confirm", h, c.leg), c.p.token, nil)
		if st != 200 || out["legs"].([]any)[c.leg].(map[string]any)["state"] != "confirmed" {
			t.Errorf("confirm leg %d on %s: got %d %v", c.leg, c.p.c.id, st, out)
		}
	}
	// Alice confirms the canoe on her contracts page, in a browser.
	contractsInBrowser(t, leaf.base, h)
	if legs := stateOf(leaf, alice, h)["legs"].([]any); legs[1].(map[string]any)["state"] != "confirmed" {
		t.Errorf("alice's canoe after the page's button: %v", legs[1])
	}
	// The offers given are closed.
	var open int
	leaf.pool.QueryRow(ctx, `SELECT count(*) FROM announcements WHERE origin = 'local' AND title = 'Bike' AND status = 'active'`).Scan(&open)
	if open != 0 {
		t.Errorf("alice's bike is still an active offer")
	}
	// The bundle, downloaded, verifies offline.
	bundleVerifies(t, bin, oak.base, bob, h)
	// Pages: bob's contracts page shows it signed, with the download link.
	if page := pageAs(t, oak.base, "/contracts", bob, nil); !strings.Contains(page, "bob@oak · signed") ||
		!strings.Contains(page, "/api/v1/contracts/"+h+"/bundle") || !strings.Contains(page, "Twenty pines (20.00 PINE) to bob@oak") {
		t.Errorf("bob's contracts page:\n%s", page)
	}

	// 2. Pine's server is stopped before the second loop is ready: leaf and
	// oak never hold M[1], time out, ask T at level 0: aborted. Nothing
	// settles. Pine comes back, times out in its turn, asks T and agrees.
	pine.proc.Stop()
	h2 := propose("pine is down", 3)
	waitState("leaf and oak end aborted", h2, "aborted", party{leaf, alice}, party{oak, bob})
	start(pine)
	waitState("pine, back, ends aborted", h2, "aborted", party{pine, pat})
	var decision string
	var requests int
	if err := cpool.QueryRow(ctx, `SELECT decision, requests FROM clearing_arbiter_contracts WHERE hash = $1`, h2).Scan(&decision, &requests); err != nil ||
		decision != "aborted" || requests != 3 {
		t.Errorf("T's row: got %s after %d requests (%v), want aborted after 3", decision, requests, err)
	}
	for _, p := range all {
		out := stateOf(p.c, p.token, h2)
		for _, l := range out["legs"].([]any) {
			if s := l.(map[string]any)["state"]; s != nil && s != "" {
				t.Errorf("%s: a leg of the aborted loop is %v", p.c.id, s)
			}
		}
	}
	if b, p := balance(oak, bob), balance(pine, pat); b != "20.00" || p != "-20.00" {
		t.Errorf("after the aborted loop: bob %s, pat %s; want 20.00, -20.00 (unchanged)", b, p)
	}

	// 3. Pat registers his own key and signs with 'sxp contract sign': his
	// server waits for each of his promises; the loop is signed, T never
	// asked, and the second 20.00 is paid.
	ownSeed := bytes.Repeat([]byte{7}, ed25519.SeedSize)
	own := ed25519.NewKeyFromSeed(ownSeed)
	if st, out := apiJSON(t, pine.base, "PUT", "/api/v1/me/contract-key", pat, map[string]string{
		"key": contract.EncodeKey(own.Public().(ed25519.PublicKey))}); st != 200 {
		t.Fatalf("pat's public key: %d %v", st, out)
	}
	keys["pat"] = contract.EncodeKey(own.Public().(ed25519.PublicKey))
	keyFile := filepath.Join(t.TempDir(), "pat.key")
	if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(ownSeed)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h3 := propose("pat signs himself", 60)
	if !eventually(30*time.Second, func() bool {
		needs, _ := stateOf(pine, pat, h3)["needs"].(map[string]any)
		return needs != nil && needs["round"] == float64(1)
	}) {
		t.Fatalf("pine does not ask pat for round 1: %v", stateOf(pine, pat, h3))
	}
	code, stdout, stderr := sxptest.Exec(t, bin, sxptest.WithoutSettings(), "n\n", "contract", "sign", "--key", keyFile,
		"--server", pine.base, "--token", pat, h3)
	if code != 1 || !strings.Contains(stdout, "Sign this contract? [y/N]") || !strings.Contains(stdout, "not signed") {
		t.Errorf("sxp contract sign, declined: got %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = sxptest.Exec(t, bin, sxptest.WithoutSettings(), "y\n", "contract", "sign", "--key", keyFile,
		"--server", pine.base, "--token", pat, "--poll", "200ms", "--wait", "60s", h3)
	t.Logf("sxp contract sign:\n%s%s", stdout, stderr)
	if code != 0 || !strings.Contains(stdout, "round 4: promise sent") || !strings.HasSuffix(stdout, "signed\n") {
		t.Fatalf("sxp contract sign: got %d\n%s\n%s", code, stdout, stderr)
	}
	waitState("the third loop is signed on all three servers", h3, "signed", all...)
	if err := cpool.QueryRow(ctx, `SELECT count(*) FROM clearing_arbiter_contracts WHERE hash = $1`, h3).Scan(&tRows); err != nil || tRows != 0 {
		t.Errorf("T was asked about the third loop (%d, %v)", tRows, err)
	}
	if !eventually(30*time.Second, func() bool { return balance(oak, bob) == "40.00" && balance(pine, pat) == "-40.00" }) {
		t.Errorf("after the third loop: bob %s, pat %s; want 40.00, -40.00", balance(oak, bob), balance(pine, pat))
	}

	// 4. Pat asks T to abort at once (level 0: aborted), then goes on and
	// signs rounds 1 and 2, and stops. Alice and bob reach round 3, time out
	// (3 s) and ask T at level 2 with M[2]: it shows pat went on after asking,
	// so T drops him from S and overturns: resolved. Pine learns it from T;
	// the money leg is paid once.
	h4 := propose("pat aborts and goes on", 3)
	raw4 := lastRaw
	st, ans := apiJSON(t, clearingURL, "POST", "/arbiter/v1/resolve", "", map[string]any{"contract": json.RawMessage(raw4),
		"party": 2, "level": 0, "evidence": []string{}, "request": contract.Sign(own, contract.ResolveMessage(h4, 0))})
	if st != 200 || ans["decision"] != "aborted" {
		t.Fatalf("pat asks T to abort: got %d %v", st, ans)
	}
	for r := 1; r <= 2; r++ {
		if !eventually(30*time.Second, func() bool {
			needs, _ := stateOf(pine, pat, h4)["needs"].(map[string]any)
			return needs != nil && needs["round"] == float64(r)
		}) {
			t.Fatalf("pine does not ask pat for round %d: %v", r, stateOf(pine, pat, h4))
		}
		if st, out := apiJSON(t, pine.base, "POST", "/api/v1/contracts/"+h4+"/promises", pat,
			map[string]any{"round": r, "sig": contract.Sign(own, contract.PromiseMessage(h4, r))}); st != 200 {
			t.Fatalf("pat's promise of round %d: %d %v", r, st, out)
		}
	}
	waitState("T overturns: the fourth loop is signed on all three servers", h4, "signed", all...)
	if err := cpool.QueryRow(ctx, `SELECT decision, requests FROM clearing_arbiter_contracts WHERE hash = $1`, h4).Scan(&decision, &requests); err != nil ||
		decision != "resolved" {
		t.Errorf("T's row: got %s after %d requests (%v), want resolved", decision, requests, err)
	}
	t.Logf("the fourth loop: T %s after %d requests", decision, requests)
	if !eventually(30*time.Second, func() bool { return balance(oak, bob) == "60.00" && balance(pine, pat) == "-60.00" }) {
		t.Errorf("after the fourth loop: bob %s, pat %s; want 60.00, -60.00", balance(oak, bob), balance(pine, pat))
	}
	var paid int
	if err := pine.pool.QueryRow(ctx, `SELECT count(*) FROM intertrades WHERE idempotency_key = $1 AND state = 'completed'`, h4+":2").Scan(&paid); err != nil || paid != 1 {
		t.Errorf("pine's completed intertrades with key h4:2: got %d (%v), want 1", paid, err)
	}

	// 5. Pine's server stops after round 2: pat signs rounds 1 and 2, leaf
	// and oak reach round 3, and pine is stopped. They time out holding
	// M[2] and ask T at level 2, which design.md's rule answers resolved
	// (none → l ≥ 1: resolved; an aborted outcome needs a request at level
	// 0, case 2 above): the loop binds and the money leg is paid once. Pine,
	// back, learns T's decision and agrees.
	h5 := propose("pine stops after round 2", 3)
	for r := 1; r <= 2; r++ {
		if !eventually(30*time.Second, func() bool {
			needs, _ := stateOf(pine, pat, h5)["needs"].(map[string]any)
			return needs != nil && needs["round"] == float64(r)
		}) {
			t.Fatalf("pine does not ask pat for round %d: %v", r, stateOf(pine, pat, h5))
		}
		if st, out := apiJSON(t, pine.base, "POST", "/api/v1/contracts/"+h5+"/promises", pat,
			map[string]any{"round": r, "sig": contract.Sign(own, contract.PromiseMessage(h5, r))}); st != 200 {
			t.Fatalf("pat's promise of round %d: %d %v", r, st, out)
		}
	}
	if !eventually(30*time.Second, func() bool {
		return stateOf(leaf, alice, h5)["round"] == float64(3) && stateOf(oak, bob, h5)["round"] == float64(3)
	}) {
		t.Fatalf("leaf and oak do not reach round 3: %v %v", stateOf(leaf, alice, h5), stateOf(oak, bob, h5))
	}
	pine.proc.Stop()
	waitState("leaf and oak resolve: signed by T's token", h5, "signed", party{leaf, alice}, party{oak, bob})
	start(pine)
	waitState("pine, back, learns it: signed", h5, "signed", party{pine, pat})
	if err := cpool.QueryRow(ctx, `SELECT decision FROM clearing_arbiter_contracts WHERE hash = $1`, h5).Scan(&decision); err != nil || decision != "resolved" {
		t.Errorf("T's decision on the fifth loop: got %s (%v), want resolved", decision, err)
	}
	if !eventually(30*time.Second, func() bool { return balance(oak, bob) == "80.00" && balance(pine, pat) == "-80.00" }) {
		t.Errorf("after the fifth loop: bob %s, pat %s; want 80.00, -80.00", balance(oak, bob), balance(pine, pat))
	}
	st, bundle5 := apiJSON(t, pine.base, "GET", "/api/v1/contracts/"+h5+"/bundle", pat, nil)
	if tok, _ := bundle5["token"].(map[string]any); st != 200 || tok["decision"] != "resolved" {
		t.Errorf("pine's bundle of the fifth loop: got %d %v, want T's resolved token", st, bundle5)
	}
}

// contractsInBrowser logs alice in on leaf in headless Chromium, opens her
// contracts page (screenshots in testout/contracts), and confirms the item
// she received (leg 1) with the page's button.
func contractsInBrowser(t *testing.T, base, h string) {
	t.Helper()
	b := newTab(t, "contracts")
	ctx := b.ctx
	shot, text := b.shot, b.page
	b.logIn(base, "alice", fedPassword)
	b.open(base+"/contracts", "main")
	page := text()
	for _, want := range []string{"alice@leaf · signed", "bob@oak gives Canoe to alice@leaf — pending", "pat@pine gives Twenty pines (20.00 PINE) to bob@oak",
		"Promises held: round 1: parties 0, 1, 2; round 2: parties 0, 1, 2; round 3: parties 0, 1, 2; round 4: parties 0, 1, 2;", "Download the contract and its proofs"} {
		if !strings.Contains(page, want) {
			t.Errorf("alice's contracts page: no %q in\n%s", want, page)
		}
	}
	shot("alice-contracts-signed")
	b.click(`form[action="/contracts/`+h+`/confirm"] button`, ".notice")
	if p := text(); !strings.Contains(p, "You confirmed that you received the item.") || !strings.Contains(p, "bob@oak gives Canoe to alice@leaf — confirmed") {
		t.Errorf("after confirming: got\n%s", p)
	}
	shot("alice-contracts-confirmed")

	// The admin's page lists every contract here.
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`nav form button`))); err != nil {
		t.Fatalf("log out: %v", err)
	}
	b.logIn(base, "ada", e2ePassword)
	b.open(base+"/admin/contracts", "section.contract")
	if p := text(); !strings.Contains(p, "Contracts") || !strings.Contains(p, "alice@leaf · signed") || strings.Contains(p, "I received it") {
		t.Errorf("ada's contracts page: got\n%s", p)
	}
	shot("admin-contracts")
}
