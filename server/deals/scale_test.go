package deals_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/server/announce"
	"github.com/sxp-network/sxp/server/deals"
	"github.com/sxp-network/sxp/server/members"
)

// TestRoundScale is the round over 2,000 want lists spread over three
// servers (generated, seeded): 666 offers of 30 members here and 667 of
// 667 members at each of two peers. It only runs with SXP_MARKET_SCALE=1
// and logs its time, each phase, and what it proposed (no timing
// assertion). Before gather worked on sets, this round did not finish in
// 400 s: with the row estimates of freshly written tables, PostgreSQL ran
// the whole want-list branch again for every live offer.
func TestRoundScale(t *testing.T) {
	if os.Getenv("SXP_MARKET_SCALE") == "" {
		t.Skip("set SXP_MARKET_SCALE=1")
	}
	ctx := context.Background()
	m := newMarket(t)
	mem := members.New(m.pool, ledger.New(m.pool, ledger.Options{}), members.Options{Currency: "LEAF", DefaultMin: -10000, DefaultMax: 10000})
	rng := rand.New(rand.NewPCG(20261129, 13))
	var ids []string
	var localOffers []int64
	var owners []announce.Actor
	for i := range 30 {
		mm, err := mem.Add(ctx, members.Registration{Username: fmt.Sprintf("m%02d", i), Password: "password-long"}, members.RoleMember)
		if err != nil {
			t.Fatal(err)
		}
		owners = append(owners, announce.Actor{MemberID: mm.ID, Username: mm.Username})
	}
	for i := range 666 {
		a, err := m.ann.Create(ctx, owners[i%30], announce.Draft{Kind: announce.Offer, Title: fmt.Sprintf("Item %d", i), Category: "goods"})
		if err != nil {
			t.Fatal(err)
		}
		localOffers = append(localOffers, a.ID)
		ids = append(ids, fmt.Sprintf("%s/announcements/%d", leaf, a.ID))
	}
	peers := []string{"http://oak.test", "http://pine.test"}
	for _, p := range peers {
		_, err := m.pool.Exec(ctx, `
			INSERT INTO announcements (member_id, author, kind, title, remote_category, remote_currency, expires_at, origin, origin_id)
			SELECT NULL, 'u' || g || '@' || split_part(split_part($1, '//', 2), '.', 1), 'offer', 'Item ' || g, 'Goods', 'X', $2, $1,
			       $1 || '/announcements/' || g
			  FROM generate_series(1, 667) g`, p, now.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		for g := 1; g <= 667; g++ {
			ids = append(ids, fmt.Sprintf("%s/announcements/%d", p, g))
		}
	}
	pick := func(self string) []string {
		n := 3 + rng.IntN(6)
		seen := map[string]bool{self: true}
		var out []string
		for len(out) < n {
			x := ids[rng.IntN(len(ids))]
			if !seen[x] {
				seen[x] = true
				out = append(out, x)
			}
		}
		return out
	}
	for i, id := range localOffers {
		var accepts []string
		for _, x := range pick(ids[i]) {
			if !(x[:len(leaf)] == leaf && owners[i%30].MemberID == ownerOf(localOffers, owners, x)) {
				accepts = append(accepts, x)
			}
		}
		if _, err := m.ann.SetWantList(ctx, owners[i%30], id, accepts); err != nil {
			t.Fatal(err)
		}
	}
	batch := &pgx.Batch{}
	for _, id := range ids[666:] {
		batch.Queue(`INSERT INTO remote_wantlists (object_id, origin, offer, accepts) VALUES ($1, $2, $3, $4)`,
			id+"#w", originOf(id), id, pick(id))
	}
	if err := m.pool.SendBatch(ctx, batch).Close(); err != nil {
		t.Fatal(err)
	}
	svc := deals.New(m.pool, deals.Config{BaseURL: leaf, CommunityID: "leaf", Currency: "LEAF", Divisions: 2,
		Now: func() time.Time { return now }})
	start := time.Now()
	var export strings.Builder
	if err := svc.Export(ctx, &export); err != nil {
		t.Fatal(err)
	}
	t.Logf("export (gather): %d bytes in %s", export.Len(), time.Since(start).Round(time.Millisecond))
	start = time.Now()
	res, err := svc.Round(ctx, deals.Options{MaxLoop: 6, Progress: func(st deals.RoundStatus) {
		t.Logf("%8s  %-7s want lists %d, loops %d, proposed %d, trades %d", time.Since(start).Round(time.Millisecond),
			st.Phase, st.WantLists, st.Loops, st.Proposed, st.Trades)
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

// ownerOf is the member id of local offer event id x (0 when not local).
func ownerOf(offers []int64, owners []announce.Actor, x string) int64 {
	for i, id := range offers {
		if fmt.Sprintf("%s/announcements/%d", leaf, id) == x {
			return owners[i%30].MemberID
		}
	}
	return 0
}

// originOf is the base URL of event id x.
func originOf(x string) string { return x[:strings.Index(x, "/announcements/")] }
