package deals_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
	"github.com/sxp-network/sxp/server/deals"
)

// A round in a circle names the circle's clearing house as T, its key
// read when the round proposes; a key that cannot be read proposes
// nothing (a contract without T's key could never be signed).
func TestRoundNamesTheArbiter(t *testing.T) {
	ctx := context.Background()
	const tKey = "Ly4nFw0FR/7tNp4v1I+Aydv2bPvURyZsBaUD5/6HiJQ="
	for _, tt := range []struct {
		name      string
		key       func(context.Context) (string, error)
		wantErr   bool
		proposals int
	}{
		{"the key is read", func(context.Context) (string, error) { return tKey, nil }, false, 1},
		{"the key cannot be read", func(context.Context) (string, error) { return "", errors.New("unreachable") }, true, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := newMarket(t)
			bike := m.offer("alice", "Bike", nil)
			lamp := m.offer("bob", "Lamp", nil)
			m.wants("alice", bike, lamp)
			m.wants("bob", lamp, bike)
			svc := deals.New(m.pool, deals.Config{BaseURL: leaf, CommunityID: "leaf", Currency: "LEAF", Divisions: 2,
				Now: func() time.Time { return now }, ArbiterKey: tt.key, TTP: contract.TTP{URL: "http://clearing.test"}})
			res, err := svc.Round(ctx, deals.Options{})
			if (err != nil) != tt.wantErr || len(res.Proposals) != tt.proposals {
				t.Fatalf("round: got %d proposals, %v; want %d, error %v", len(res.Proposals), err, tt.proposals, tt.wantErr)
			}
			if tt.proposals == 1 {
				if got := res.Proposals[0].Contract.TTP; got.URL != "http://clearing.test" || got.Key != tKey {
					t.Errorf("ttp: got %+v", got)
				}
			}
			var stored int
			m.pool.QueryRow(ctx, `SELECT count(*) FROM deal_proposals`).Scan(&stored)
			if stored != tt.proposals {
				t.Errorf("stored %d proposals, want %d", stored, tt.proposals)
			}
		})
	}
}
