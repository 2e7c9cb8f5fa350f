package main

// The end-to-end test of the market (issue 13): three community servers,
// real `sxp community` processes peered A–B, B–C, A–C; want lists on all
// three make a three-party loop (one leg a money offer) and a two-party
// swap; 'sxp deals round' on A proposes exactly those two loops, and
// equals 'sxp deals solve' on 'sxp deals export'.

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sxp-network/sxp/cmd/sxp/sxptest"
)

func TestMarketEndToEnd(t *testing.T) {
	bin := sxptest.BuildSXP(t)
	servers := startCommunities(t, bin, []fedCommunity{{"leaf", "Leaf Valley", "LEAF"}, {"oak", "Oak Hill", "OAK"}, {"pine", "Pine Ridge", "PINE"}},
		func(*fedServer) []string {
			return []string{"--default-min", "-100", "--default-max", "100",
				"--registration", "open", "--federation-retry", "200ms", "--federation-timeout", "2s",
				"--arbiter-url", "http://127.0.0.1:9", "--arbiter-key", "P0g2SeRwo9JsQga1SUHhiP7HkBd/cxf+VLWmOp23i90="} // an arbiter all three trust (never called here)
		})
	a, b, c := servers[0], servers[1], servers[2]
	sxp := func(s *fedServer, args ...string) string {
		t.Helper()
		return sxptest.Run(t, bin, sxptest.WithoutSettings(), append(args, s.args...)...)
	}
	for _, pair := range [][2]*fedServer{{a, b}, {b, c}, {a, c}} {
		peerServers(t, bin, pair[0], pair[1])
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting: %s", what)
			}
		}
	}
	type member struct {
		s     *fedServer
		token string
	}
	alice, carol := member{a, register(t, a.base, "alice")}, member{a, register(t, a.base, "carol")}
	bob, dan := member{b, register(t, b.base, "bob")}, member{b, register(t, b.base, "dan")}
	pat := member{c, register(t, c.base, "pat")}
	offer := func(m member, title string, money map[string]string) string {
		t.Helper()
		return postOffer(t, m.s.base, m.token, title, money)
	}
	bike := offer(alice, "Bike", nil)
	canoe := offer(bob, "Canoe", nil)
	twenty := offer(pat, "Twenty pines", map[string]string{"value": "20", "currency": "PINE"})
	lamp := offer(carol, "Lamp", nil)
	drill := offer(dan, "Drill", nil)
	held := func(s *fedServer, ids ...string) bool {
		return holdsAnnouncements(s.pool, ids...)
	}
	waitFor("every server holds its peers' offers", func() bool {
		return held(a, canoe, twenty, drill) && held(b, bike, twenty, lamp) && held(c, bike, canoe)
	})
	wants := func(m member, offer string, accepts ...string) {
		t.Helper()
		putWants(t, m.s.base, m.token, offer, accepts...)
	}
	wants(alice, bike, canoe) // alice would take bob's canoe for her bike
	wants(bob, canoe, twenty) // bob would take pat's 20 PINE for his canoe
	wants(pat, twenty, bike)  // pat would pay 20 PINE for alice's bike
	wants(carol, lamp, drill) // carol and dan swap
	wants(dan, drill, lamp)
	waitFor("a holds the want lists of oak and pine", func() bool {
		var n int
		err := a.pool.QueryRow(context.Background(), `SELECT count(*) FROM remote_wantlists`).Scan(&n)
		return err == nil && n == 3
	})

	// The export, solved, gives what the round will propose.
	export := sxp(a, "deals", "export")
	file := filepath.Join(t.TempDir(), "market.txt")
	if err := os.WriteFile(file, []byte(export), 0o600); err != nil {
		t.Fatal(err)
	}
	solved := sxptest.Run(t, bin, sxptest.WithoutSettings(), "deals", "solve", "--max-loop", "6", file)
	if !strings.Contains(solved, "TRADE LOOPS (5 total trades):") {
		t.Fatalf("solve of the export:\n%s\nexport:\n%s", solved, export)
	}
	out := sxp(a, "deals", "round")
	t.Logf("sxp deals round on leaf:\n%s", out)
	if !strings.Contains(out, "want lists: 5\n") || !strings.Contains(out, "loops: 2, trades: 5,") {
		t.Fatalf("round: got\n%s", out)
	}
	var legs []string
	for _, m := range regexp.MustCompile(`(?m)^proposal [0-9a-f]{64}: (.*)$`).FindAllStringSubmatch(out, -1) {
		legs = append(legs, strings.Split(m[1], "; ")...)
	}
	slices.Sort(legs)
	want := []string{"alice@leaf gives Bike to pat@pine", "bob@oak gives Canoe to alice@leaf", "carol@leaf gives Lamp to dan@oak",
		"dan@oak gives Drill to carol@leaf", "pat@pine gives Twenty pines (20.00 PINE) to bob@oak"}
	if !slices.Equal(legs, want) {
		t.Fatalf("legs: got %q, want %q", legs, want)
	}
	// The same trades as the solve: each leg's item names appear in its loops.
	for _, item := range []string{"leaf-", "oak-", "pine-"} {
		if !strings.Contains(solved, item) {
			t.Errorf("solve names no %s item", item)
		}
	}
	// Each party sees its proposal on its own server.
	for _, m := range []struct {
		who  member
		name string
		legs int
	}{{alice, "alice", 3}, {carol, "carol", 2}, {bob, "bob", 3}, {dan, "dan", 2}, {pat, "pat", 3}} {
		st, out := apiJSON(t, m.who.s.base, "GET", "/api/v1/proposals", m.who.token, nil)
		list, _ := out["proposals"].([]any)
		if st != 200 || len(list) != 1 {
			t.Fatalf("%s's proposals on %s: got %d %v, want 1", m.name, m.who.s.id, st, out)
		}
		p := list[0].(map[string]any)
		if legs := p["contract"].(map[string]any)["legs"].([]any); len(legs) != m.legs || p["state"] != "proposed" {
			t.Errorf("%s's proposal: got %v, want %d legs, proposed", m.name, p, m.legs)
		}
	}
	if out := sxp(a, "deals", "round"); !strings.Contains(out, "no loops found") {
		t.Errorf("second round: got\n%s\nwant no loops (the offers are held)", out)
	}

	// All accept the loop of three: ready on every server. Dan declines the
	// swap: it ends for carol too, and its offers are free again.
	hOf := func(m member) map[int]string {
		_, out := apiJSON(t, m.s.base, "GET", "/api/v1/proposals", m.token, nil)
		got := map[int]string{}
		for _, p := range out["proposals"].([]any) {
			p := p.(map[string]any)
			got[len(p["contract"].(map[string]any)["legs"].([]any))] = p["h"].(string)
		}
		return got
	}
	loop, swap := hOf(alice)[3], hOf(carol)[2]
	if page := pageAs(t, b.base, "/proposals", bob.token, nil); !strings.Contains(page, "bob@oak gives Canoe to alice@leaf") ||
		!strings.Contains(page, "pat@pine gives Twenty pines (20.00 PINE) to bob@oak") || !strings.Contains(page, `/proposals/`+hOf(bob)[3]+`/accept`) {
		t.Errorf("bob's proposals page on oak:\n%s", page)
	}
	answer := func(m member, h, what string, state string) {
		t.Helper()
		st, out := apiJSON(t, m.s.base, "POST", "/api/v1/proposals/"+h+"/"+what, m.token, nil)
		if st != 200 || out["state"] != state {
			t.Fatalf("%s %s on %s: got %d %v, want state %s", what, h[:8], m.s.id, st, out, state)
		}
	}
	answer(alice, loop, "accept", "proposed")
	answer(bob, loop, "accept", "proposed")
	answer(pat, loop, "accept", "ready")
	stateOf := func(s *fedServer, h string) string {
		var st string
		s.pool.QueryRow(context.Background(), `SELECT state FROM deal_proposals WHERE h = $1`, h).Scan(&st)
		return st
	}
	waitFor("the loop is ready on every server", func() bool {
		return stateOf(a, loop) == "ready" && stateOf(b, loop) == "ready" && stateOf(c, loop) == "ready"
	})
	answer(dan, swap, "decline", "ended")
	waitFor("the swap ended on leaf", func() bool { return stateOf(a, swap) == "ended" })
	if st, out := apiJSON(t, a.base, "POST", "/api/v1/proposals/"+swap+"/accept", carol.token, nil); st != 409 {
		t.Errorf("carol accepts an ended proposal: got %d %v, want 409", st, out)
	}
	out = sxp(a, "deals", "round")
	if !strings.Contains(out, "loops: 1, trades: 2,") || !strings.Contains(out, "carol@leaf gives Lamp to dan@oak") {
		t.Errorf("round after the decline: got\n%s\nwant the swap proposed again", out)
	}
}
