package deals_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sxp-network/sxp/server/deals"
)

// TestRoundScale is the round over 2,000 want lists spread over three
// servers (generated, seeded): 666 offers of 30 members here and 667 of
// 667 members at each of two peers. It only runs with SXP_MARKET_SCALE=1
// and logs its time, each phase, and what it proposed (no timing
// assertion); TestRoundMatchesSolve is its always-run, deploy/test-sized
// version. Before gather worked on sets, this round did not finish in
// 400 s: with the row estimates of freshly written tables, PostgreSQL ran
// the whole want-list branch again for every live offer.
func TestRoundScale(t *testing.T) {
	if os.Getenv("SXP_MARKET_SCALE") == "" {
		t.Skip("set SXP_MARKET_SCALE=1")
	}
	ctx := context.Background()
	m := newMarket(t)
	if n := generate(t, m, 20261129, 30, 666, 667); n != 2000 {
		t.Fatalf("generated %d want lists, want 2000", n)
	}
	svc := deals.New(m.pool, deals.Config{BaseURL: leaf, CommunityID: "leaf", Currency: "LEAF", Divisions: 2, TTP: testTTP,
		Now: func() time.Time { return now }})
	start := time.Now()
	var export strings.Builder
	if err := svc.Export(ctx, &export); err != nil {
		t.Fatal(err)
	}
	t.Logf("export (gather): %d bytes in %s", export.Len(), time.Since(start).Round(time.Millisecond))
	start = time.Now()
	res, err := svc.Round(ctx, deals.Options{MaxLoop: 6, Progress: func(st deals.RoundStatus) {
		t.Logf("%8s  %-7s want lists %d, loops %d, proposed %d, trades %d %s", time.Since(start).Round(time.Millisecond),
			st.Phase, st.WantLists, st.Loops, st.Proposed, st.Trades, st.Step)
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("round over %d want lists: %d loops, %d trades, in %s (round's own measure %s)",
		res.WantLists, len(res.Loops), res.Trades, time.Since(start).Round(time.Millisecond), res.Elapsed.Round(time.Millisecond))
	if res.WantLists != 2000 || res.Trades == 0 {
		t.Errorf("got %d want lists and %d trades, want 2000 and some", res.WantLists, res.Trades)
	}
}
