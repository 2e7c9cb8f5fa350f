package ledger

import (
	"context"
	"testing"
	"time"
)

func TestHoldPostVoidExpire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, pool, clk := newTestLedger(t)
	a := mustAccount(t, l, "a", "EUR", -100, 100)
	b := mustAccount(t, l, "b", "EUR", -100, 100)
	deadline := clk.Now().Add(time.Minute)
	hold := func(amount int64, key string) Pending {
		t.Helper()
		p, err := l.Hold(ctx, HoldRequest{TransferRequest{Debit: a.ID, Credit: b.ID, Amount: amount, Description: "h",
			IdempotencyKey: key}, deadline})
		if err != nil {
			t.Fatalf("hold %d: %v", amount, err)
		}
		return p
	}
	expect := func(step string, wantA, wantB string) {
		t.Helper()
		if got := holdsOf(must(l.Account(ctx, a.ID))); got != wantA {
			t.Fatalf("%s: a: got %s, want %s", step, got, wantA)
		}
		if got := holdsOf(must(l.Account(ctx, b.ID))); got != wantB {
			t.Fatalf("%s: b: got %s, want %s", step, got, wantB)
		}
		assertIntegrity(t, l)
	}

	p1 := hold(40, "h1")
	if p1.Status != PendingOpen || p1.Amount != 40 || p1.Currency != "EUR" || !p1.ExpiresAt.Equal(deadline) || !p1.ResolvedAt.IsZero() {
		t.Fatalf("hold: got %+v", p1)
	}
	p2 := hold(30, "")
	p3 := hold(20, "")
	expect("three holds", "balance 0, held debits 90, held credits 0", "balance 0, held debits 0, held credits 90")

	// The holds count against the limits.
	if _, err := l.Transfer(ctx, TransferRequest{Debit: a.ID, Credit: b.ID, Amount: 11}); CodeOf(err) != CodeOverLowerLimit {
		t.Fatalf("transfer over held room: got %v, want %s", err, CodeOverLowerLimit)
	}
	// A repeated hold returns the first one.
	if again := hold(40, "h1"); again.ID != p1.ID {
		t.Fatalf("repeat hold: got id %d, want %d", again.ID, p1.ID)
	}

	clk.Add(time.Second)
	tr, err := l.Post(ctx, p1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if tr.PendingID != p1.ID || tr.Amount != 40 || tr.DebitBalance != -40 || tr.CreditBalance != 40 || tr.Description != "h" {
		t.Fatalf("post: got %+v", tr)
	}
	expect("posted 40", "balance -40, held debits 50, held credits 0", "balance 40, held debits 0, held credits 50")
	posted := must(l.Pending(ctx, p1.ID))
	if posted.Status != PendingPosted || posted.TransferID != tr.ID || !posted.ResolvedAt.Equal(clk.Now()) {
		t.Fatalf("posted hold: got %+v", posted)
	}

	v, err := l.Void(ctx, p2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != PendingVoided || v.TransferID != 0 || !v.ResolvedAt.Equal(clk.Now()) {
		t.Fatalf("void: got %+v", v)
	}
	expect("voided 30", "balance -40, held debits 20, held credits 0", "balance 40, held debits 0, held credits 20")

	// Repeats and the other combinations, none of which writes.
	before := readState(t, pool)
	if again, err := l.Post(ctx, p1.ID); err != nil || again.ID != tr.ID {
		t.Fatalf("post posted: got %+v, %v, want transfer %d", again, err, tr.ID)
	}
	if again, err := l.Void(ctx, p2.ID); err != nil || again.Status != PendingVoided || !again.ResolvedAt.Equal(v.ResolvedAt) {
		t.Fatalf("void voided: got %+v, %v", again, err)
	}
	if _, err := l.Void(ctx, p1.ID); CodeOf(err) != CodePendingResolved {
		t.Fatalf("void posted: got %v, want %s", err, CodePendingResolved)
	}
	if _, err := l.Post(ctx, p2.ID); CodeOf(err) != CodePendingResolved {
		t.Fatalf("post voided: got %v, want %s", err, CodePendingResolved)
	}
	if after := readState(t, pool); after != before {
		t.Fatalf("state changed: got %+v, want %+v", after, before)
	}

	// Past the deadline the hold cannot be posted, and ExpireDue releases it.
	clk.Add(time.Minute)
	if _, err := l.Post(ctx, p3.ID); CodeOf(err) != CodePendingResolved {
		t.Fatalf("post overdue: got %v, want %s", err, CodePendingResolved)
	}
	n, err := l.ExpireDue(ctx)
	if err != nil || n != 1 {
		t.Fatalf("expire: got %d, %v, want 1", n, err)
	}
	expect("expired 20", "balance -40, held debits 0, held credits 0", "balance 40, held debits 0, held credits 0")
	if got := must(l.Pending(ctx, p3.ID)); got.Status != PendingExpired {
		t.Fatalf("expired hold: got status %s, want %s", got.Status, PendingExpired)
	}
	if _, err := l.Post(ctx, p3.ID); CodeOf(err) != CodePendingResolved {
		t.Fatalf("post expired: got %v, want %s", err, CodePendingResolved)
	}
	if _, err := l.Void(ctx, p3.ID); CodeOf(err) != CodePendingResolved {
		t.Fatalf("void expired: got %v, want %s", err, CodePendingResolved)
	}
	if n, err := l.ExpireDue(ctx); err != nil || n != 0 {
		t.Fatalf("expire again: got %d, %v, want 0", n, err)
	}
	if _, err := l.Pending(ctx, 999999); CodeOf(err) != CodePendingNotFound {
		t.Fatalf("unknown hold: got %v, want %s", err, CodePendingNotFound)
	}
	// The database refuses to reopen a resolved hold.
	if _, err := pool.Exec(ctx, `UPDATE ledger_pending SET status = 'pending', resolved_at = NULL, resolved_seq = NULL WHERE id = $1`, p2.ID); err == nil {
		t.Fatal("reopening a voided hold: got no error, want a refusal")
	}
}

// TestPostFrozen posts a hold whose payer was frozen after the hold: the
// hold already reserved the room, so it posts.
func TestPostFrozen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, _, clk := newTestLedger(t)
	a := mustAccount(t, l, "a", "EUR", -10, 10)
	b := mustAccount(t, l, "b", "EUR", -10, 10)
	p, err := l.Hold(ctx, HoldRequest{TransferRequest{Debit: a.ID, Credit: b.ID, Amount: 10}, clk.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.SetStatus(ctx, a.ID, StatusFrozen); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Hold(ctx, HoldRequest{TransferRequest{Debit: a.ID, Credit: b.ID, Amount: 1}, clk.Now().Add(time.Hour)}); CodeOf(err) != CodeAccountFrozen {
		t.Fatalf("hold from frozen: got %v, want %s", err, CodeAccountFrozen)
	}
	tr, err := l.Post(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if tr.DebitBalance != -10 || tr.CreditBalance != 10 {
		t.Fatalf("got balances %d/%d, want -10/10", tr.DebitBalance, tr.CreditBalance)
	}
	assertIntegrity(t, l)
}

// TestExpireMany expires more holds than one chunk.
func TestExpireMany(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, _, clk := newTestLedger(t)
	a := mustAccount(t, l, "a", "EUR", -10000, 10000)
	b := mustAccount(t, l, "b", "EUR", -10000, 10000)
	const n = expireChunk + 7
	err := l.InTx(ctx, func(tx *Tx) error {
		for i := 0; i < n; i++ {
			if _, err := tx.Hold(ctx, HoldRequest{TransferRequest{Debit: a.ID, Credit: b.ID, Amount: 2}, clk.Now().Add(time.Duration(i+1) * time.Millisecond)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := must(l.Account(ctx, a.ID)).PendingDebits; got != 2*n {
		t.Fatalf("held: got %d, want %d", got, 2*n)
	}
	clk.Add(time.Hour)
	if got, err := l.ExpireDue(ctx); err != nil || got != n {
		t.Fatalf("expired: got %d, %v, want %d", got, err, n)
	}
	if got := holdsOf(must(l.Account(ctx, b.ID))); got != "balance 0, held debits 0, held credits 0" {
		t.Fatalf("b: got %s", got)
	}
	assertIntegrity(t, l)
}

// An overdue hold whose outcome is not known yet is extended instead of
// expiring; it can be posted after its first deadline. Resolved holds are
// not extended, and a deadline never moves earlier.
func TestExtendHold(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, _, clk := newTestLedger(t)
	a := mustAccount(t, l, "a", "EUR", -100, 100)
	b := mustAccount(t, l, "b", "EUR", -100, 100)
	first := clk.Now().Add(time.Minute)
	p, err := l.Hold(ctx, HoldRequest{TransferRequest{Debit: a.ID, Credit: b.ID, Amount: 25}, first})
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Minute) // overdue, not expired yet
	later := clk.Now().Add(time.Hour)
	got, err := l.Extend(ctx, p.ID, later)
	if err != nil || !got.ExpiresAt.Equal(later) || got.Status != PendingOpen {
		t.Fatalf("extend: got %+v, %v; want open until %s", got, err, later)
	}
	if got, err := l.Extend(ctx, p.ID, first); err != nil || !got.ExpiresAt.Equal(later) {
		t.Fatalf("extend to an earlier time: got %+v, %v; want the deadline kept at %s", got, err, later)
	}
	if n, err := l.ExpireDue(ctx); err != nil || n != 0 {
		t.Fatalf("expire after extending: got %d, %v; want 0", n, err)
	}
	if tr, err := l.Post(ctx, p.ID); err != nil || tr.Amount != 25 {
		t.Fatalf("post after the first deadline: got %+v, %v", tr, err)
	}
	if _, err := l.Extend(ctx, p.ID, later); CodeOf(err) != CodePendingResolved {
		t.Fatalf("extend a posted hold: got %v, want %s", err, CodePendingResolved)
	}
	if _, err := l.Extend(ctx, 999999, later); CodeOf(err) != CodePendingNotFound {
		t.Fatalf("extend an unknown hold: got %v, want %s", err, CodePendingNotFound)
	}
	assertIntegrity(t, l)
}
