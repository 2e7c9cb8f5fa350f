package server_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
	"github.com/sxp-network/sxp/server/deals"
)

// The arbiter every test server trusts (newEnv, newNode): its key pinned,
// so no test fetches it.
var (
	testArbiterURL = "http://arbiter.test"
	testArbiterKey = contract.EncodeKey(fixedKey("arbiter").Public().(ed25519.PublicKey))
)

// fixedKey is a private key made from s.
func fixedKey(s string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(s))
	return ed25519.NewKeyFromSeed(seed[:])
}

// contractKey is member user's contract public key on n, base64.
func contractKey(t *testing.T, n *node, user string) string {
	t.Helper()
	pub, _, err := n.srv.Keys.Key(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	return contract.EncodeKey(pub)
}

// remoteKey is the key n holds with a peer's want list (base64, "" for none).
func (n *node) remoteKey(objectID string) string {
	n.t.Helper()
	var key []byte
	if err := n.pool.QueryRow(context.Background(), `SELECT key FROM remote_wantlists WHERE object_id = $1`, objectID).Scan(&key); err != nil || key == nil {
		return ""
	}
	return contract.EncodeKey(key)
}

// TestWantListKey: a member's contract key travels with their want lists;
// a round at the peer names it, the proposal is accepted at the member's
// home; the member's own key replaces it at the peer; a proposal with a
// forged key is refused there, nothing stored.
func TestWantListKey(t *testing.T) {
	ctx := context.Background()
	a, b := newNode(t, "leaf"), newNode(t, "oak")
	peer(t, a, b)
	alice, bob := a.member("alice"), b.member("bob")
	bike, canoe := a.offer(alice, "Bike"), b.offer(bob, "Canoe")
	bikeID := fmt.Sprintf("%s/announcements/%d", a.base, bike.ID)
	canoeID := fmt.Sprintf("%s/announcements/%d", b.base, canoe.ID)
	eventually(t, "each holds the other's offer", func() bool { return len(a.search("canoe")) == 1 && len(b.search("bike")) == 1 })
	if _, err := a.srv.Announcements.SetWantList(ctx, alice, bike.ID, []string{canoeID}); err != nil {
		t.Fatal(err)
	}
	objectID := fmt.Sprintf("%s/wantlists/%d", a.base, bike.ID)
	aliceKey := contractKey(t, a, "alice")
	eventually(t, "b holds alice's want list with her key", func() bool { return b.remoteKey(objectID) == aliceKey })

	// A round at b proposes alice ⇄ bob with both keys and the arbiter; a takes it.
	if _, err := b.srv.Announcements.SetWantList(ctx, bob, canoe.ID, []string{bikeID}); err != nil {
		t.Fatal(err)
	}
	res, err := b.srv.Deals.Round(ctx, deals.Options{})
	if err != nil || len(res.Proposals) != 1 {
		t.Fatalf("round at b: got %d proposals, %v; want 1", len(res.Proposals), err)
	}
	c := res.Proposals[0].Contract
	keys := map[string]string{}
	for _, p := range c.Parties {
		keys[p.Member] = p.Key
	}
	if keys["alice@leaf"] != aliceKey || keys["bob@oak"] != contractKey(t, b, "bob") || c.TTP.URL != testArbiterURL || c.TTP.Key != testArbiterKey {
		t.Fatalf("proposal: got parties %v, ttp %+v; want both members' keys and the test arbiter", keys, c.TTP)
	}
	count := func(n *node) int {
		var k int
		if err := n.pool.QueryRow(ctx, `SELECT count(*) FROM deal_proposals`).Scan(&k); err != nil {
			t.Fatal(err)
		}
		return k
	}
	if got := count(a); got != 1 {
		t.Fatalf("a holds %d proposals, want 1 (b's, sent on the round)", got)
	}

	// A forged key for alice, signed by b as a peer: refused at a, nothing stored.
	forged := c
	forged.Nonce = "forged"
	forged.Parties = append(forged.Parties[:0:0], c.Parties...)
	for i := range forged.Parties {
		if forged.Parties[i].Member == "alice@leaf" {
			forged.Parties[i].Key = contract.EncodeKey(fixedKey("mallory").Public().(ed25519.PublicKey))
		}
	}
	body, _ := json.Marshal(map[string]any{"contract": forged})
	keyID, priv := currentKey(t, b)
	st, out := signedTo(t, a, "POST", "/federation/v1/contracts", body, httpsig.Signer{KeyID: keyID, Ed25519Key: priv}, nil)
	if e, _ := out["error"].(map[string]any); st != 400 || !strings.Contains(fmt.Sprint(e["message"]), "is not alice@leaf's contract key") || count(a) != 1 {
		t.Errorf("forged key: got %d %v and %d stored; want 400 naming alice's key, still 1 stored", st, out, count(a))
	}
	// Another arbiter: refused.
	other := c
	other.Nonce = "other arbiter"
	other.TTP = contract.TTP{URL: "http://other-arbiter.test", Key: testArbiterKey}
	body, _ = json.Marshal(map[string]any{"contract": other})
	st, out = signedTo(t, a, "POST", "/federation/v1/contracts", body, httpsig.Signer{KeyID: keyID, Ed25519Key: priv}, nil)
	if e, _ := out["error"].(map[string]any); st != 400 || !strings.Contains(fmt.Sprint(e["message"]), "not the arbiter this server trusts") || count(a) != 1 {
		t.Errorf("another arbiter: got %d %v and %d stored; want 400, still 1 stored", st, out, count(a))
	}

	// Alice registers her own key: her want lists go out again at once
	// (no sweep), and b replaces her key.
	own := fixedKey("alice's own").Public().(ed25519.PublicKey)
	if err := a.srv.Keys.SetOwn(ctx, "alice", own); err != nil {
		t.Fatal(err)
	}
	if v, _ := a.outbox(); v[objectID] != 2 {
		t.Errorf("alice's want list event right after SetOwn: version %d, want 2 (sent, then with her own key)", v[objectID])
	}
	eventually(t, "b holds alice's own key", func() bool { return b.remoteKey(objectID) == contract.EncodeKey(own) })
	if !bytes.Equal(own, mustDecode(t, contractKey(t, a, "alice"))) {
		t.Errorf("a's key of alice is not her own")
	}
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	k, err := contract.DecodeKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
