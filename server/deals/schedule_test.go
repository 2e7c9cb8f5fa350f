package deals_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/sxp-network/sxp/ledger/jobs"
	"github.com/sxp-network/sxp/server/deals"
)

// TestScheduledRound: the deals' jobs, and the deal_rounds job off unless
// RoundEvery is set; a run of it is a round started by "schedule".
func TestScheduledRound(t *testing.T) {
	ctx := context.Background()
	m := newMarket(t)
	bike, lamp := m.offer("alice", "Bike", nil), m.offer("bob", "Lamp", nil)
	m.wants("alice", bike, lamp)
	m.wants("bob", lamp, bike)
	cfg := deals.Config{BaseURL: leaf, CommunityID: "leaf", Currency: "LEAF", Divisions: 2, TTP: testTTP, Now: func() time.Time { return now }}
	off := deals.New(m.pool, cfg).Jobs()
	var names []string
	for _, j := range off {
		names = append(names, j.Name)
		if j.Name == deals.JobRounds && j.Every != 0 {
			t.Errorf("deal_rounds runs every %s without RoundEvery, want off", j.Every)
		}
	}
	if want := []string{"deal_deliveries", "deal_deadlines", "deal_rounds"}; !slices.Equal(names, want) {
		t.Errorf("jobs: got %q, want %q", names, want)
	}
	cfg.RoundEvery = time.Hour
	runner := jobs.New(nil, jobs.Options{Seed: 1}, deals.New(m.pool, cfg).Jobs()...)
	if ok, err := runner.RunOnce(ctx, deals.JobRounds); !ok || err != nil {
		t.Fatalf("deal_rounds: got %v, %v", ok, err)
	}
	rounds, err := deals.New(m.pool, cfg).Rounds(ctx, 5)
	if err != nil || len(rounds) != 1 || rounds[0].By != "schedule" || rounds[0].Proposed != 1 || rounds[0].Trades != 2 {
		t.Errorf("rounds: got %+v, %v; want one by schedule proposing the swap", rounds, err)
	}
}
