package ledger

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/migrations/pgtest"
)

// TestIdempotencyNearLimit is issue 10's hole 4: a payer 5.00 above its
// lower limit sends 40 concurrent 5.00 payments with one idempotency key.
// One is paid, and every other must get that same first result, never a
// refusal over the limit (the repeat would otherwise tell the member
// "failed" for a payment that was made). The same for holds.
func TestIdempotencyNearLimit(t *testing.T) {
	t.Parallel()
	const (
		senders = 40
		rounds  = 8
	)
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = senders
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	clk := newClock()
	l := New(pool, Options{Now: clk.Now})

	for _, kind := range []string{"transfer", "hold"} {
		for round := range rounds {
			payer := mustAccount(t, l, fmt.Sprintf("payer-%s-%d", kind, round), "EUR", -10000, 10000)
			payee := mustAccount(t, l, fmt.Sprintf("payee-%s-%d", kind, round), "EUR", -10000, 10000)
			other := mustAccount(t, l, fmt.Sprintf("other-%s-%d", kind, round), "EUR", -10000, 10000)
			mustTransfer(t, l, TransferRequest{Debit: payer.ID, Credit: other.ID, Amount: 9500})
			key := fmt.Sprintf("one-key-%s-%d", kind, round)
			req := TransferRequest{Debit: payer.ID, Credit: payee.ID, Amount: 500, IdempotencyKey: key}

			ids := make([]int64, senders)
			errs := make([]error, senders)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for g := range senders {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					if kind == "transfer" {
						var tr Transfer
						tr, errs[g] = l.Transfer(ctx, req)
						ids[g] = tr.ID
					} else {
						var p Pending
						p, errs[g] = l.Hold(ctx, HoldRequest{TransferRequest: req, ExpiresAt: clk.Now().Add(time.Hour)})
						ids[g] = p.ID
					}
				}()
			}
			close(start)
			wg.Wait()
			for g := range senders {
				if errs[g] != nil {
					t.Fatalf("%s round %d sender %d: got %v, want the first result (id %d)", kind, round, g, errs[g], ids[0])
				}
				if ids[g] != ids[0] {
					t.Fatalf("%s round %d: got ids %d and %d for one key, want one", kind, round, ids[g], ids[0])
				}
			}
			a, err := l.Account(ctx, payer.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got := a.Balance - a.PendingDebits; got != -10000 {
				t.Fatalf("%s round %d: payer balance less holds %d, want -10000", kind, round, got)
			}
		}
	}
	assertIntegrity(t, l)
}
