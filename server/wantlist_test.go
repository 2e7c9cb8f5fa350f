package server_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"

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
