package contracts_test

import (
	"context"
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
	"github.com/sxp-network/sxp/server/contracts"
)

// A contract naming a key for alice that is not alice's key: leaf never
// signs for her (the row is failed, with the reason), sends nothing for
// her, and nothing settles; the others time out and T aborts.
func TestWrongPartyKeyNeverSigned(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	// alice's key here is another one than the contract will name.
	w.keys.priv["alice"] = ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	h, _ := w.loop("wrong key", 60)
	w.run()
	v, err := w.coms["leaf"].svc.Get(ctx, "alice", false, h)
	if err != nil {
		t.Fatal(err)
	}
	if v.State != contracts.StateFailed || !strings.Contains(v.Note, "the key of party 0 is not alice@leaf's key") {
		t.Errorf("alice's contract: got %s %q, want failed naming the key", v.State, v.Note)
	}
	if n := w.count("leaf", `SELECT count(*) FROM contract_promises WHERE h = $1 AND party = 0`, h); n != 0 {
		t.Errorf("leaf made %d promises for alice, want 0", n)
	}
	w.clock.add(61 * time.Second)
	w.run()
	if got := w.state("leaf", h, 2); got != contracts.StateAborted {
		t.Errorf("carol: got %s, want aborted", got)
	}
	if got := w.state("oak", h, 1); got != contracts.StateAborted {
		t.Errorf("bob: got %s, want aborted", got)
	}
	if d, _ := w.decision(h); d != contract.Aborted {
		t.Errorf("T: got %s, want aborted", d)
	}
	if a, c := w.balance("leaf", "alice"), w.balance("leaf", "carol"); a != 0 || c != 0 {
		t.Errorf("balances: alice %d, carol %d; want 0, 0", a, c)
	}
}
