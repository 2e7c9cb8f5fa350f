package deals_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sxp-network/sxp/server/deals"
)

// peerAnswer is a fake peer's answer: nil (delivered), a failure, or a
// refusal with an HTTP status.
type refusal int

func (r refusal) Error() string   { return fmt.Sprintf("refused with %d", int(r)) }
func (r refusal) HTTPStatus() int { return int(r) }

// fakeSend records what is sent and answers with answer.
type fakeSend struct {
	mu     sync.Mutex
	sent   []string
	answer error
}

func (f *fakeSend) send(_ context.Context, target string, _ []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, target)
	return f.answer
}

func (f *fakeSend) set(err error) { f.mu.Lock(); f.answer = err; f.mu.Unlock() }

func (f *fakeSend) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sent)
}

// deliveries is every message kept, "state attempts message" in id order.
func deliveries(t *testing.T, m *market) []string {
	t.Helper()
	rows, err := m.pool.Query(context.Background(), `SELECT state || ' ' || attempts || ' ' || message FROM deal_deliveries ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// TestDeliverRetries: a proposal whose send fails is kept and sent again
// after the backoff (not before), an answer waits for its proposal, and a
// refusal is final.
func TestDeliverRetries(t *testing.T) {
	ctx := context.Background()
	m := newMarket(t)
	bike := m.offer("alice", "Bike", nil)
	canoe := m.oakOffer(5, "carol", "Canoe")
	m.wants("alice", bike, canoe)
	m.oakWants(canoe, bike)
	clock := now
	peer := &fakeSend{answer: errors.New("connection refused")}
	svc := deals.New(m.pool, deals.Config{BaseURL: leaf, CommunityID: "leaf", Currency: "LEAF", Divisions: 2, TTP: testTTP,
		Now: func() time.Time { return clock }, Send: peer.send, RetryBase: 10 * time.Second, RetryMax: time.Minute})
	res, err := svc.Round(ctx, deals.Options{})
	if err != nil || len(res.Proposals) != 1 {
		t.Fatalf("round: got %d proposals, %v; want 1", len(res.Proposals), err)
	}
	h := res.Proposals[0].H
	if got := peer.calls(); !slices.Equal(got, []string{oak + "/federation/v1/contracts"}) {
		t.Fatalf("sent: got %q, want the proposal to oak once", got)
	}
	// Alice accepts while oak is down: her answer waits behind the proposal.
	if _, err := svc.Answer(ctx, "alice", h, deals.Accept); err != nil {
		t.Fatal(err)
	}
	if got, want := deliveries(t, m), []string{"pending 1 proposal", "pending 0 accept alice@leaf"}; !slices.Equal(got, want) {
		t.Fatalf("after the answer: got %q, want %q", got, want)
	}
	// Not due before the backoff (10 s): nothing is sent.
	clock = clock.Add(9 * time.Second)
	if n, err := svc.Deliver(ctx); err != nil || n != 0 || len(peer.calls()) != 1 {
		t.Fatalf("before the backoff: delivered %d, %v, %d calls; want 0, 1 call", n, err, len(peer.calls()))
	}
	// Oak is back: the proposal, then the answer, in one pass.
	peer.set(nil)
	clock = clock.Add(time.Second)
	if n, err := svc.Deliver(ctx); err != nil || n != 2 {
		t.Fatalf("oak back: delivered %d, %v; want the proposal and the answer", n, err)
	}
	if n, err := svc.Deliver(ctx); err != nil || n != 0 {
		t.Fatalf("next pass: delivered %d, %v; want nothing left", n, err)
	}
	if got, want := deliveries(t, m), []string{"delivered 2 proposal", "delivered 1 accept alice@leaf"}; !slices.Equal(got, want) {
		t.Errorf("delivered: got %q, want %q", got, want)
	}
	want := []string{oak + "/federation/v1/contracts", oak + "/federation/v1/contracts", oak + "/federation/v1/contracts/" + h + "/accept"}
	if got := peer.calls(); !slices.Equal(got, want) {
		t.Errorf("sent: got %q, want %q", got, want)
	}

	// A refusal is final: a decline oak refuses (409) is not sent again.
	lamp := m.offer("bob", "Lamp", nil)
	drill := m.oakOffer(6, "dave", "Drill")
	m.wants("bob", lamp, drill)
	m.oakWants(drill, lamp)
	res, err = svc.Round(ctx, deals.Options{})
	if err != nil || len(res.Proposals) != 1 {
		t.Fatalf("second round: got %d proposals, %v", len(res.Proposals), err)
	}
	peer.set(refusal(409))
	if _, err := svc.Answer(ctx, "bob", res.Proposals[0].H, deals.Decline); err != nil {
		t.Fatal(err)
	}
	calls := len(peer.calls())
	clock = clock.Add(time.Hour)
	if n, err := svc.Deliver(ctx); err != nil || n != 0 || len(peer.calls()) != calls {
		t.Errorf("after a refusal: delivered %d, %v, %d more calls; want none", n, err, len(peer.calls())-calls)
	}
	if got := deliveries(t, m)[2:]; !slices.Equal(got, []string{"delivered 1 proposal", "refused 1 decline bob@leaf"}) {
		t.Errorf("refused: got %q", got)
	}
}

// TestExpire: a proposal past its deadline is expired by the deadline
// job, its undelivered messages dropped, its offers free for the next
// round; answering it then says it has ended.
func TestExpire(t *testing.T) {
	ctx := context.Background()
	m := newMarket(t)
	bike := m.offer("alice", "Bike", nil)
	canoe := m.oakOffer(5, "carol", "Canoe")
	m.wants("alice", bike, canoe)
	m.oakWants(canoe, bike)
	clock := now
	peer := &fakeSend{answer: errors.New("down")}
	svc := deals.New(m.pool, deals.Config{BaseURL: leaf, CommunityID: "leaf", Currency: "LEAF", Divisions: 2, TTP: testTTP,
		Now: func() time.Time { return clock }, Send: peer.send, Deadline: time.Hour})
	res, err := svc.Round(ctx, deals.Options{})
	if err != nil || len(res.Proposals) != 1 {
		t.Fatalf("round: got %d proposals, %v", len(res.Proposals), err)
	}
	h := res.Proposals[0].H
	clock = now.Add(time.Hour - time.Second)
	if n, err := svc.Expire(ctx); err != nil || n != 0 {
		t.Fatalf("before the deadline: expired %d, %v; want 0", n, err)
	}
	clock = now.Add(time.Hour)
	if n, err := svc.Expire(ctx); err != nil || n != 1 {
		t.Fatalf("at the deadline: expired %d, %v; want 1", n, err)
	}
	var state string
	if err := m.pool.QueryRow(ctx, `SELECT state FROM deal_proposals WHERE h = $1`, h).Scan(&state); err != nil || state != "expired" {
		t.Errorf("state: got %q, %v; want expired", state, err)
	}
	if got := deliveries(t, m); !slices.Equal(got, []string{"dropped 1 proposal"}) {
		t.Errorf("deliveries: got %q, want the proposal dropped", got)
	}
	var de *deals.Error
	if _, err := svc.Answer(ctx, "alice", h, deals.Accept); !errors.As(err, &de) || de.Code != deals.CodeConflict {
		t.Errorf("accepting an expired proposal: got %v, want conflict", err)
	}
	clock = clock.Add(time.Minute) // the offers are live for a day
	res, err = svc.Round(ctx, deals.Options{})
	if err != nil || len(res.Proposals) != 1 || res.Proposals[0].H == h {
		t.Errorf("next round: got %d proposals, %v; want the loop proposed anew", len(res.Proposals), err)
	}
}

// TestDeliverOnCatchUp: a message waiting out its backoff is sent at once
// when the federation outbox has delivered to its server since it failed
// (the peer is back and catching up), not before.
func TestDeliverOnCatchUp(t *testing.T) {
	ctx := context.Background()
	m := newMarket(t)
	bike := m.offer("alice", "Bike", nil)
	canoe := m.oakOffer(5, "carol", "Canoe")
	m.wants("alice", bike, canoe)
	m.oakWants(canoe, bike)
	peer := &fakeSend{answer: errors.New("connection refused")}
	svc := deals.New(m.pool, deals.Config{BaseURL: leaf, CommunityID: "leaf", Currency: "LEAF", Divisions: 2, TTP: testTTP,
		Now: func() time.Time { return now }, Send: peer.send, RetryBase: time.Hour, RetryMax: time.Hour})
	if _, err := m.pool.Exec(ctx, `INSERT INTO federation_peers (base_url, state, last_delivery_at) VALUES ($1, 'active', $2)`,
		oak, now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if res, err := svc.Round(ctx, deals.Options{}); err != nil || len(res.Proposals) != 1 {
		t.Fatalf("round: got %d proposals, %v", len(res.Proposals), err)
	}
	peer.set(nil)
	if n, err := svc.Deliver(ctx); err != nil || n != 0 {
		t.Fatalf("oak not reached since: delivered %d, %v; want 0 (an hour's backoff)", n, err)
	}
	if _, err := m.pool.Exec(ctx, `UPDATE federation_peers SET last_delivery_at = $2 WHERE base_url = $1`, oak, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, err := svc.Deliver(ctx); err != nil || n != 1 {
		t.Fatalf("oak reached again: delivered %d, %v; want the proposal", n, err)
	}
	if got := deliveries(t, m); !slices.Equal(got, []string{"delivered 2 proposal"}) {
		t.Errorf("deliveries: got %q", got)
	}
}

// TestRefusedProposalEnds: a proposal a party's server refuses (400: its
// member cannot pay, an offer gone) ends at the proposer, and its offers
// are free for the next round.
func TestRefusedProposalEnds(t *testing.T) {
	ctx := context.Background()
	m := newMarket(t)
	bike := m.offer("alice", "Bike", nil)
	canoe := m.oakOffer(5, "carol", "Canoe")
	m.wants("alice", bike, canoe)
	m.oakWants(canoe, bike)
	peer := &fakeSend{answer: refusal(400)}
	svc := deals.New(m.pool, deals.Config{BaseURL: leaf, CommunityID: "leaf", Currency: "LEAF", Divisions: 2, TTP: testTTP,
		Now: func() time.Time { return now }, Send: peer.send})
	res, err := svc.Round(ctx, deals.Options{})
	if err != nil || len(res.Proposals) != 1 {
		t.Fatalf("round: got %d proposals, %v", len(res.Proposals), err)
	}
	h := res.Proposals[0].H
	var state string
	if err := m.pool.QueryRow(ctx, `SELECT state FROM deal_proposals WHERE h = $1`, h).Scan(&state); err != nil || state != "ended" {
		t.Errorf("refused proposal: got %q, %v; want ended", state, err)
	}
	if got := deliveries(t, m); !slices.Equal(got, []string{"refused 1 proposal"}) {
		t.Errorf("deliveries: got %q", got)
	}
	if res, err := svc.Round(ctx, deals.Options{}); err != nil || len(res.Proposals) != 1 || res.Proposals[0].H == h {
		t.Errorf("next round: got %d proposals, %v; want the loop proposed again", len(res.Proposals), err)
	}
}
