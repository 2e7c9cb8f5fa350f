package ledger

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"
)

// TestRefusals checks every refusal code: the code, and that nothing was written.
func TestRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, pool, clk := newTestLedger(t)
	a := mustAccount(t, l, "a", "EUR", -100, 100)
	b := mustAccount(t, l, "b", "EUR", -100, 100)
	usd := mustAccount(t, l, "usd", "USD", -100, 100)
	c := mustAccount(t, l, "c", "EUR", -100, 100)
	frozen := mustAccount(t, l, "frozen", "EUR", -100, 100)
	if _, err := l.SetStatus(ctx, frozen.ID, StatusFrozen); err != nil {
		t.Fatal(err)
	}
	mustTransfer(t, l, TransferRequest{Debit: a.ID, Credit: b.ID, Amount: 60, IdempotencyKey: "used"})
	_, err := l.Hold(ctx, HoldRequest{TransferRequest{Debit: a.ID, Credit: b.ID, Amount: 10, IdempotencyKey: "held"}, clk.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	voided, err := l.Hold(ctx, HoldRequest{TransferRequest{Debit: a.ID, Credit: b.ID, Amount: 1}, clk.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Void(ctx, voided.ID); err != nil {
		t.Fatal(err)
	}
	// a: balance -60, held 11 → 10 held (one voided); can pay 30 more. b: 60, held credits 10; can receive 30.

	tr := func(d, c AccountID, amount int64) func() error {
		return func() error {
			_, err := l.Transfer(ctx, TransferRequest{Debit: d, Credit: c, Amount: amount})
			return err
		}
	}
	tests := []struct {
		name    string
		do      func() error
		want    Code
		account AccountID
	}{
		{"unknown debit", tr(999, b.ID, 1), CodeUnknownAccount, 999},
		{"unknown credit", tr(a.ID, 999, 1), CodeUnknownAccount, 999},
		{"currency mismatch", tr(a.ID, usd.ID, 1), CodeCurrencyMismatch, usd.ID},
		{"zero amount", tr(a.ID, b.ID, 0), CodeNonPositiveAmount, 0},
		{"negative amount", tr(a.ID, b.ID, -1), CodeNonPositiveAmount, 0},
		{"same account", tr(a.ID, a.ID, 1), CodeSameAccount, a.ID},
		{"payer frozen", tr(frozen.ID, b.ID, 1), CodeAccountFrozen, frozen.ID},
		{"payee frozen", tr(a.ID, frozen.ID, 1), CodeAccountFrozen, frozen.ID},
		{"over lower limit (holds count)", tr(a.ID, c.ID, 31), CodeOverLowerLimit, a.ID},
		{"over upper limit (holds count)", tr(c.ID, b.ID, 31), CodeOverUpperLimit, b.ID},
		{"over both limits: the payer's first", tr(a.ID, b.ID, 31), CodeOverLowerLimit, a.ID},
		{"idempotency conflict", func() error {
			_, err := l.Transfer(ctx, TransferRequest{Debit: a.ID, Credit: b.ID, Amount: 61, IdempotencyKey: "used"})
			return err
		}, CodeIdempotencyConflict, 0},
		{"idempotency conflict with a hold's key", func() error {
			_, err := l.Transfer(ctx, TransferRequest{Debit: a.ID, Credit: b.ID, Amount: 10, IdempotencyKey: "held"})
			return err
		}, CodeIdempotencyConflict, 0},
		{"hold with a transfer's key", func() error {
			_, err := l.Hold(ctx, HoldRequest{TransferRequest{Debit: a.ID, Credit: b.ID, Amount: 60, IdempotencyKey: "used"}, clk.Now().Add(time.Hour)})
			return err
		}, CodeIdempotencyConflict, 0},
		{"hold over lower limit", func() error {
			_, err := l.Hold(ctx, HoldRequest{TransferRequest{Debit: a.ID, Credit: c.ID, Amount: 31}, clk.Now().Add(time.Hour)})
			return err
		}, CodeOverLowerLimit, a.ID},
		{"hold already expired", func() error {
			_, err := l.Hold(ctx, HoldRequest{TransferRequest{Debit: a.ID, Credit: b.ID, Amount: 1}, clk.Now()})
			return err
		}, CodeInvalid, 0},
		{"post unknown hold", func() error { _, err := l.Post(ctx, 424242); return err }, CodePendingNotFound, 0},
		{"void unknown hold", func() error { _, err := l.Void(ctx, 424242); return err }, CodePendingNotFound, 0},
		{"post voided hold", func() error { _, err := l.Post(ctx, voided.ID); return err }, CodePendingResolved, 0},
		{"batch group failed", func() error {
			res, err := l.Batch(ctx, []BatchItem{
				{TransferRequest{Debit: a.ID, Credit: b.ID, Amount: 5}, "g"},
				{TransferRequest{Debit: a.ID, Credit: b.ID, Amount: 500}, "g"},
			})
			if err != nil {
				return err
			}
			if CodeOf(res[1].Err) != CodeOverLowerLimit {
				return res[1].Err
			}
			return res[0].Err
		}, CodeGroupFailed, 0},
		{"duplicate account", func() error {
			_, err := l.CreateAccount(ctx, NewAccount{Code: "a", Currency: "EUR"})
			return err
		}, CodeDuplicateAccount, 0},
		{"new account with min above zero", func() error {
			_, err := l.CreateAccount(ctx, NewAccount{Code: "c", Currency: "EUR", Min: 1, Max: 5})
			return err
		}, CodeInvalid, 0},
		{"new account without currency", func() error {
			_, err := l.CreateAccount(ctx, NewAccount{Code: "c"})
			return err
		}, CodeInvalid, 0},
		{"limits exclude balance", func() error { _, err := l.SetLimits(ctx, a.ID, -69, 100); return err }, CodeLimitsExcludeBalance, a.ID},
		{"limits exclude held credits", func() error { _, err := l.SetLimits(ctx, b.ID, -100, 69); return err }, CodeLimitsExcludeBalance, b.ID},
		{"set limits of unknown account", func() error { _, err := l.SetLimits(ctx, 999, -1, 1); return err }, CodeUnknownAccount, 999},
		{"bad status", func() error { _, err := l.SetStatus(ctx, a.ID, "closed"); return err }, CodeInvalid, a.ID},
		{"unknown code", func() error { _, err := l.AccountByCode(ctx, "nobody"); return err }, CodeUnknownAccount, 0},
		{"statement limit", func() error { _, err := l.Statement(ctx, a.ID, StatementQuery{Limit: 1001}); return err }, CodeInvalid, a.ID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := readState(t, pool)
			err := tt.do()
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got error %v, want a *Error with code %q", err, tt.want)
			}
			if e.Code != tt.want {
				t.Fatalf("got code %q (%v), want %q", e.Code, err, tt.want)
			}
			if tt.account != 0 && e.Account != tt.account {
				t.Fatalf("got account %d, want %d", e.Account, tt.account)
			}
			if after := readState(t, pool); after != before {
				t.Fatalf("state changed on refusal:\n got %+v\nwant %+v", after, before)
			}
		})
	}
	if got, want := holdsOf(must(l.Account(ctx, a.ID))), "balance -60, held debits 10, held credits 0"; got != want {
		t.Fatalf("a: got %s, want %s", got, want)
	}
	assertIntegrity(t, l)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestTransfer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, _, clk := newTestLedger(t)
	a := mustAccount(t, l, "a", "EUR", -100, 100)
	b := mustAccount(t, l, "b", "EUR", -50, 50)
	tr := mustTransfer(t, l, TransferRequest{Debit: a.ID, Credit: b.ID, Amount: 30, Description: "coffee",
		Metadata: map[string]string{"order": "7"}})
	want := Transfer{ID: tr.ID, Debit: a.ID, Credit: b.ID, Amount: 30, Currency: "EUR", Description: "coffee",
		Metadata: map[string]string{"order": "7"}, DebitBalance: -30, CreditBalance: 30, CreatedAt: clk.Now()}
	if !sameTransfer(tr, want) {
		t.Fatalf("got %+v, want %+v", tr, want)
	}
	back := mustTransfer(t, l, TransferRequest{Debit: b.ID, Credit: a.ID, Amount: 80})
	if back.DebitBalance != -50 || back.CreditBalance != 50 {
		t.Fatalf("running balances: got %d/%d, want -50/50", back.DebitBalance, back.CreditBalance)
	}
	if got := balances(t, l, a.ID, b.ID); got[0] != 50 || got[1] != -50 {
		t.Fatalf("balances: got %v, want [50 -50]", got)
	}
	read, err := l.TransferByID(ctx, tr.ID)
	if err != nil || !sameTransfer(read, want) {
		t.Fatalf("read back: got %+v, %v, want %+v", read, err, want)
	}
	rep := assertIntegrity(t, l)
	if rep.Transfers != 2 || rep.Accounts != 2 || rep.CurrencySums["EUR"] != 0 {
		t.Fatalf("report: got %+v, want 2 transfers, 2 accounts, EUR sum 0", rep)
	}
}

func sameTransfer(a, b Transfer) bool {
	if len(a.Metadata) != len(b.Metadata) {
		return false
	}
	for k, v := range a.Metadata {
		if b.Metadata[k] != v {
			return false
		}
	}
	a.Metadata, b.Metadata = nil, nil
	eqTime := a.CreatedAt.Equal(b.CreatedAt)
	a.CreatedAt, b.CreatedAt = time.Time{}, time.Time{}
	return eqTime && reflect.DeepEqual(a, b)
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, pool, _ := newTestLedger(t)
	a := mustAccount(t, l, "a", "EUR", -200, 100)
	b := mustAccount(t, l, "b", "EUR", -100, 100)
	req := TransferRequest{Debit: a.ID, Credit: b.ID, Amount: 10, Description: "x", Metadata: map[string]string{"k": "v"}, IdempotencyKey: "k1"}
	first := mustTransfer(t, l, req)
	before := readState(t, pool)
	again := mustTransfer(t, l, req)
	if !sameTransfer(again, first) {
		t.Fatalf("repeat: got %+v, want the first %+v", again, first)
	}
	if after := readState(t, pool); after != before {
		t.Fatalf("repeat wrote: got %+v, want %+v", after, before)
	}
	for _, change := range []func(r *TransferRequest){
		func(r *TransferRequest) { r.Amount = 11 },
		func(r *TransferRequest) { r.Debit, r.Credit = r.Credit, r.Debit },
		func(r *TransferRequest) { r.Description = "y" },
		func(r *TransferRequest) { r.Metadata = nil },
	} {
		r := req
		change(&r)
		if _, err := l.Transfer(ctx, r); CodeOf(err) != CodeIdempotencyConflict {
			t.Fatalf("changed %+v: got %v, want %s", r, err, CodeIdempotencyConflict)
		}
	}
	// A refused request keeps its key with its refusal: a repeat gets the
	// same refusal even once it would fit (issue 10, hole 4: every repeat
	// gets the first answer), other content is a conflict, and a new key
	// goes through.
	before = readState(t, pool)
	over := TransferRequest{Debit: a.ID, Credit: b.ID, Amount: 95, IdempotencyKey: "k2"}
	if _, err := l.Transfer(ctx, over); CodeOf(err) != CodeOverUpperLimit {
		t.Fatalf("got %v, want %s", err, CodeOverUpperLimit)
	}
	before.Keys++ // the refused key, with its refusal
	if after := readState(t, pool); after != before {
		t.Fatalf("a refusal moved money: got %+v, want %+v", after, before)
	}
	mustTransfer(t, l, TransferRequest{Debit: b.ID, Credit: a.ID, Amount: 10, IdempotencyKey: "k3"}) // now 95 would fit
	if _, err := l.Transfer(ctx, over); CodeOf(err) != CodeOverUpperLimit {
		t.Fatalf("repeat of a refused key: got %v, want its first answer %s", err, CodeOverUpperLimit)
	}
	other := over
	other.Amount = 90
	if _, err := l.Transfer(ctx, other); CodeOf(err) != CodeIdempotencyConflict {
		t.Fatalf("refused key with other content: got %v, want %s", err, CodeIdempotencyConflict)
	}
	other.IdempotencyKey = "k4"
	if tr := mustTransfer(t, l, other); tr.CreditBalance != 90 {
		t.Fatalf("got credit balance %d, want 90", tr.CreditBalance)
	}
	if got := balances(t, l, a.ID, b.ID); got[0] != -90 || got[1] != 90 {
		t.Fatalf("balances: got %v, want [-90 90]", got)
	}
}

// TestIdempotencyConcurrent sends the same key from many goroutines at
// once: exactly one transfer is written and every caller gets it.
func TestIdempotencyConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, pool, _ := newTestLedger(t)
	a := mustAccount(t, l, "a", "EUR", -1000, 1000)
	b := mustAccount(t, l, "b", "EUR", -1000, 1000)
	const n = 8
	for round := 0; round < 20; round++ {
		key := "same-" + string(rune('a'+round))
		var wg sync.WaitGroup
		got := make([]Transfer, n)
		errs := make([]error, n)
		for g := 0; g < n; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[g], errs[g] = l.Transfer(ctx, TransferRequest{Debit: a.ID, Credit: b.ID, Amount: 3, IdempotencyKey: key})
			}()
		}
		wg.Wait()
		for g := 0; g < n; g++ {
			if errs[g] != nil {
				t.Fatalf("round %d goroutine %d: %v", round, g, errs[g])
			}
			if got[g].ID != got[0].ID {
				t.Fatalf("round %d: got transfer %d and %d for one key, want one", round, got[g].ID, got[0].ID)
			}
		}
	}
	var rows int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM ledger_transfers`).Scan(&rows); err != nil || rows != 20 {
		t.Fatalf("got %d transfers (%v), want 20", rows, err)
	}
	if got := balances(t, l, a.ID, b.ID); got[0] != -60 || got[1] != 60 {
		t.Fatalf("balances: got %v, want [-60 60]", got)
	}
}

// TestAppendOnly checks that the database itself refuses to change the journal.
func TestAppendOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, pool, _ := newTestLedger(t)
	a := mustAccount(t, l, "a", "EUR", -100, 100)
	b := mustAccount(t, l, "b", "EUR", -100, 100)
	tr := mustTransfer(t, l, TransferRequest{Debit: a.ID, Credit: b.ID, Amount: 10})
	for _, sql := range []string{
		`UPDATE ledger_transfers SET amount = 1 WHERE id = $1`,
		`DELETE FROM ledger_transfers WHERE id = $1`,
		`UPDATE ledger_accounts SET balance = balance - 200 WHERE id = $1 - $1 + 1`,
	} {
		if _, err := pool.Exec(ctx, sql, tr.ID); err == nil {
			t.Errorf("%s: got no error, want a refusal", sql)
		}
	}
	if _, err := pool.Exec(ctx, `TRUNCATE ledger_transfers CASCADE`); err == nil {
		t.Error("truncate: got no error, want a refusal")
	}
	assertIntegrity(t, l)
}
