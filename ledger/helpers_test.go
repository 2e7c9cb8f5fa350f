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

// clock is a settable time for tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newTestLedger returns a ledger on a fresh database, with a settable clock.
func newTestLedger(t testing.TB) (*Ledger, *pgxpool.Pool, *clock) {
	t.Helper()
	pool := pgtest.NewPool(t)
	c := newClock()
	return New(pool, Options{Now: c.Now}), pool, c
}

// mustAccount creates an account or fails the test.
func mustAccount(t testing.TB, l *Ledger, code, currency string, min, max int64) Account {
	t.Helper()
	a, err := l.CreateAccount(context.Background(), NewAccount{Code: code, Currency: currency, Min: min, Max: max})
	if err != nil {
		t.Fatalf("create account %s: %v", code, err)
	}
	return a
}

// mustTransfer transfers or fails the test.
func mustTransfer(t testing.TB, l *Ledger, r TransferRequest) Transfer {
	t.Helper()
	tr, err := l.Transfer(context.Background(), r)
	if err != nil {
		t.Fatalf("transfer %+v: %v", r, err)
	}
	return tr
}

// dbState is everything a write could change, for "nothing was written" checks.
type dbState struct {
	Transfers, Pending, Keys, Accounts int
	Balances                           string // id:balance/pd/pc/status/min/max ...
}

func readState(t testing.TB, pool *pgxpool.Pool) dbState {
	t.Helper()
	ctx := context.Background()
	var s dbState
	err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM ledger_transfers), (SELECT count(*) FROM ledger_pending),
		(SELECT count(*) FROM ledger_idempotency), (SELECT count(*) FROM ledger_accounts),
		(SELECT coalesce(string_agg(format('%s:%s/%s/%s/%s/%s/%s', id, balance, pending_debits, pending_credits, status,
			min_balance, max_balance), ' ' ORDER BY id), '') FROM ledger_accounts)`).
		Scan(&s.Transfers, &s.Pending, &s.Keys, &s.Accounts, &s.Balances)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// balances reads the balance of each account.
func balances(t testing.TB, l *Ledger, ids ...AccountID) []int64 {
	t.Helper()
	out := make([]int64, len(ids))
	for i, id := range ids {
		a, err := l.Account(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = a.Balance
	}
	return out
}

// assertIntegrity fails the test unless CheckIntegrity finds nothing wrong.
func assertIntegrity(t testing.TB, l *Ledger) IntegrityReport {
	t.Helper()
	rep, err := l.CheckIntegrity(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("integrity: got problems %q, want none", rep.Problems)
	}
	return rep
}

func holdsOf(a Account) string {
	return fmt.Sprintf("balance %d, held debits %d, held credits %d", a.Balance, a.PendingDebits, a.PendingCredits)
}
