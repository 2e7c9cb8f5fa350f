package ledger

import (
	"context"
	"testing"
)

func TestBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, pool, _ := newTestLedger(t)
	a := mustAccount(t, l, "a", "EUR", -100, 100)
	b := mustAccount(t, l, "b", "EUR", -100, 100)
	c := mustAccount(t, l, "c", "EUR", -100, 100)
	usd := mustAccount(t, l, "usd", "USD", -100, 100)
	mustTransfer(t, l, TransferRequest{Debit: c.ID, Credit: a.ID, Amount: 5, IdempotencyKey: "old"})
	before := readState(t, pool)

	items := []BatchItem{
		{TransferRequest: TransferRequest{Debit: a.ID, Credit: b.ID, Amount: 60}},                                    // 0 ok (a starts at 5)
		{TransferRequest: TransferRequest{Debit: a.ID, Credit: b.ID, Amount: 50}},                                    // 1 over lower
		{TransferRequest: TransferRequest{Debit: b.ID, Credit: c.ID, Amount: 10}, Group: "g1"},                       // 2 g1 ok
		{TransferRequest: TransferRequest{Debit: a.ID, Credit: usd.ID, Amount: 1}},                                   // 3 currency
		{TransferRequest: TransferRequest{Debit: c.ID, Credit: a.ID, Amount: 10}, Group: "g1"},                       // 4 g1 ok
		{TransferRequest: TransferRequest{Debit: a.ID, Credit: c.ID, Amount: 20}, Group: "g2"},                       // 5 g2 group failed
		{TransferRequest: TransferRequest{Debit: a.ID, Credit: b.ID, Amount: 100}, Group: "g2"},                      // 6 g2 over lower
		{TransferRequest: TransferRequest{Debit: b.ID, Credit: a.ID, Amount: 1}, Group: "g2"},                        // 7 g2 group failed
		{TransferRequest: TransferRequest{Debit: c.ID, Credit: a.ID, Amount: 5, IdempotencyKey: "old"}},              // 8 earlier result
		{TransferRequest: TransferRequest{Debit: c.ID, Credit: a.ID, Amount: 6, IdempotencyKey: "old"}},              // 9 conflict
		{TransferRequest: TransferRequest{Debit: b.ID, Credit: a.ID, Amount: 7, IdempotencyKey: "new"}},              // 10 ok
		{TransferRequest: TransferRequest{Debit: b.ID, Credit: a.ID, Amount: 7, IdempotencyKey: "new"}},              // 11 same as 10
		{TransferRequest: TransferRequest{Debit: b.ID, Credit: a.ID, Amount: 8, IdempotencyKey: "new"}},              // 12 conflict
		{TransferRequest: TransferRequest{Debit: 999, Credit: a.ID, Amount: 1}},                                      // 13 unknown
		{TransferRequest: TransferRequest{Debit: a.ID, Credit: b.ID, Amount: 0}},                                     // 14 non-positive
		{TransferRequest: TransferRequest{Debit: b.ID, Credit: c.ID, Amount: 3}, Group: "g3"},                        // 15 g3: refused by 16's conflict
		{TransferRequest: TransferRequest{Debit: b.ID, Credit: c.ID, Amount: 3, IdempotencyKey: "old"}, Group: "g3"}, // 16 conflict
	}
	res, err := l.Batch(ctx, items)
	if err != nil {
		t.Fatal(err)
	}
	wantCodes := []Code{"", CodeOverLowerLimit, "", CodeCurrencyMismatch, "", CodeGroupFailed, CodeOverLowerLimit, CodeGroupFailed,
		"", CodeIdempotencyConflict, "", "", CodeIdempotencyConflict, CodeUnknownAccount, CodeNonPositiveAmount,
		CodeGroupFailed, CodeIdempotencyConflict}
	if len(res) != len(items) {
		t.Fatalf("got %d results, want %d", len(res), len(items))
	}
	for i, want := range wantCodes {
		if got := CodeOf(res[i].Err); got != want {
			t.Errorf("item %d: got code %q (%v), want %q", i, got, res[i].Err, want)
		}
		if want == "" && res[i].Transfer.ID == 0 {
			t.Errorf("item %d: got no transfer, want one", i)
		}
		if want != "" && res[i].Transfer.ID != 0 {
			t.Errorf("item %d: got transfer %d with a refusal, want none", i, res[i].Transfer.ID)
		}
	}
	if res[11].Transfer.ID != res[10].Transfer.ID {
		t.Errorf("repeated key in batch: got transfer %d, want %d", res[11].Transfer.ID, res[10].Transfer.ID)
	}
	// Running balances follow the order of application: 0, g1 (2, 4), 10.
	type after struct{ d, c int64 }
	for i, want := range map[int]after{0: {-55, 60}, 2: {50, 5}, 4: {-5, -45}, 10: {43, -38}} {
		if got := (after{res[i].Transfer.DebitBalance, res[i].Transfer.CreditBalance}); got != want {
			t.Errorf("item %d: got balances after %+v, want %+v", i, got, want)
		}
	}
	if got := balances(t, l, a.ID, b.ID, c.ID); got[0] != -38 || got[1] != 43 || got[2] != -5 {
		t.Fatalf("balances: got %v, want [-38 43 -5]", got)
	}
	after1 := readState(t, pool)
	if got, want := after1.Transfers-before.Transfers, 4; got != want {
		t.Fatalf("got %d new transfers, want %d", got, want)
	}
	assertIntegrity(t, l)

	// The same batch again: the keyed items return their first results,
	// the others are applied again by the same rules.
	res2, err := l.Batch(ctx, items[8:13])
	if err != nil {
		t.Fatal(err)
	}
	if res2[2].Transfer.ID != res[10].Transfer.ID || res2[3].Transfer.ID != res[10].Transfer.ID || CodeOf(res2[4].Err) != CodeIdempotencyConflict {
		t.Fatalf("repeat: got %+v", res2)
	}
	if got := readState(t, pool); got != after1 {
		t.Fatalf("repeat wrote: got %+v, want %+v", got, after1)
	}
}

// TestBatchInTx mixes a batch with the caller's own SQL in one transaction,
// and rolls everything back when the caller fails.
func TestBatchInTx(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, pool, _ := newTestLedger(t)
	a := mustAccount(t, l, "a", "EUR", -100, 100)
	b := mustAccount(t, l, "b", "EUR", -100, 100)
	before := readState(t, pool)
	errStop := &Error{Code: CodeInvalid, Message: "caller stops"}
	err := l.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.Batch(ctx, []BatchItem{{TransferRequest: TransferRequest{Debit: a.ID, Credit: b.ID, Amount: 5}}}); err != nil {
			return err
		}
		if _, err := tx.Conn().Exec(ctx, `SELECT 1`); err != nil {
			return err
		}
		return errStop
	})
	if err != errStop {
		t.Fatalf("got %v, want the caller's error", err)
	}
	if got := readState(t, pool); got != before {
		t.Fatalf("rolled back: got %+v, want %+v", got, before)
	}
	err = l.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.Transfer(ctx, TransferRequest{Debit: a.ID, Credit: b.ID, Amount: 500}); CodeOf(err) != CodeOverLowerLimit {
			t.Errorf("refused in tx: got %v, want %s", err, CodeOverLowerLimit)
		}
		// A refusal leaves the transaction usable.
		_, err := tx.Transfer(ctx, TransferRequest{Debit: a.ID, Credit: b.ID, Amount: 5})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := balances(t, l, a.ID, b.ID); got[0] != -5 || got[1] != 5 {
		t.Fatalf("balances: got %v, want [-5 5]", got)
	}
	if res, err := l.Batch(ctx, nil); err != nil || len(res) != 0 {
		t.Fatalf("empty batch: got %v, %v", res, err)
	}
}
