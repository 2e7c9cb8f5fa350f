package contracts_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sxp-network/sxp/server/contracts"
)

// A signed contract whose money leg is over the payer's limit: the refusal
// is recorded and shown, the leg is not tried again, nothing moves.
func TestSettlementRefusedOverLimit(t *testing.T) {
	w := newWorld(t)
	w.money = "150.00" // carol may go down to -100.00
	h, _ := w.loop("over the limit", 60)
	w.run()
	if got := w.state("leaf", h, 2); got != contracts.StateSigned {
		t.Fatalf("carol: got %s, want signed", got)
	}
	for range 3 {
		w.clock.add(time.Minute)
		w.run()
	}
	var state, msg string
	var attempts int
	if err := w.coms["leaf"].pool.QueryRow(context.Background(), `SELECT state, message, attempts FROM contract_legs WHERE h = $1 AND leg = 2`, h).
		Scan(&state, &msg, &attempts); err != nil {
		t.Fatal(err)
	}
	if state != contracts.LegRefused || attempts != 1 || !strings.Contains(msg, "limit") {
		t.Errorf("the money leg: got %s after %d attempts (%q), want refused after 1, naming the limit", state, attempts, msg)
	}
	if a, c := w.balance("leaf", "alice"), w.balance("leaf", "carol"); a != 0 || c != 0 {
		t.Errorf("balances: alice %d, carol %d; want 0, 0", a, c)
	}
	v, err := w.coms["leaf"].svc.Get(context.Background(), "carol", false, h)
	if err != nil || v.Legs[2].State != contracts.LegRefused || v.Legs[2].Message != msg {
		t.Errorf("carol's view of the leg: got %+v %v", v.Legs[2], err)
	}
}

// The deadline passes while a server is down: the others resolve at the
// level they reached and sign nothing more.
func TestDeadlineResolves(t *testing.T) {
	w := newWorld(t)
	h, _ := w.loop("deadline", 86400)
	w.coms["oak"].down = true
	w.run()
	w.clock.add(23 * time.Hour) // at the deadline (22:00 next day), an hour inside the round timeout
	w.run()
	for _, p := range []int{0, 2} {
		if got := w.state("leaf", h, p); got != contracts.StateAborted {
			t.Errorf("leaf party %d: got %s, want aborted", p, got)
		}
	}
	var note string
	w.coms["leaf"].pool.QueryRow(context.Background(), `SELECT note FROM contracts WHERE h = $1 AND party = 0`, h).Scan(&note)
	if d, n := w.decision(h); d != "aborted" || n != 2 {
		t.Errorf("T: got %s after %d, want aborted after 2", d, n)
	}
	if !strings.Contains(note, "T answered aborted") {
		t.Errorf("alice's note: got %q", note)
	}
	var level int
	w.coms["leaf"].pool.QueryRow(context.Background(), `SELECT level FROM contracts WHERE h = $1 AND party = 0`, h).Scan(&level)
	if level != 0 {
		t.Errorf("alice resolved at level %d, want 0", level)
	}
}
