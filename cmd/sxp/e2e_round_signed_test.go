package main

// The end-to-end test of a round signed with no shortcut (issues 13 and
// 14): a clearing house (circle valley, serving T at /arbiter/v1) and three
// real community servers leaf, oak and pine in it, peered with each other.
// Members register, offer (pat 20 PINE) and write want lists through the
// API; 'sxp deals round' on leaf proposes the loop of three (alice@leaf's
// Bike to pat@pine, bob@oak's Canoe to alice, pat's 20.00 PINE to bob),
// naming every party's key (from the want-list events) and the circle's T;
// each accepts on their own server; the servers sign it without calling T;
// the money leg is paid once through the circle; the receivers confirm the
// items; the bundle verifies offline.

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sxp-network/sxp/cmd/sxp/sxptest"
)

func TestRoundSignedEndToEnd(t *testing.T) {
	bin := sxptest.BuildSXP(t)
	ctx := context.Background()
	cc := startContractsCircle(t, bin)
	clearingURL, clearingDB, cpool, coms := cc.clearingURL, cc.clearingDB, cc.cpool, cc.coms
	run := func(args ...string) string {
		t.Helper()
		return sxptest.RunInput(t, bin, sxptest.WithoutSettings(), "", args...)
	}
	leaf, oak, pine := coms[0], coms[1], coms[2]
	waitFor := func(what string, limit time.Duration, cond func() bool) {
		t.Helper()
		if !eventually(limit, cond) {
			t.Fatalf("gave up waiting: %s", what)
		}
	}

	// Members register, offer and say what they would take, all through the API.
	type member struct {
		c     *contractsCommunity
		name  string
		token string
	}
	alice := member{leaf, "alice", register(t, leaf.base, "alice")}
	bob := member{oak, "bob", register(t, oak.base, "bob")}
	pat := member{pine, "pat", register(t, pine.base, "pat")}
	all := []member{alice, bob, pat}
	offer := func(m member, title string, money map[string]string) string {
		t.Helper()
		return postOffer(t, m.c.base, m.token, title, money)
	}
	bike := offer(alice, "Bike", nil)
	canoe := offer(bob, "Canoe", nil)
	twenty := offer(pat, "Twenty pines", map[string]string{"value": "20", "currency": "PINE"})
	held := func(c *contractsCommunity, ids ...string) bool {
		return holdsAnnouncements(c.pool, ids...)
	}
	waitFor("every server holds its peers' offers", 30*time.Second, func() bool {
		return held(leaf, canoe, twenty) && held(oak, bike, twenty) && held(pine, bike, canoe)
	})
	wants := func(m member, offer string, accepts ...string) {
		t.Helper()
		putWants(t, m.c.base, m.token, offer, accepts...)
	}
	wants(alice, bike, canoe) // alice would take bob's canoe for her bike
	wants(bob, canoe, twenty) // bob would take pat's 20 PINE for his canoe
	wants(pat, twenty, bike)  // pat would pay 20 PINE for alice's bike
	waitFor("leaf holds the want lists of oak and pine", 30*time.Second, func() bool {
		var n int
		err := leaf.pool.QueryRow(ctx, `SELECT count(*) FROM remote_wantlists`).Scan(&n)
		return err == nil && n == 2
	})

	// The round on leaf proposes the loop of three, to every party's server.
	out := run(append([]string{"deals", "round"}, leaf.args...)...)
	t.Logf("sxp deals round on leaf:\n%s", out)
	if !strings.Contains(out, "loops: 1, trades: 3,") {
		t.Fatalf("round: got\n%s", out)
	}
	m := regexp.MustCompile(`(?m)^proposal ([0-9a-f]{64}): (.*)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("round names no proposal:\n%s", out)
	}
	h := m[1]
	keyOf := func(m member) string {
		t.Helper()
		st, out := apiJSON(t, m.c.base, "GET", "/api/v1/me/contract-key", m.token, nil)
		if st != 200 || out["key"] == "" {
			t.Fatalf("contract key of %s: %d %v", m.name, st, out)
		}
		return out["key"].(string)
	}
	_, tk := apiJSON(t, clearingURL, "GET", "/arbiter/v1/key", "", nil)
	var contract map[string]any
	for _, m := range all {
		waitFor(m.name+" sees the proposal on "+m.c.id, 30*time.Second, func() bool {
			_, out := apiJSON(t, m.c.base, "GET", "/api/v1/proposals", m.token, nil)
			list, _ := out["proposals"].([]any)
			return len(list) == 1 && list[0].(map[string]any)["h"] == h
		})
		_, out := apiJSON(t, m.c.base, "GET", "/api/v1/proposals", m.token, nil)
		contract = out["proposals"].([]any)[0].(map[string]any)["contract"].(map[string]any)
	}
	// It names each member's own key and the circle's T.
	parties := contract["parties"].([]any)
	index := map[string]int{}
	for i, p := range parties {
		p := p.(map[string]any)
		index[p["member"].(string)] = i
	}
	for _, m := range all {
		i, ok := index[m.name+"@"+m.c.id]
		if !ok {
			t.Fatalf("the proposal has no party %s@%s: %v", m.name, m.c.id, parties)
		}
		if got, want := parties[i].(map[string]any)["key"], keyOf(m); got != want {
			t.Errorf("%s's key in the proposal: got %v, want %s", m.name, got, want)
		}
	}
	if ttp := contract["ttp"].(map[string]any); ttp["url"] != clearingURL || ttp["key"] != tk["key"] {
		t.Errorf("the proposal's T: got %v, want %s with key %v", ttp, clearingURL, tk["key"])
	}
	legOf := map[string]int{} // leg index by title
	for i, l := range contract["legs"].([]any) {
		legOf[l.(map[string]any)["title"].(string)] = i
	}

	// Every party accepts on their own server; then the servers sign.
	for i, m := range all {
		want := "proposed"
		if i == len(all)-1 {
			want = "ready"
		}
		st, out := apiJSON(t, m.c.base, "POST", "/api/v1/proposals/"+h+"/accept", m.token, nil)
		if st != 200 || out["state"] != want {
			t.Fatalf("%s accepts on %s: got %d %v, want %s", m.name, m.c.id, st, out, want)
		}
	}
	stateOf := func(m member) map[string]any {
		t.Helper()
		st, out := apiJSON(t, m.c.base, "GET", "/api/v1/contracts/"+h, m.token, nil)
		if st != 200 && st != 404 {
			t.Fatalf("contract on %s: %d %v", m.c.id, st, out)
		}
		return out
	}
	if !eventually(60*time.Second, func() bool {
		for _, m := range all {
			if stateOf(m)["state"] != "signed" {
				return false
			}
		}
		return true
	}) {
		for _, m := range all {
			t.Logf("%s: %v", m.c.id, stateOf(m))
		}
		t.Fatal("the loop is not signed on all three servers")
	}

	// T was never asked: no row, no request at the clearing house, and no
	// server called it.
	var tRows, tRequests int
	if err := cpool.QueryRow(ctx, `SELECT count(*), coalesce(sum(requests), 0) FROM clearing_arbiter_contracts`).Scan(&tRows, &tRequests); err != nil ||
		tRows != 0 || tRequests != 0 {
		t.Fatalf("T: %d contracts, %d requests (%v); want 0, 0", tRows, tRequests, err)
	}
	t.Logf("T: %d contracts, %d requests", tRows, tRequests)
	cc.promisesWithoutT(t)

	// The money leg settles once through the circle: pat pays bob 20.00.
	money := legOf["Twenty pines"]
	waitFor("the money leg is paid", 60*time.Second, func() bool {
		legs, _ := stateOf(pat)["legs"].([]any)
		return len(legs) == 3 && legs[money].(map[string]any)["state"] == "paid"
	})
	balance := func(m member) string {
		_, out := apiJSON(t, m.c.base, "GET", "/api/v1/me/account", m.token, nil)
		return fmt.Sprint(out["balance"])
	}
	waitFor("bob is paid", 30*time.Second, func() bool { return balance(bob) == "20.00" })
	a, b, p := balance(alice), balance(bob), balance(pat)
	t.Logf("balances: alice %s LEAF, bob %s OAK, pat %s PINE", a, b, p)
	if a != "0.00" || b != "20.00" || p != "-20.00" {
		t.Fatalf("balances: alice %s, bob %s, pat %s; want 0.00, 20.00, -20.00", a, b, p)
	}
	var transfers int
	if err := pine.pool.QueryRow(ctx, `SELECT count(*) FROM intertrades WHERE idempotency_key = $1 AND state = 'completed'`,
		fmt.Sprintf("%s:%d", h, money)).Scan(&transfers); err != nil || transfers != 1 {
		t.Errorf("pine's completed intertrades with key h:%d: got %d (%v), want 1", money, transfers, err)
	}
	// Circle integrity: each community reconciles with the clearing house.
	cc.reconciles(t, map[string]string{"pine": "20.00", "oak": "-20.00", "leaf": "0.00"})

	// And the clearing house's own check: each community's virtual customer
	// mirrors its reported balance.
	var rep struct {
		Communities []struct {
			Community string `json:"community"`
			VC        string `json:"virtual_customer_balance"`
			OK        *bool  `json:"ok"`
		} `json:"communities"`
	}
	integrity := run("admin", "integrity", "--database", clearingDB, "--secret", e2eSecret)
	t.Logf("sxp admin integrity:\n%s", integrity)
	if err := json.Unmarshal([]byte(integrity), &rep); err != nil || len(rep.Communities) != 3 {
		t.Fatalf("admin integrity: %v\n%s", err, integrity)
	}
	for _, com := range rep.Communities {
		want := map[string]string{"leaf": "0.00", "oak": "20.00", "pine": "-20.00"}[com.Community]
		if com.VC != want || com.OK == nil || !*com.OK {
			t.Errorf("clearing integrity of %s: got %s (ok %v), want %s and ok", com.Community, com.VC, com.OK, want)
		}
	}

	// The receivers confirm their items: pat the bike, alice the canoe.
	for _, c := range []struct {
		m   member
		leg int
	}{{pat, legOf["Bike"]}, {alice, legOf["Canoe"]}} {
		st, out := apiJSON(t, c.m.c.base, "POST", fmt.Sprintf("/api/v1/contracts/%s/legs/%d/confirm", h, c.leg), c.m.token, nil)
		if st != 200 || out["legs"].([]any)[c.leg].(map[string]any)["state"] != "confirmed" {
			t.Errorf("%s confirms leg %d: got %d %v", c.m.name, c.leg, st, out)
		}
	}

	// The offers given are closed, and the next round finds nothing.
	for _, c := range []struct {
		com   *contractsCommunity
		title string
	}{{leaf, "Bike"}, {oak, "Canoe"}, {pine, "Twenty pines"}} {
		var open int
		if err := c.com.pool.QueryRow(ctx, `SELECT count(*) FROM announcements WHERE origin = 'local' AND title = $1 AND status = 'active'`,
			c.title).Scan(&open); err != nil || open != 0 {
			t.Errorf("%s's %s: %d active offers (%v), want 0", c.com.id, c.title, open, err)
		}
	}
	if out := run(append([]string{"deals", "round"}, leaf.args...)...); strings.Contains(out, "proposal ") {
		t.Errorf("a round after the loop signed: got\n%s\nwant no proposal", out)
	}

	// The bundle, downloaded, verifies offline.
	bundleVerifies(t, bin, oak.base, bob.token, h)
}
