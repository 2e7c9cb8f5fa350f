package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
	"github.com/sxp-network/sxp/server/announce"
)

// TestReceiveTamperedLoop: proposals whose loop was tampered with — a leg
// redirected, an offer given twice, a money leg's amount or currency
// changed, money added to an item, money its payer cannot pay — are each
// refused with a clear error, and nothing is stored; the untampered one is
// stored once however often it comes.
func TestReceiveTamperedLoop(t *testing.T) {
	ctx := context.Background()
	a, b := newNode(t, "leaf"), newNode(t, "oak")
	peer(t, a, b)
	alice, carol, bob := a.member("alice"), a.member("carol"), b.member("bob")
	bike, lamp := a.offer(alice, "Bike"), a.offer(carol, "Lamp")
	fifty := int64(5000) // bob's limit is -100.00: he can pay 50.00
	cash, err := b.srv.Announcements.Create(ctx, bob, announce.Draft{Kind: announce.Offer, Title: "Fifty oaks", Category: "other", Money: &fifty})
	if err != nil {
		t.Fatal(err)
	}
	toomuch := int64(10001)
	big, err := b.srv.Announcements.Create(ctx, bob, announce.Draft{Kind: announce.Offer, Title: "Lots of oaks", Category: "other", Money: &toomuch})
	if err != nil {
		t.Fatal(err)
	}
	id := func(n *node, x int64) string { return fmt.Sprintf("%s/announcements/%d", n.base, x) }
	// alice gives her bike to bob, bob 50.00 OAK to carol, carol her lamp to alice.
	proposal := func(change func(map[string]any)) []byte {
		c := map[string]any{"type": "sxp-contract/1", "id": "6f1c2b9e-0000-4000-8000-000000000002", "proposer": a.base,
			"created_at": "2026-11-29T12:00:00Z", "deadline": "2099-01-01T00:00:00Z", "round_timeout_s": 60, "nonce": "n2",
			"parties": []any{map[string]any{"member": "alice@leaf", "server": a.base, "key": contractKey(t, a, "alice")},
				map[string]any{"member": "bob@oak", "server": b.base, "key": contractKey(t, b, "bob")},
				map[string]any{"member": "carol@leaf", "server": a.base, "key": contractKey(t, a, "carol")}},
			"legs": []any{map[string]any{"from": 0, "to": 1, "offer": id(a, bike.ID), "title": "Bike", "money": nil},
				map[string]any{"from": 1, "to": 2, "offer": id(b, cash.ID), "title": "Fifty oaks", "money": map[string]any{"value": "50.00", "currency": "OAK"}},
				map[string]any{"from": 2, "to": 0, "offer": id(a, lamp.ID), "title": "Lamp", "money": nil}},
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
	leg := func(i int, k string, v any) func(map[string]any) {
		return func(c map[string]any) { c["legs"].([]any)[i].(map[string]any)[k] = v }
	}
	keyID, key := currentKey(t, a)
	asA := httpsig.Signer{KeyID: keyID, Ed25519Key: key}
	stored := func() (proposals, offers int) {
		if err := b.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM deal_proposals), (SELECT count(*) FROM deal_proposal_offers)`).
			Scan(&proposals, &offers); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, tt := range []struct {
		name    string
		change  func(map[string]any)
		message string
	}{
		{"a leg redirected", leg(2, "to", 1), "the legs are not a loop"},
		{"an offer given twice", leg(2, "offer", id(a, bike.ID)), "already given in leg 0"},
		{"less money", leg(1, "money", map[string]any{"value": "5.00", "currency": "OAK"}), "its money 5.00 OAK is not that of offer"},
		{"another currency", leg(1, "money", map[string]any{"value": "50.00", "currency": "LEAF"}), "its money 50.00 LEAF is not that of offer"},
		{"no money", leg(1, "money", nil), "its money none is not that of offer"},
		{"more than bob can pay", func(c map[string]any) {
			leg(1, "offer", id(b, big.ID))(c)
			leg(1, "money", map[string]any{"value": "100.01", "currency": "OAK"})(c)
		}, "bob@oak cannot pay 100.01 within their limits (can pay 100.00 now)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, out := signedTo(t, b, "POST", "/federation/v1/contracts", proposal(tt.change), asA, nil)
			e, _ := out["error"].(map[string]any)
			if st != 400 || !strings.Contains(fmt.Sprint(e["message"]), tt.message) {
				t.Errorf("got %d %v, want 400 saying %q", st, out, tt.message)
			}
			if p, o := stored(); p != 0 || o != 0 {
				t.Errorf("got %d proposals and %d held offers stored, want none", p, o)
			}
		})
	}
	st, out := signedTo(t, b, "POST", "/federation/v1/contracts", proposal(nil), asA, nil)
	if st != 200 || out["state"] != "proposed" {
		t.Fatalf("the loop as proposed: got %d %v, want 200 proposed", st, out)
	}
	// Received again, while its own 50.00 is now held: the same h, stored once.
	if st, again := signedTo(t, b, "POST", "/federation/v1/contracts", proposal(nil), asA, nil); st != 200 || again["h"] != out["h"] {
		t.Errorf("again: got %d %v, want 200 and h %v", st, again, out["h"])
	}
	if p, o := stored(); p != 1 || o != 3 {
		t.Errorf("got %d proposals and %d held offers, want 1 and 3", p, o)
	}
}
