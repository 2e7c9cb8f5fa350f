package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sxp-network/sxp/cmd/sxp/sxptest"
)

// TestMarketPeerDownEndToEnd: two real community servers, leaf and oak,
// peered; alice@leaf and bob@oak would swap. Oak's process is stopped when
// 'sxp deals round' runs on leaf: the round proposes the swap, the send
// fails and is kept. Oak starts again and gets the proposal from leaf's
// running server (its deal_deliveries job), without anyone doing anything;
// bob sees it on oak and accepts, and leaf learns of his answer.
func TestMarketPeerDownEndToEnd(t *testing.T) {
	bin := sxptest.BuildSXP(t)
	servers := startCommunities(t, bin, []fedCommunity{{"leaf", "Leaf Valley", "LEAF"}, {"oak", "Oak Hill", "OAK"}},
		func(*fedServer) []string {
			return []string{"--registration", "open",
				"--federation-retry", "200ms", "--federation-timeout", "2s",
				"--arbiter-url", "http://127.0.0.1:9", "--arbiter-key", "P0g2SeRwo9JsQga1SUHhiP7HkBd/cxf+VLWmOp23i90="} // an arbiter both trust (never called here)
		})
	leaf, oak := servers[0], servers[1]
	peerServers(t, bin, leaf, oak)
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting: %s", what)
			}
		}
	}
	count := func(s *fedServer, sql string, args ...any) int {
		var n int
		if err := s.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	alice, bob := register(t, leaf.base, "alice"), register(t, oak.base, "bob")
	offer := func(s *fedServer, token, title string) string {
		t.Helper()
		return postOffer(t, s.base, token, title, nil)
	}
	bike, canoe := offer(leaf, alice, "Bike"), offer(oak, bob, "Canoe")
	waitFor("each holds the other's offer", func() bool {
		return count(leaf, `SELECT count(*) FROM announcements WHERE origin_id = $1`, canoe) == 1 &&
			count(oak, `SELECT count(*) FROM announcements WHERE origin_id = $1`, bike) == 1
	})
	for _, w := range []struct {
		s            *fedServer
		token, offer string
		accepts      string
	}{{leaf, alice, bike, canoe}, {oak, bob, canoe, bike}} {
		id := w.offer[strings.LastIndex(w.offer, "/")+1:]
		if st, out := apiJSON(t, w.s.base, "PUT", "/api/v1/wantlists/"+id, w.token, map[string]any{"accepts": []string{w.accepts}}); st != 200 {
			t.Fatalf("want list: %d %v", st, out)
		}
	}
	waitFor("leaf holds bob's want list", func() bool { return count(leaf, `SELECT count(*) FROM remote_wantlists`) == 1 })

	oak.proc.Stop()
	code, stdout, stderr := sxptest.Exec(t, bin, sxptest.WithoutSettings(), "", append([]string{"deals", "round"}, leaf.args...)...)
	// The first send to oak fails: tried by the command itself or by leaf's
	// running server's delivery job, whichever comes first.
	if code != 0 || !strings.Contains(stdout, "loops: 1, trades: 2,") {
		t.Fatalf("round on leaf with oak down: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	waitFor("leaf keeps the proposal it failed to send, pending", func() bool {
		return count(leaf, `SELECT count(*) FROM deal_deliveries WHERE state = 'pending' AND attempts >= 1 AND last_error <> ''`) == 1
	})

	startFedServer(t, bin, oak) // the same database: oak comes back
	waitFor("leaf's server delivers the proposal to oak", func() bool { return count(oak, `SELECT count(*) FROM deal_proposals`) == 1 })
	// oak stores the proposal before leaf reads oak's answer and marks it delivered.
	waitFor("leaf marks its delivery done", func() bool {
		return count(leaf, `SELECT count(*) FROM deal_deliveries WHERE state = 'delivered'`) == 1
	})
	st, out := apiJSON(t, oak.base, "GET", "/api/v1/proposals", bob, nil)
	list, _ := out["proposals"].([]any)
	if st != 200 || len(list) != 1 {
		t.Fatalf("bob's proposals on oak: got %d %v, want 1", st, out)
	}
	h := list[0].(map[string]any)["h"].(string)
	if st, out := apiJSON(t, oak.base, "POST", "/api/v1/proposals/"+h+"/accept", bob, nil); st != 200 || out["state"] != "proposed" {
		t.Fatalf("bob accepts: got %d %v", st, out)
	}
	waitFor("leaf learns bob's accept", func() bool {
		return count(leaf, `SELECT count(*) FROM deal_proposal_answers WHERE h = $1 AND member = 'bob@oak'`, h) == 1
	})
}
