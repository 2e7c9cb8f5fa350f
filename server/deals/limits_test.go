package deals_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
	"github.com/sxp-network/sxp/server/deals"
)

// TestRoundMoneyLimits: a money offer is proposed only if its member can
// pay it within their lower limit (alice: balance 0, limit -100.00), less
// the money of her offers already held by live proposals, and a round
// never commits more of it than that.
func TestRoundMoneyLimits(t *testing.T) {
	ctx := context.Background()
	m := newMarket(t)
	amount := func(v int64) *int64 { return &v }
	over := m.offer("alice", "100.01 leaves", amount(10001)) // one minor unit beyond her room
	sixty1 := m.offer("alice", "Sixty leaves", amount(6000))
	sixty2 := m.offer("alice", "Sixty more leaves", amount(6000))
	canoe, drill, kayak := m.oakOffer(5, "carol", "Canoe"), m.oakOffer(6, "dave", "Drill"), m.oakOffer(7, "erin", "Kayak")
	m.wants("alice", over, canoe)
	m.oakWants(canoe, over)
	m.wants("alice", sixty1, drill)
	m.oakWants(drill, sixty1)
	m.wants("alice", sixty2, kayak)
	m.oakWants(kayak, sixty2)
	svc := deals.New(m.pool, deals.Config{BaseURL: leaf, CommunityID: "leaf", Currency: "LEAF", Divisions: 2, TTP: testTTP,
		Now: func() time.Time { return now }})

	res, err := svc.Round(ctx, deals.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// 100.01 is left out; both sixties are found, but 60 + 60 > 100: one is proposed.
	if len(res.Proposals) != 1 || res.Trades != 2 || res.UnfundedOffers != 1 || res.UnfundedLoops != 1 {
		t.Fatalf("first round: got %d proposals, %d trades, %d unfunded offers, %d unfunded loops; want 1, 2, 1, 1",
			len(res.Proposals), res.Trades, res.UnfundedOffers, res.UnfundedLoops)
	}
	if v := res.Proposals[0].Contract.Legs; moneyOf(v) != "60.00 LEAF" {
		t.Errorf("proposed money leg: got %q, want 60.00 LEAF", moneyOf(v))
	}

	// 60.00 is held: alice can pay 40.00 more, exactly; not the other 60.00.
	forty := m.offer("alice", "Forty leaves", amount(4000))
	boat := m.oakOffer(8, "fay", "Boat")
	m.wants("alice", forty, boat)
	m.oakWants(boat, forty)
	res, err = svc.Round(ctx, deals.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Proposals) != 1 || res.UnfundedOffers != 2 || res.UnfundedLoops != 0 || moneyOf(res.Proposals[0].Contract.Legs) != "40.00 LEAF" {
		t.Fatalf("second round: got %d proposals (%q), %d unfunded offers, %d unfunded loops; want 1 (40.00 LEAF), 2, 0",
			len(res.Proposals), moneyOf(res.Proposals[0].Contract.Legs), res.UnfundedOffers, res.UnfundedLoops)
	}
	rounds, err := svc.Rounds(ctx, 10)
	if err != nil || len(rounds) != 2 || rounds[0].UnfundedOffers != 2 || rounds[1].UnfundedLoops != 1 {
		t.Errorf("recorded rounds: got %+v, %v", rounds, err)
	}
}

// moneyOf is the money of the first money leg, "VALUE CURRENCY".
func moneyOf(legs []contract.Leg) string {
	for _, l := range legs {
		if l.Money != nil {
			return l.Money.Value + " " + l.Money.Currency
		}
	}
	return ""
}

// TestRoundOneAtATime: a round while another holds the lock is refused
// with CodeConflict, and records nothing.
func TestRoundOneAtATime(t *testing.T) {
	ctx := context.Background()
	m := newMarket(t)
	svc := deals.New(m.pool, deals.Config{BaseURL: leaf, CommunityID: "leaf", Currency: "LEAF", Divisions: 2, TTP: testTTP,
		Now: func() time.Time { return now }})
	conn, err := m.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(deals.RoundLockKey)); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Round(ctx, deals.Options{})
	var de *deals.Error
	if !errors.As(err, &de) || de.Code != deals.CodeConflict {
		t.Errorf("a second round: got %v, want conflict", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, int64(deals.RoundLockKey)); err != nil {
		t.Fatal(err)
	}
	conn.Release()
	if rounds, _ := svc.Rounds(ctx, 10); len(rounds) != 0 {
		t.Errorf("got %d rounds recorded, want none", len(rounds))
	}
	if res, err := svc.Round(ctx, deals.Options{}); err != nil || res.WantLists != 0 {
		t.Errorf("after the lock is free: got %+v, %v", res, err)
	}
	if rounds, _ := svc.Rounds(ctx, 10); len(rounds) != 1 || rounds[0].Phase != "done" || rounds[0].Proposed != 0 {
		t.Errorf("got rounds %+v, want one done, found nothing", rounds)
	}
}
