package server_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
)

// TestPromiseOverFederation: POST /federation/v1/contracts/{h}/promises on
// the real HTTP edge. A peer's valid promise of its party is stored once;
// unsigned is 401, another party's promise 403, a forged or out-of-range
// one 400, an unknown contract 404; nothing else is stored.
func TestPromiseOverFederation(t *testing.T) {
	leaf, oak := newNode(t, "leaf"), newNode(t, "oak")
	peer(t, leaf, oak)
	keyOak, privOak := currentKey(t, oak)
	ctx := context.Background()
	member := func(b byte) ed25519.PrivateKey {
		return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
	}
	alice, bob, arbiter := member(1), member(2), member(3)
	pub := func(k ed25519.PrivateKey) string { return contract.EncodeKey(k.Public().(ed25519.PublicKey)) }
	c := map[string]any{"type": "sxp-contract/1", "id": "0b6e8c3a-1f2d-4e5a-9b7c-8d9e0f1a2b3c", "proposer": leaf.base,
		"created_at": "2026-11-29T22:00:00Z", "deadline": "2099-11-30T22:00:00Z", "round_timeout_s": 60, "nonce": "fed",
		"parties": []any{
			map[string]any{"member": "alice@leaf", "server": leaf.base, "key": pub(alice)},
			map[string]any{"member": "bob@oak", "server": oak.base, "key": pub(bob)}},
		"legs": []any{
			map[string]any{"from": 0, "to": 1, "offer": leaf.base + "/announcements/1", "title": "Bike", "money": nil},
			map[string]any{"from": 1, "to": 0, "offer": oak.base + "/announcements/1", "title": "Canoe", "money": nil}},
		"ttp": map[string]any{"url": "http://127.0.0.1:1", "key": pub(arbiter)}}
	raw, _ := json.Marshal(c)
	p, err := contract.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	h := p.Hash()
	// A proposal known on leaf (not ready: leaf's worker does not sign it).
	if _, err := leaf.pool.Exec(ctx, `INSERT INTO deal_proposals (h, contract, deadline) VALUES ($1, $2, '2099-11-30T22:00:00Z')`, h, raw); err != nil {
		t.Fatal(err)
	}
	signer := httpsig.Signer{KeyID: keyOak, Ed25519Key: privOak}
	body := func(party, round int, sig string) []byte {
		b, _ := json.Marshal(map[string]any{"party": party, "round": round, "sig": sig})
		return b
	}
	promise := func(k ed25519.PrivateKey, r int) string { return p.Promise(k, r) }
	for _, tt := range []struct {
		name   string
		h      string
		body   []byte
		signer httpsig.Signer
		status int
		stored any
	}{
		{"bob's promise of round 1", h, body(1, 1, promise(bob, 1)), signer, 200, true},
		{"the same again", h, body(1, 1, promise(bob, 1)), signer, 200, false},
		{"unsigned", h, body(1, 2, promise(bob, 2)), httpsig.Signer{}, 401, nil},
		{"alice's promise, from oak", h, body(0, 1, promise(alice, 1)), signer, 403, nil},
		{"a promise of round 1 sent as round 2", h, body(1, 2, promise(bob, 1)), signer, 400, nil},
		{"a round beyond n+1", h, body(1, 4, promise(bob, 4)), signer, 400, nil},
		{"signed by another key", h, body(1, 2, promise(alice, 2)), signer, 400, nil},
		{"an unknown contract", "ab" + h[2:], body(1, 2, promise(bob, 2)), signer, 404, nil},
		{"no sig", h, []byte(`{"party":1,"round":2}`), signer, 400, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, out := signedTo(t, leaf, "POST", fmt.Sprintf("/federation/v1/contracts/%s/promises", tt.h), tt.body, tt.signer, nil)
			if st != tt.status || (tt.stored != nil && out["stored"] != tt.stored) {
				t.Errorf("got %d %v, want %d stored %v", st, out, tt.status, tt.stored)
			}
		})
	}
	var n int
	if err := leaf.pool.QueryRow(ctx, `SELECT count(*) FROM contract_promises`).Scan(&n); err != nil || n != 1 {
		t.Errorf("leaf holds %d promises (%v), want 1", n, err)
	}
}
