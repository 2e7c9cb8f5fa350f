package ledger

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCommitterConcurrent: many clients transfer through one committer
// between accounts with tight limits, so that many are refused. Limits hold,
// the currency sums to zero, every accepted answer is a committed transfer
// (its row is there, with the answer's amount), every refused one wrote
// nothing, and each balance is the sum of the accepted answers.
func TestCommitterConcurrent(t *testing.T) {
	l, pool, _ := newTestLedger(t)
	ctx := context.Background()
	const accounts, clients, each = 12, 16, 25
	var ids []AccountID
	for i := range accounts {
		ids = append(ids, mustAccount(t, l, fmt.Sprintf("c%02d", i), "EUR", -300, 300).ID)
	}
	c := l.NewCommitter(CommitterOptions{Window: 2 * time.Millisecond, Max: 64})
	defer c.Close()
	want := map[AccountID]int64{}
	var mu sync.Mutex
	var accepted, refused atomic.Int64
	var wg sync.WaitGroup
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for k := range each {
				d := rng.IntN(accounts)
				cr := (d + 1 + rng.IntN(accounts-1)) % accounts
				r := TransferRequest{Debit: ids[d], Credit: ids[cr], Amount: 1 + rng.Int64N(150), IdempotencyKey: fmt.Sprintf("k-%d-%d", w, k)}
				tr, err := c.Transfer(ctx, r)
				switch CodeOf(err) {
				case "":
					if err != nil {
						t.Errorf("transfer %+v: %v", r, err)
						return
					}
					if tr.ID == 0 || tr.Amount != r.Amount || tr.Debit != r.Debit || tr.Credit != r.Credit {
						t.Errorf("answer %+v does not match request %+v", tr, r)
					}
					accepted.Add(1)
					mu.Lock()
					want[r.Debit] -= r.Amount
					want[r.Credit] += r.Amount
					mu.Unlock()
				case CodeOverLowerLimit, CodeOverUpperLimit:
					refused.Add(1)
					var n int
					if err := pool.QueryRow(ctx, `SELECT count(*) FROM ledger_transfers WHERE idempotency_key = $1`, r.IdempotencyKey).Scan(&n); err != nil || n != 0 {
						t.Errorf("refused %s: %d rows (%v)", r.IdempotencyKey, n, err)
					}
				default:
					t.Errorf("transfer %+v: %v", r, err)
				}
			}
		}()
	}
	wg.Wait()
	if accepted.Load() == 0 || refused.Load() == 0 {
		t.Fatalf("accepted %d, refused %d: the test needs both", accepted.Load(), refused.Load())
	}
	var rows int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM ledger_transfers`).Scan(&rows); err != nil || rows != accepted.Load() {
		t.Errorf("%d transfer rows, %d accepted answers (%v)", rows, accepted.Load(), err)
	}
	for _, id := range ids {
		a, err := l.Account(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if a.Balance != want[id] {
			t.Errorf("account %d: balance %d, answers add up to %d", id, a.Balance, want[id])
		}
		if a.Balance < -300 || a.Balance > 300 {
			t.Errorf("account %d: balance %d outside -300..300", id, a.Balance)
		}
	}
	rep, err := l.CheckIntegrity(ctx)
	if err != nil || !rep.OK || rep.CurrencySums["EUR"] != 0 {
		t.Errorf("integrity: %+v %v", rep, err)
	}
}

// TestCommitterOneRefusedAmongMany: a payer with room for 9 of 10
// concurrent transfers: exactly one is refused, the other nine commit,
// whatever batches they fell into.
func TestCommitterOneRefusedAmongMany(t *testing.T) {
	l, _, _ := newTestLedger(t)
	ctx := context.Background()
	payer := mustAccount(t, l, "payer", "EUR", -90, 0)
	payee := mustAccount(t, l, "payee", "EUR", 0, 1000)
	c := l.NewCommitter(CommitterOptions{Window: 20 * time.Millisecond})
	defer c.Close()
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.Transfer(ctx, TransferRequest{Debit: payer.ID, Credit: payee.ID, Amount: 10, IdempotencyKey: fmt.Sprintf("one-%d", i)})
		}()
	}
	wg.Wait()
	ok, over := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case CodeOf(err) == CodeOverLowerLimit:
			over++
		default:
			t.Errorf("unexpected: %v", err)
		}
	}
	if ok != 9 || over != 1 {
		t.Errorf("%d accepted, %d refused over the lower limit; want 9 and 1", ok, over)
	}
	if a, _ := l.Account(ctx, payer.ID); a.Balance != -90 {
		t.Errorf("payer balance %d, want -90", a.Balance)
	}
}

// TestCommitterSameKey: concurrent repeats of one key (same content) all
// get the first answer, and it is written once; a repeat with other content
// is a conflict.
func TestCommitterSameKey(t *testing.T) {
	l, pool, _ := newTestLedger(t)
	ctx := context.Background()
	a := mustAccount(t, l, "a", "EUR", -100, 100)
	b := mustAccount(t, l, "b", "EUR", -100, 100)
	c := l.NewCommitter(CommitterOptions{Window: 5 * time.Millisecond, Max: 3})
	defer c.Close()
	r := TransferRequest{Debit: a.ID, Credit: b.ID, Amount: 60, IdempotencyKey: "same"}
	ids := make([]int64, 12)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr, err := c.Transfer(ctx, r)
			if err != nil {
				t.Errorf("repeat %d: %v", i, err)
			}
			ids[i] = tr.ID
		}()
	}
	wg.Wait()
	for i, id := range ids {
		if id == 0 || id != ids[0] {
			t.Fatalf("repeat %d got transfer %d, the first got %d", i, id, ids[0])
		}
	}
	other := r
	other.Amount = 1
	if _, err := c.Transfer(ctx, other); CodeOf(err) != CodeIdempotencyConflict {
		t.Errorf("other content under the key: %v, want %s", err, CodeIdempotencyConflict)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM ledger_transfers`).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d transfers written, want 1 (%v)", n, err)
	}
	if acc, _ := l.Account(ctx, a.ID); acc.Balance != -60 {
		t.Errorf("balance %d, want -60", acc.Balance)
	}
}

// TestCommitterClosed: a closed committer refuses, it does not hang.
func TestCommitterClosed(t *testing.T) {
	l, _, _ := newTestLedger(t)
	a := mustAccount(t, l, "a", "EUR", -100, 100)
	b := mustAccount(t, l, "b", "EUR", -100, 100)
	c := l.NewCommitter(CommitterOptions{})
	c.Close()
	if _, err := c.Transfer(context.Background(), TransferRequest{Debit: a.ID, Credit: b.ID, Amount: 1}); err != ErrCommitterClosed {
		t.Errorf("after Close: %v, want ErrCommitterClosed", err)
	}
}

// TestCommitterRemembersRefusal: a transfer refused inside a group-committed
// batch keeps its key's refusal, as Ledger.Transfer does: once the payer
// could pay, a repeat of the key (through the committer or not) still gets
// the first answer and moves nothing.
func TestCommitterRemembersRefusal(t *testing.T) {
	l, pool, _ := newTestLedger(t)
	ctx := context.Background()
	payer := mustAccount(t, l, "payer", "EUR", -100, 1000)
	payee := mustAccount(t, l, "payee", "EUR", -100, 1000)
	other := mustAccount(t, l, "other", "EUR", -1000, 1000)
	c := l.NewCommitter(CommitterOptions{})
	defer c.Close()
	req := TransferRequest{Debit: payer.ID, Credit: payee.ID, Amount: 150, IdempotencyKey: "refused-once"}
	if _, err := c.Transfer(ctx, req); CodeOf(err) != CodeOverLowerLimit {
		t.Fatalf("first: got %v, want %s", err, CodeOverLowerLimit)
	}
	var code string
	if err := pool.QueryRow(ctx, `SELECT refusal_code FROM ledger_idempotency WHERE key = $1`, req.IdempotencyKey).Scan(&code); err != nil || code != string(CodeOverLowerLimit) {
		t.Fatalf("refusal record: %q (%v), want %s", code, err, CodeOverLowerLimit)
	}
	mustTransfer(t, l, TransferRequest{Debit: other.ID, Credit: payer.ID, Amount: 500})
	if _, err := c.Transfer(ctx, req); CodeOf(err) != CodeOverLowerLimit {
		t.Fatalf("repeat through the committer: got %v, want %s", err, CodeOverLowerLimit)
	}
	if _, err := l.Transfer(ctx, req); CodeOf(err) != CodeOverLowerLimit {
		t.Fatalf("repeat through the ledger: got %v, want %s", err, CodeOverLowerLimit)
	}
	if a, err := l.Account(ctx, payer.ID); err != nil || a.Balance != 500 {
		t.Fatalf("payer: %+v %v, want balance 500", a, err)
	}
}
