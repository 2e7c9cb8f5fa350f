package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
	"github.com/sxp-network/sxp/server/announce"
	"github.com/sxp-network/sxp/server/members"
)

// remoteWantList is a want list n holds from a peer: its offer and accepts,
// and whether it is there.
func (n *node) remoteWantList(objectID string) (offer string, accepts []string, ok bool) {
	n.t.Helper()
	err := n.pool.QueryRow(context.Background(), `SELECT offer, accepts FROM remote_wantlists WHERE object_id = $1`, objectID).
		Scan(&offer, &accepts)
	if err != nil {
		return "", nil, false
	}
	return offer, accepts, true
}

func TestWantListReplication(t *testing.T) {
	ctx := context.Background()
	a, b := newNode(t, "leaf"), newNode(t, "oak")
	peer(t, a, b)
	alice, bob := a.member("alice"), b.member("bob")
	bike := a.offer(alice, "Bike")
	twenty := int64(2000)
	money, err := a.srv.Announcements.Create(ctx, alice, announce.Draft{Kind: announce.Offer, Title: "Twenty leaves",
		Category: "other", Money: &twenty})
	if err != nil {
		t.Fatal(err)
	}
	canoe := b.offer(bob, "Canoe")
	kayak := b.offer(bob, "Kayak")
	canoeID := fmt.Sprintf("%s/announcements/%d", b.base, canoe.ID)
	kayakID := fmt.Sprintf("%s/announcements/%d", b.base, kayak.ID)
	eventually(t, "a holds b's offers", func() bool { return len(a.search("canoe")) == 1 && len(a.search("kayak")) == 1 })
	eventually(t, "b holds a's money offer", func() bool {
		got := b.search("twenty")
		return len(got) == 1 && got[0].RemoteMoney != nil
	})
	if got := b.search("twenty")[0]; *got.RemoteMoney != "20.00" || got.RemoteMoneyCurrency != "LEAF" {
		t.Fatalf("b holds money %s %s, want 20.00 LEAF", *got.RemoteMoney, got.RemoteMoneyCurrency)
	}

	if _, err := a.srv.Announcements.SetWantList(ctx, alice, bike.ID, []string{kayakID, canoeID}); err != nil {
		t.Fatal(err)
	}
	objectID := fmt.Sprintf("%s/wantlists/%d", a.base, bike.ID)
	bikeID := fmt.Sprintf("%s/announcements/%d", a.base, bike.ID)
	eventually(t, "b holds alice's want list", func() bool { _, _, ok := b.remoteWantList(objectID); return ok })
	offer, accepts, _ := b.remoteWantList(objectID)
	if offer != bikeID || !slices.Equal(accepts, []string{kayakID, canoeID}) {
		t.Fatalf("b holds %s → %q, want %s → %q", offer, accepts, bikeID, []string{kayakID, canoeID})
	}
	if _, err := a.srv.Announcements.SetWantList(ctx, alice, money.ID, []string{canoeID}); err != nil {
		t.Fatal(err)
	}

	// The kayak goes at b: a drops it, its want list changes, b sees the change.
	if err := b.srv.Announcements.Delete(ctx, bob, kayak.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a drops the kayak and republishes the want list", func() bool {
		if _, err := a.srv.Federation.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		_, accepts, _ := b.remoteWantList(objectID)
		return slices.Equal(accepts, []string{canoeID})
	})
	versions, _ := a.outbox()
	if versions[objectID] != 2 {
		t.Errorf("a's want list event has version %d, want 2 (sent, then changed once)", versions[objectID])
	}
	// A sweep with nothing changed writes nothing.
	if _, err := a.srv.Federation.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if v, _ := a.outbox(); v[objectID] != 2 {
		t.Errorf("after an idle sweep: version %d, want 2", v[objectID])
	}

	// Alice's bike goes: its want list goes with it, here and at b.
	if err := a.srv.Announcements.Delete(ctx, alice, bike.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b drops the want list", func() bool { _, _, ok := b.remoteWantList(objectID); return !ok })
	if _, _, ok := b.remoteWantList(fmt.Sprintf("%s/wantlists/%d", a.base, money.ID)); !ok {
		t.Errorf("b lost the money offer's want list, which stands")
	}
	if v, _ := a.outbox(); v[objectID] != 3 {
		t.Errorf("a's want list event has version %d, want 3 (deleted)", v[objectID])
	}

	// b pulls the same events: the want list deletion is among them.
	events, _, err := a.srv.Federation.Events(ctx, "", 500)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, e := range events {
		if e.ID == objectID {
			found = e.Type == "wantlist" && e.Deleted && e.WantList == nil && e.Version == 3
		}
	}
	if !found {
		t.Errorf("a's events: want list %s as deleted, version 3, not found in %+v", objectID, events)
	}
}

func TestRoundAPI(t *testing.T) {
	e := newEnv(t, nil)
	e.member("alice", members.RoleMember)
	e.member("bob", members.RoleMember)
	e.member("root", members.RoleAdmin)
	offer := func(user, title string) string {
		st, body := e.call(user, "POST", "/api/v1/announcements", `{"kind":"offer","title":"`+title+`","category":"goods"}`)
		if st != http.StatusCreated {
			t.Fatalf("offer: got %d %v", st, body)
		}
		return jsonNumber(body["id"].(float64))
	}
	bike, lamp := offer("alice", "Bike"), offer("bob", "Lamp")
	for _, w := range [][3]string{{"alice", bike, lamp}, {"bob", lamp, bike}} {
		if st, body := e.call(w[0], "PUT", "/api/v1/wantlists/"+w[1], `{"accepts":["`+w[2]+`"]}`); st != http.StatusOK {
			t.Fatalf("want list: got %d %v", st, body)
		}
	}
	if st, body := e.call("root", "POST", "/api/v1/admin/deals/rounds", `{"max_loop":1}`); st != 400 || body["error"].(map[string]any)["field"] != "max_loop" {
		t.Errorf("max_loop 1: got %d %v, want 400 naming max_loop", st, body)
	}
	st, body := e.call("root", "POST", "/api/v1/admin/deals/rounds", `{}`)
	if st != http.StatusOK || body["trades"] != 2.0 || body["wantlists"] != 2.0 || len(body["proposals"].([]any)) != 1 {
		t.Fatalf("round: got %d %v, want 2 trades in 1 proposal over 2 want lists", st, body)
	}
	p := body["proposals"].([]any)[0].(map[string]any)
	c := p["contract"].(map[string]any)
	if p["state"] != "proposed" || c["type"] != "sxp-contract/1" || len(c["legs"].([]any)) != 2 || len(c["parties"].([]any)) != 2 {
		t.Errorf("proposal: got %v", p)
	}
	if st, body := e.call("root", "POST", "/api/v1/admin/deals/rounds", ""); st != http.StatusOK || body["trades"] != 0.0 || len(body["loops"].([]any)) != 0 {
		t.Errorf("second round: got %d %v, want nothing (the offers are held)", st, body)
	}
	if st, body := e.call("root", "GET", "/api/v1/admin/deals/proposals", ""); st != http.StatusOK || len(body["proposals"].([]any)) != 1 {
		t.Errorf("proposals: got %d %v, want 1", st, body)
	}
	if st, _ := e.call("alice", "POST", "/api/v1/admin/deals/rounds", ""); st != http.StatusForbidden {
		t.Errorf("a member runs a round: got %d, want 403", st)
	}
}

func TestReceiveProposal(t *testing.T) {
	ctx := context.Background()
	a, b, c := newNode(t, "leaf"), newNode(t, "oak"), newNode(t, "pine")
	peer(t, a, b)
	alice, bob := a.member("alice"), b.member("bob")
	bike, canoe := a.offer(alice, "Bike"), b.offer(bob, "Canoe")
	bikeID := fmt.Sprintf("%s/announcements/%d", a.base, bike.ID)
	canoeID := fmt.Sprintf("%s/announcements/%d", b.base, canoe.ID)
	aliceKey, bobKey := contractKey(t, a, "alice"), contractKey(t, b, "bob")
	proposal := func(change func(map[string]any)) []byte {
		c := map[string]any{"type": "sxp-contract/1", "id": "6f1c2b9e-0000-4000-8000-000000000001", "proposer": a.base,
			"created_at": "2026-11-29T12:00:00Z", "deadline": "2099-01-01T00:00:00Z", "round_timeout_s": 60, "nonce": "n1",
			"parties": []any{map[string]any{"member": "alice@leaf", "server": a.base, "key": aliceKey},
				map[string]any{"member": "bob@oak", "server": b.base, "key": bobKey}},
			"legs": []any{map[string]any{"from": 1, "to": 0, "offer": canoeID, "title": "Canoe", "money": nil},
				map[string]any{"from": 0, "to": 1, "offer": bikeID, "title": "Bike", "money": nil}},
			"ttp": map[string]any{"url": testArbiterURL, "key": testArbiterKey}}
		if change != nil {
			change(c)
		}
		body, err := json.Marshal(map[string]any{"contract": c})
		if err != nil {
			t.Fatal(err)
		}
		return body
	}
	keyID, key := currentKey(t, a)
	asA := httpsig.Signer{KeyID: keyID, Ed25519Key: key}
	count := func() int {
		var n int
		if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM deal_proposals`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	st, out := signedTo(t, b, "POST", "/federation/v1/contracts", proposal(nil), asA, nil)
	if st != 200 || out["state"] != "proposed" {
		t.Fatalf("proposal: got %d %v, want 200 proposed", st, out)
	}
	h := out["h"]
	if st, out := signedTo(t, b, "POST", "/federation/v1/contracts", proposal(nil), asA, nil); st != 200 || out["h"] != h || count() != 1 {
		t.Fatalf("again: got %d %v and %d stored, want the same h, stored once", st, out, count())
	}
	leg := func(i int, k string, v any) func(map[string]any) {
		return func(c map[string]any) { c["legs"].([]any)[i].(map[string]any)[k] = v }
	}
	for _, tt := range []struct {
		name    string
		change  func(map[string]any)
		message string
	}{
		{"another proposer", func(c map[string]any) { c["proposer"] = c1(b) }, "not the sender"},
		{"an offer not on its giver's server", leg(0, "offer", bikeID), "does not live on its giver's server"},
		{"bob's deleted offer", leg(0, "offer", canoeID+"0"), "not a live offer of bob@oak"},
		{"a giver who is not the offer's author", func(c map[string]any) {
			c["parties"].([]any)[1].(map[string]any)["member"] = "zed@oak"
		}, "not a live offer of zed@oak"},
		{"no party here", func(c map[string]any) {
			c["parties"].([]any)[1].(map[string]any)["server"] = a.base
		}, "no party of this server"},
		{"a leg to oneself", leg(1, "to", 0), "two parties"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, out := signedTo(t, b, "POST", "/federation/v1/contracts", proposal(tt.change), asA, nil)
			e, _ := out["error"].(map[string]any)
			if st != 400 || !strings.Contains(fmt.Sprint(e["message"]), tt.message) {
				t.Errorf("got %d %v, want 400 saying %q", st, out, tt.message)
			}
			if n := count(); n != 1 {
				t.Errorf("got %d proposals stored, want 1", n)
			}
		})
	}
	// From a server that is not a peer: 403 before anything is read.
	cKey, cPriv := currentKey(t, c)
	if st, out := signedTo(t, b, "POST", "/federation/v1/contracts", proposal(nil), httpsig.Signer{KeyID: cKey, Ed25519Key: cPriv}, nil); st != 403 || count() != 1 {
		t.Errorf("from a non-peer: got %d %v, want 403, nothing stored", st, out)
	}
	// Bob sees it on his server.
	token := b.login("bob")
	if st, raw := b.get(token, "/api/v1/proposals"); st != 200 || !strings.Contains(raw, `"h":"`+h.(string)+`"`) {
		t.Errorf("bob's proposals: got %d %s", st, raw)
	}
}

// c1 is the base URL of n (a proposer that is not the sender).
func c1(n *node) string { return n.base }
