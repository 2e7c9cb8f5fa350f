package httpapi

import (
	"testing"

	"github.com/sxp-network/sxp/server/deals"
)

func TestRoundSummary(t *testing.T) {
	for _, tt := range []struct {
		st   deals.RoundStatus
		want string
	}{
		{deals.RoundStatus{Phase: deals.PhaseGather}, "reading want lists…"},
		{deals.RoundStatus{Phase: deals.PhaseSolve, WantLists: 2000}, "finding loops in 2000 want lists…"},
		{deals.RoundStatus{Phase: deals.PhaseSolve, WantLists: 2000, Step: "matching 1024/4000"}, "finding loops in 2000 want lists (matching 1024/4000)…"},
		{deals.RoundStatus{Phase: deals.PhasePropose, Loops: 230, Proposed: 100}, "proposing: 100 of 230 loops stored"},
		{deals.RoundStatus{Phase: deals.PhaseDone, WantLists: 12}, "found nothing in 12 want lists"},
		{deals.RoundStatus{Phase: deals.PhaseDone, WantLists: 3, Loops: 1, UnfundedLoops: 1}, "found 1 loop in 3 want lists, proposed none: their payers cannot pay them within their limits"},
		{deals.RoundStatus{Phase: deals.PhaseDone, WantLists: 5, Loops: 2, Proposed: 2, Trades: 5}, "2 loops, 5 trades, from 5 want lists"},
		{deals.RoundStatus{Phase: deals.PhaseDone, WantLists: 5, Loops: 2, Proposed: 1, Trades: 2, UnfundedOffers: 1, UnfundedLoops: 1},
			"1 loop, 2 trades, from 5 want lists (left out for members' limits: 1 money offer, 1 loop)"},
		{deals.RoundStatus{Phase: deals.PhaseFailed, Error: "deals: gather: timeout"}, "failed: deals: gather: timeout"},
	} {
		if got := roundSummary(tt.st); got != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.st, got, tt.want)
		}
	}
}
