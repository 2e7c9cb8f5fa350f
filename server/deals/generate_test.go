package deals_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/server/announce"
	"github.com/sxp-network/sxp/server/members"
)

// generate fills m with a seeded market: local offers of localMembers
// members here and perPeer offers (each of its own member) at each of the
// peers oak and pine, and one want list for every offer (3 to 8 accepted
// offers drawn from all of them, never one's own). It returns the number
// of want lists.
func generate(t *testing.T, m *market, seed uint64, localMembers, localOffers, perPeer int) int {
	t.Helper()
	ctx := context.Background()
	mem := members.New(m.pool, ledger.New(m.pool, ledger.Options{}), members.Options{Currency: "LEAF", DefaultMin: -10000, DefaultMax: 10000})
	rng := rand.New(rand.NewPCG(seed, 13))
	var ids []string
	var owners []announce.Actor
	ownerOf := map[string]int64{} // local offer event id → member id
	var localIDs []int64
	for i := range localMembers {
		mm, err := mem.Add(ctx, members.Registration{Username: fmt.Sprintf("m%02d", i), Password: "password-long"}, members.RoleMember)
		if err != nil {
			t.Fatal(err)
		}
		owners = append(owners, announce.Actor{MemberID: mm.ID, Username: mm.Username})
	}
	for i := range localOffers {
		a, err := m.ann.Create(ctx, owners[i%localMembers], announce.Draft{Kind: announce.Offer, Title: fmt.Sprintf("Item %d", i), Category: "goods"})
		if err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("%s/announcements/%d", leaf, a.ID)
		localIDs = append(localIDs, a.ID)
		ownerOf[id] = owners[i%localMembers].MemberID
		ids = append(ids, id)
	}
	for _, p := range []string{"http://oak.test", "http://pine.test"} {
		_, err := m.pool.Exec(ctx, `
			INSERT INTO announcements (member_id, author, kind, title, remote_category, remote_currency, expires_at, origin, origin_id)
			SELECT NULL, 'u' || g || '@' || split_part(split_part($1, '//', 2), '.', 1), 'offer', 'Item ' || g, 'Goods', 'X', $2, $1,
			       $1 || '/announcements/' || g
			  FROM generate_series(1, $3::int) g`, p, now.Add(24*time.Hour), perPeer)
		if err != nil {
			t.Fatal(err)
		}
		for g := 1; g <= perPeer; g++ {
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
	for i, id := range localIDs {
		self := ids[i]
		var accepts []string
		for _, x := range pick(self) {
			if ownerOf[x] != ownerOf[self] { // never one's own offer
				accepts = append(accepts, x)
			}
		}
		if _, err := m.ann.SetWantList(ctx, owners[i%localMembers], id, accepts); err != nil {
			t.Fatal(err)
		}
	}
	batch := &pgx.Batch{}
	for _, id := range ids[localOffers:] {
		batch.Queue(`INSERT INTO remote_wantlists (object_id, origin, offer, accepts, key) VALUES ($1, $2, $3, $4, $5)`,
			id+"#w", id[:strings.Index(id, "/announcements/")], id, pick(id), []byte(keyOf(id)))
	}
	if err := m.pool.SendBatch(ctx, batch).Close(); err != nil {
		t.Fatal(err)
	}
	return len(ids)
}
