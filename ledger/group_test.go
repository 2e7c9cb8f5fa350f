package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestGroupIsolatesEachTransaction: concurrent transactions through one
// Group, each a hold on one hot account plus a row of its own; every
// fourth one fails after writing (its hold and row must vanish), and holds
// over the limit are refused. The others commit, each caller's answer
// matches what is in the database, and the hot account's holds are exactly
// the accepted ones.
func TestGroupIsolatesEachTransaction(t *testing.T) {
	for _, o := range []CommitterOptions{{Window: 2 * time.Millisecond, Max: 16}, {Eager: true, Max: 16}} {
		t.Run(fmt.Sprintf("eager=%v", o.Eager), func(t *testing.T) { testGroupIsolates(t, o) })
	}
}

func testGroupIsolates(t *testing.T, o CommitterOptions) {
	l, pool, clk := newTestLedger(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE group_test_rows (n int PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	hot := mustAccount(t, l, "hot", "EUR", -1000, 1000)
	other := mustAccount(t, l, "other", "EUR", -100000, 100000)
	g := l.NewGroup(o)
	defer g.Close()
	errBoom := errors.New("boom")
	const n = 64
	results := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = g.InTx(ctx, func(ctx context.Context, tx *Tx) error {
				if _, err := tx.Conn().Exec(ctx, `INSERT INTO group_test_rows (n) VALUES ($1)`, i); err != nil {
					return err
				}
				if _, err := tx.Hold(ctx, HoldRequest{TransferRequest: TransferRequest{Debit: hot.ID, Credit: other.ID, Amount: 50,
					IdempotencyKey: fmt.Sprintf("g-%d", i)}, ExpiresAt: clk.Now().Add(time.Hour)}); err != nil {
					return err
				}
				if i%4 == 3 {
					return errBoom
				}
				return nil
			})
		}()
	}
	wg.Wait()
	accepted := 0
	for i, err := range results {
		var rows int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM group_test_rows WHERE n = $1`, i).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		switch {
		case err == nil:
			accepted++
			if rows != 1 {
				t.Errorf("transaction %d: accepted but %d rows", i, rows)
			}
		case i%4 == 3 && errors.Is(err, errBoom), CodeOf(err) == CodeOverLowerLimit:
			if rows != 0 {
				t.Errorf("transaction %d: failed (%v) but %d rows", i, err, rows)
			}
		default:
			t.Errorf("transaction %d: got %v", i, err)
		}
	}
	a, err := l.Account(ctx, hot.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a.PendingDebits != int64(accepted)*50 || a.PendingDebits > 1000 {
		t.Errorf("hot account: got %d held, want %d (accepted %d × 50, at most 1000)", a.PendingDebits, accepted*50, accepted)
	}
	if accepted != 20 {
		t.Errorf("accepted: got %d, want 20 (the limit, 1000 / 50)", accepted)
	}
}

// TestGroupWithoutSavepoints: a Group for transactions that fail only when
// the database does runs them without savepoints; one that fails anyway is
// found by splitting its batch, its caller alone gets the error, and every
// other one commits.
func TestGroupWithoutSavepoints(t *testing.T) {
	l, pool, _ := newTestLedger(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE group_test_nosp (n int PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	g := l.NewGroup(CommitterOptions{Eager: true, NoSavepoints: true})
	defer g.Close()
	const n = 16
	results := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = g.InTx(ctx, func(ctx context.Context, tx *Tx) error {
				v := i
				if i == 5 {
					v = -1 // fails: the CHECK below
				}
				_, err := tx.Conn().Exec(ctx, `INSERT INTO group_test_nosp (n) SELECT $1::int WHERE 1 / ($1::int + 1) >= 0`, v)
				return err
			})
		}()
	}
	wg.Wait()
	for i, err := range results {
		if (err != nil) != (i == 5) {
			t.Errorf("transaction %d: got %v, want an error only for 5", i, err)
		}
	}
	var count int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM group_test_nosp`).Scan(&count); err != nil || count != n-1 {
		t.Errorf("rows: got %d (%v), want %d", count, err, n-1)
	}
}
