package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/sxp-network/sxp/server/deals"
)

// TestProposalReachesPeerThatWasDown: two real servers; oak is down when
// leaf's round runs, so leaf keeps the proposal (pending, its error
// recorded) and oak has none; once oak is back, leaf's deal_deliveries job
// delivers it, and bob sees it on oak. Bob's accept goes back the same way.
func TestProposalReachesPeerThatWasDown(t *testing.T) {
	ctx := context.Background()
	a, b := newNode(t, "leaf"), newNode(t, "oak")
	peer(t, a, b)
	alice, bob := a.member("alice"), b.member("bob")
	bike, canoe := a.offer(alice, "Bike"), b.offer(bob, "Canoe")
	bikeID := fmt.Sprintf("%s/announcements/%d", a.base, bike.ID)
	canoeID := fmt.Sprintf("%s/announcements/%d", b.base, canoe.ID)
	eventually(t, "each holds the other's offer", func() bool { return len(a.search("canoe")) == 1 && len(b.search("bike")) == 1 })
	if _, err := a.srv.Announcements.SetWantList(ctx, alice, bike.ID, []string{canoeID}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.srv.Announcements.SetWantList(ctx, bob, canoe.ID, []string{bikeID}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "leaf holds bob's want list", func() bool {
		_, _, ok := a.remoteWantList(fmt.Sprintf("%s/wantlists/%d", b.base, canoe.ID))
		return ok
	})
	proposals := func(n *node) int {
		var c int
		if err := n.pool.QueryRow(ctx, `SELECT count(*) FROM deal_proposals`).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	delivery := func() (state string, attempts int, lastError string) {
		err := a.pool.QueryRow(ctx, `SELECT state, attempts, last_error FROM deal_deliveries WHERE message = 'proposal'`).
			Scan(&state, &attempts, &lastError)
		if err != nil {
			t.Fatal(err)
		}
		return
	}

	b.fault.Store(faultDown)
	res, err := a.srv.Deals.Round(ctx, deals.Options{})
	if err != nil || len(res.Proposals) != 1 {
		t.Fatalf("round on leaf: got %d proposals, %v; want 1", len(res.Proposals), err)
	}
	h := res.Proposals[0].H
	if st, n, e := delivery(); st != "pending" || n != 1 || e == "" || proposals(b) != 0 {
		t.Fatalf("oak down: got delivery %s after %d attempts (%q), %d proposals on oak; want pending, 1, an error, 0", st, n, e, proposals(b))
	}

	b.fault.Store(0)
	eventually(t, "leaf's job delivers the proposal once oak is back", func() bool {
		if _, err := a.srv.Jobs.RunOnce(ctx, deals.JobDeliveries); err != nil {
			t.Fatal(err)
		}
		st, _, _ := delivery()
		return st == "delivered"
	})
	if st, n, e := delivery(); st != "delivered" || n != 2 || e != "" || proposals(b) != 1 {
		t.Fatalf("oak back: got %s after %d attempts (%q), %d proposals on oak; want delivered, 2, no error, 1", st, n, e, proposals(b))
	}
	if st, raw := b.get(b.login("bob"), "/api/v1/proposals"); st != 200 || !strings.Contains(raw, `"h":"`+h+`"`) {
		t.Errorf("bob's proposals on oak: got %d %s", st, raw)
	}

	// Bob accepts while leaf is down; leaf gets it when it is back.
	a.fault.Store(faultDown)
	if p, err := b.srv.Deals.Answer(ctx, "bob", h, deals.Accept); err != nil || p.State != "proposed" {
		t.Fatalf("bob accepts: got %q, %v", p.State, err)
	}
	a.fault.Store(0)
	eventually(t, "oak's job tells leaf bob's accept", func() bool {
		if _, err := b.srv.Jobs.RunOnce(ctx, deals.JobDeliveries); err != nil {
			t.Fatal(err)
		}
		var n int
		a.pool.QueryRow(ctx, `SELECT count(*) FROM deal_proposal_answers WHERE h = $1 AND member = 'bob@oak' AND answer = 'accept'`, h).Scan(&n)
		return n == 1
	})
	if p, err := a.srv.Deals.Answer(ctx, "alice", h, deals.Accept); err != nil || p.State != "ready" {
		t.Errorf("alice accepts last: got %q, %v; want ready", p.State, err)
	}
	// The jobs are counted in sxp_job_runs_total.
	families, err := a.srv.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range families {
		if f.GetName() == "sxp_job_runs_total" {
			for _, m := range f.GetMetric() {
				seen[label(m, "name")+" "+label(m, "result")] = m.GetCounter().GetValue() > 0
			}
		}
	}
	for _, name := range []string{deals.JobDeliveries, deals.JobDeadlines, deals.JobRounds} {
		if _, ok := seen[name+" ok"]; !ok {
			t.Errorf("sxp_job_runs_total lists no %s", name)
		}
	}
	if !seen[deals.JobDeliveries+" ok"] {
		t.Errorf("sxp_job_runs_total{name=%q,result=\"ok\"} is zero", deals.JobDeliveries)
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
