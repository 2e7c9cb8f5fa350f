package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
)

// TestBadWantListEvents: a peer's want list events that name someone
// else's offer (another server's, or no announcement), an offer twice, the
// offer itself, or more than 100 offers are ignored by the inbox (counted
// as such) and nothing is stored; a good one is applied.
func TestBadWantListEvents(t *testing.T) {
	ctx := context.Background()
	a, b := newNode(t, "leaf"), newNode(t, "oak")
	peer(t, a, b)
	offer := func(n int) string { return fmt.Sprintf("%s/announcements/%d", a.base, n) }
	theirs := func(n int) string { return fmt.Sprintf("%s/announcements/%d", b.base, n) }
	long := make([]string, 101)
	for i := range long {
		long[i] = theirs(100 + i)
	}
	keyID, key := currentKey(t, a)
	asA := httpsig.Signer{KeyID: keyID, Ed25519Key: key}
	send := func(offerID string, accepts []string) (int, map[string]any) {
		body, err := json.Marshal(map[string]any{"events": []any{map[string]any{
			"type": "wantlist", "id": a.base + "/wantlists/1", "origin": a.base, "version": 1, "deleted": false,
			"object": map[string]any{"offer": offerID, "accepts": accepts}}}})
		if err != nil {
			t.Fatal(err)
		}
		return signedTo(t, b, "POST", "/federation/v1/inbox", body, asA, nil)
	}
	stored := func() int {
		var n int
		if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM remote_wantlists`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, tt := range []struct {
		name    string
		offer   string
		accepts []string
	}{
		{"someone else's offer", theirs(1), []string{theirs(2)}},
		{"not an announcement", a.base + "/members/alice", []string{theirs(2)}},
		{"an offer twice", offer(1), []string{theirs(2), theirs(3), theirs(2)}},
		{"the offer itself", offer(1), []string{theirs(2), offer(1)}},
		{"too long", offer(1), long},
		{"empty", offer(1), []string{}},
		{"not an offer's event id", offer(1), []string{"bike"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, out := send(tt.offer, tt.accepts)
			if st != 200 || out["applied"] != 0.0 || out["ignored"] != 1.0 || stored() != 0 {
				t.Errorf("got %d %v and %d stored, want 200, applied 0, ignored 1, nothing stored", st, out, stored())
			}
		})
	}
	if st, out := send(offer(1), long[:100]); st != 200 || out["applied"] != 1.0 || stored() != 1 {
		t.Errorf("100 offers: got %d %v and %d stored, want it applied", st, out, stored())
	}
}
