package intertrade

import (
	"context"
	"testing"

	"github.com/sxp-network/sxp/server/payments"
)

// TestKeysSharedWithLocalPayments: a member's idempotency key pays once,
// whether the first use was a local payment or a payment through the circle.
func TestKeysSharedWithLocalPayments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	circle := newFakeCircle(t)
	e := newEnv(t, circle.URL, nil)
	local := payments.New(e.pool, e.ledger, e.members, payments.Currency{Code: testCurrency, Divisions: 2}, e.clock.Now)

	// Local first: the same key for a remote payment is refused before the
	// circle is asked, and nothing moves.
	if _, err := local.Pay(ctx, payments.PayRequest{Payer: e.alice, To: "bob", Amount: 100, IdempotencyKey: "k-local"}); err != nil {
		t.Fatalf("local pay: %v", err)
	}
	_, err := e.svc.Pay(ctx, PayRequest{PayerAccount: e.alice.Account, PayerUsername: "alice", To: "bob@acorn", Amount: 500, IdempotencyKey: "k-local"})
	if CodeOf(err) != ErrConflict {
		t.Fatalf("remote pay with a local payment's key: got %v, want %s", err, ErrConflict)
	}
	if _, writes, tries := circle.Snapshot(); writes != 0 || tries != 0 {
		t.Fatalf("circle asked: writes %d, tries %d; want 0, 0", writes, tries)
	}
	if n := e.count(t, "true"); n != 0 {
		t.Fatalf("intertrades recorded: got %d, want 0", n)
	}
	if got := e.account(t, e.alice.Account); got.Balance != -100 || got.PendingDebits != 0 {
		t.Fatalf("alice: got balance %d held %d, want -100, 0", got.Balance, got.PendingDebits)
	}

	// Remote first: the same key for a local payment is refused, and nothing moves.
	p, err := e.svc.Pay(ctx, PayRequest{PayerAccount: e.alice.Account, PayerUsername: "alice", To: "bob@acorn", Amount: 500, IdempotencyKey: "k-remote"})
	if err != nil || p.State != StateCompleted {
		t.Fatalf("remote pay: got %+v, %v; want completed", p, err)
	}
	_, err = local.Pay(ctx, payments.PayRequest{Payer: e.alice, To: "bob", Amount: 100, IdempotencyKey: "k-remote"})
	if payments.CodeOf(err) != payments.CodeIdempotencyConflict {
		t.Fatalf("local pay with a remote payment's key: got %v, want %s", err, payments.CodeIdempotencyConflict)
	}
	if got := e.account(t, e.alice.Account).Balance; got != -600 {
		t.Fatalf("alice: got %d, want -600", got)
	}
	if got := e.account(t, e.bob.Account).Balance; got != 100 {
		t.Fatalf("bob: got %d, want 100", got)
	}

	// Two members may use the same key.
	if _, err := local.Pay(ctx, payments.PayRequest{Payer: e.bob, To: "alice", Amount: 1, IdempotencyKey: "k-remote"}); err != nil {
		t.Fatalf("bob with alice's key: %v", err)
	}
}
