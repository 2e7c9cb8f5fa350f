package payments_test

import (
	"context"
	"sync"
	"testing"

	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/migrations/pgtest"
	"github.com/sxp-network/sxp/server/members"
	"github.com/sxp-network/sxp/server/payments"
)

type world struct {
	led *ledger.Ledger
	mem *members.Service
	pay *payments.Service
	m   map[string]members.Member
}

func newWorld(t *testing.T, names ...string) *world {
	t.Helper()
	pool := pgtest.NewPool(t)
	w := &world{led: ledger.New(pool, ledger.Options{}), m: map[string]members.Member{}}
	w.mem = members.New(pool, w.led, members.Options{Currency: "LEAF", DefaultMin: -10000, DefaultMax: 100000})
	w.pay = payments.New(pool, w.led, w.mem, payments.Currency{Code: "LEAF", Divisions: 2}, nil)
	for _, n := range names {
		m, err := w.mem.Add(context.Background(), members.Registration{Username: n, Password: "password-" + n}, members.RoleMember)
		if err != nil {
			t.Fatal(err)
		}
		w.m[n] = m
	}
	return w
}

func (w *world) balance(t *testing.T, name string) int64 {
	t.Helper()
	a, err := w.led.Account(context.Background(), w.m[name].Account)
	if err != nil {
		t.Fatal(err)
	}
	return a.Balance
}

// TestAcceptConcurrently: many accepts of one bill at once, and a cancel
// racing them, pay it exactly once.
func TestAcceptConcurrently(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "alice", "bob")
	ctx := context.Background()
	r, err := w.pay.CreateRequest(ctx, payments.NewRequest{Payee: w.m["bob"], From: "alice", Amount: 700})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make(chan error, 9)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := w.pay.AcceptRequest(ctx, w.m["alice"], r.ID)
			results <- err
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := w.pay.CancelRequest(ctx, w.m["bob"], r.ID)
		results <- err
	}()
	wg.Wait()
	close(results)
	got, err := w.pay.Request(ctx, w.m["bob"], r.ID)
	if err != nil {
		t.Fatal(err)
	}
	switch got.Status {
	case payments.RequestPaid:
		if a, b := w.balance(t, "alice"), w.balance(t, "bob"); a != -700 || b != 700 {
			t.Fatalf("paid: got balances %d %d, want -700 700", a, b)
		}
	case payments.RequestCancelled:
		if a, b := w.balance(t, "alice"), w.balance(t, "bob"); a != 0 || b != 0 {
			t.Fatalf("cancelled: got balances %d %d, want 0 0", a, b)
		}
	default:
		t.Fatalf("got status %s, want paid or cancelled", got.Status)
	}
	for err := range results {
		if err != nil && payments.CodeOf(err) != payments.CodeNotOpen {
			t.Fatalf("got %v, want success or %s", err, payments.CodeNotOpen)
		}
	}
}

// TestConcurrentPaymentsHoldTheLimit: 20 payments of 10.00 against a
// lower limit of -100.00: exactly 10 succeed.
func TestConcurrentPaymentsHoldTheLimit(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "alice", "bob")
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, over := 0, 0
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := w.pay.Pay(ctx, payments.PayRequest{Payer: w.m["alice"], To: "bob", Amount: 1000})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case payments.CodeOf(err) == payments.CodeOverLimit:
				over++
			default:
				t.Errorf("pay: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != 10 || over != 10 || w.balance(t, "alice") != -10000 || w.balance(t, "bob") != 10000 {
		t.Fatalf("got %d paid, %d refused, balances %d %d; want 10, 10, -10000, 10000", ok, over, w.balance(t, "alice"), w.balance(t, "bob"))
	}
}

// TestStatementNames: counterparties are usernames, the "counterparty"
// metadata, an intertrade's remote party, or the account's code.
func TestStatementNames(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "alice", "bob")
	ctx := context.Background()
	ie, err := w.led.CreateAccount(ctx, ledger.NewAccount{Code: "intertrade:import-export", Currency: "LEAF", Min: -1 << 40, Max: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	transfers := []ledger.TransferRequest{
		{Debit: w.m["alice"].Account, Credit: w.m["bob"].Account, Amount: 100, Description: "local"},
		{Debit: w.m["alice"].Account, Credit: ie.ID, Amount: 200, Description: "out", Metadata: map[string]string{"kind": "intertrade", "direction": "out", "to": "carol@acorn"}},
		{Debit: ie.ID, Credit: w.m["alice"].Account, Amount: 50, Description: "in", Metadata: map[string]string{"kind": "intertrade", "direction": "in", "from": "http://acorn.example"}},
		{Debit: ie.ID, Credit: w.m["alice"].Account, Amount: 5, Description: "fee back", Metadata: map[string]string{"counterparty": "the circle"}},
		{Debit: ie.ID, Credit: w.m["alice"].Account, Amount: 1, Description: "plain"},
	}
	for _, tr := range transfers {
		if _, err := w.led.Transfer(ctx, tr); err != nil {
			t.Fatal(err)
		}
	}
	st, err := w.pay.Statement(ctx, w.m["alice"], payments.StatementQuery{})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name            string
		amount, balance int64
	}{{"bob", -100, -100}, {"carol@acorn", -200, -300}, {"http://acorn.example", 50, -250}, {"the circle", 5, -245}, {"intertrade:import-export", 1, -244}}
	if len(st.Lines) != len(want) {
		t.Fatalf("got %d lines, want %d", len(st.Lines), len(want))
	}
	for i, l := range st.Lines {
		if l.CounterpartyName != want[i].name || l.Amount != want[i].amount || l.Balance != want[i].balance {
			t.Errorf("line %d: got %s %d %d, want %v", i, l.CounterpartyName, l.Amount, l.Balance, want[i])
		}
	}
	acc, recent, err := w.pay.Recent(ctx, w.m["alice"], st.Lines[0].Time.Add(-1), 2)
	if err != nil || acc.Balance != -244 || len(recent) != 2 || recent[0].Description != "plain" || recent[1].Description != "fee back" {
		t.Fatalf("recent: got %d %v %v, want balance -244 and plain, fee back", acc.Balance, recent, err)
	}
}
