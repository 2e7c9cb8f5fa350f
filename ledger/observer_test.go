package ledger_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/migrations/pgtest"
)

// recorder is an Observer that keeps what it is told.
type recorder struct {
	mu        sync.Mutex
	transfers []int64 // amounts
	refusals  []ledger.Code
	batches   []int
}

func (r *recorder) Transferred(t ledger.Transfer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.transfers = append(r.transfers, t.Amount)
}

func (r *recorder) Refused(c ledger.Code) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refusals = append(r.refusals, c)
}

func (r *recorder) Batched(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, n)
}

// take returns what was recorded since the last take.
func (r *recorder) take() (transfers []int64, refusals []ledger.Code, batches []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	transfers, refusals, batches = r.transfers, r.refusals, r.batches
	r.transfers, r.refusals, r.batches = nil, nil, nil
	return
}

// TestObserver checks that the Observer hears exactly what each operation
// committed or refused, and nothing of a transaction rolled back.
func TestObserver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rec := &recorder{}
	l := ledger.New(pgtest.NewPool(t), ledger.Options{Observer: rec})
	a, err := l.CreateAccount(ctx, ledger.NewAccount{Code: "a", Currency: "EUR", Min: -100, Max: 100})
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.CreateAccount(ctx, ledger.NewAccount{Code: "b", Currency: "EUR", Min: -100, Max: 100})
	if err != nil {
		t.Fatal(err)
	}
	pay := func(amount int64, key string) ledger.TransferRequest {
		return ledger.TransferRequest{Debit: a.ID, Credit: b.ID, Amount: amount, IdempotencyKey: key}
	}
	errRollback := errors.New("caller gives up")
	tests := []struct {
		name      string
		do        func() error
		transfers []int64
		refusals  []ledger.Code
		batches   []int
	}{
		{"a transfer", func() error { _, err := l.Transfer(ctx, pay(10, "k1")); return err },
			[]int64{10}, nil, []int{1}},
		{"its repeat writes nothing", func() error { _, err := l.Transfer(ctx, pay(10, "k1")); return err },
			nil, nil, []int{1}},
		{"a refusal", func() error {
			if _, err := l.Transfer(ctx, pay(200, "")); ledger.CodeOf(err) != ledger.CodeOverLowerLimit {
				return errors.New("want a refusal over the lower limit")
			}
			return nil
		}, // it commits the record of its refusal (issue 10, hole 4): a batch of one
			nil, []ledger.Code{ledger.CodeOverLowerLimit}, []int{1}},
		{"a batch with two refusals", func() error {
			_, err := l.Batch(ctx, []ledger.BatchItem{{TransferRequest: pay(5, "")}, {TransferRequest: pay(500, "")},
				{TransferRequest: ledger.TransferRequest{Debit: a.ID, Credit: a.ID, Amount: 1}}})
			return err
		}, []int64{5}, []ledger.Code{ledger.CodeOverLowerLimit, ledger.CodeSameAccount}, []int{3}},
		{"a hold is not a transfer, its post is", func() error {
			p, err := l.Hold(ctx, ledger.HoldRequest{TransferRequest: pay(7, "h1"), ExpiresAt: time.Now().Add(time.Hour)})
			if err != nil {
				return err
			}
			_, err = l.Post(ctx, p.ID)
			return err
		}, []int64{7}, nil, nil},
		{"a refusal handled inside a committed transaction", func() error {
			return l.InTx(ctx, func(tx *ledger.Tx) error {
				if _, err := tx.Transfer(ctx, pay(1000, "")); ledger.CodeOf(err) != ledger.CodeOverLowerLimit {
					return errors.New("want a refusal")
				}
				_, err := tx.Transfer(ctx, pay(3, ""))
				return err
			})
		}, []int64{3}, []ledger.Code{ledger.CodeOverLowerLimit}, []int{1, 1}},
		{"a rolled back transaction reports no transfer", func() error {
			err := l.InTx(ctx, func(tx *ledger.Tx) error {
				if _, err := tx.Transfer(ctx, pay(4, "")); err != nil {
					return err
				}
				return errRollback
			})
			if !errors.Is(err, errRollback) {
				return err
			}
			return nil
		}, nil, nil, nil},
	}
	for _, tt := range tests {
		if err := tt.do(); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		transfers, refusals, batches := rec.take()
		if !slices.Equal(transfers, tt.transfers) || !slices.Equal(refusals, tt.refusals) || !slices.Equal(batches, tt.batches) {
			t.Errorf("%s: got transfers %v, refusals %v, batches %v; want %v, %v, %v",
				tt.name, transfers, refusals, batches, tt.transfers, tt.refusals, tt.batches)
		}
	}
}
