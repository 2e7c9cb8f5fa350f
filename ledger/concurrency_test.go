package ledger

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/migrations/pgtest"
)

// TestConcurrency runs 16 goroutines × 500 random operations among 50
// accounts with tight limits: transfers, batches with all-or-nothing
// groups, holds posted or voided, and idempotency keys resent by other
// goroutines at the same time (with the same content, and sometimes with
// different content). Afterwards every invariant must hold and the final
// state must equal a sequential replay of the committed history through
// the pure rules.
func TestConcurrency(t *testing.T) {
	t.Parallel()
	const (
		goroutines = 16
		opsEach    = 500
		nAccounts  = 50
		limit      = 100
		maxAmount  = 40
		seed       = 20260102
	)
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = goroutines
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	clk := newClock()
	l := New(pool, Options{Now: clk.Now})

	ids := make([]AccountID, nAccounts)
	for i := range ids {
		ids[i] = mustAccount(t, l, fmt.Sprintf("acc-%02d", i), "EUR", -limit, limit).ID
	}
	// content derives a key's request from the key alone, so that any
	// goroutine resending it sends the same content.
	content := func(key string) TransferRequest {
		h := fnv.New64a()
		h.Write([]byte(key))
		r := rand.New(rand.NewPCG(h.Sum64(), seed))
		d := r.IntN(nAccounts)
		c := (d + 1 + r.IntN(nAccounts-1)) % nAccounts
		return TransferRequest{Debit: ids[d], Credit: ids[c], Amount: 1 + r.Int64N(maxAmount), IdempotencyKey: key}
	}

	type outcome struct {
		key  string
		id   int64 // transfer or hold id, 0 on refusal
		code Code
		same bool // sent with the key's own content
	}
	var (
		mu       sync.Mutex
		outcomes []outcome
		codes    = map[Code]int{}
	)
	record := func(o outcome, err error) {
		mu.Lock()
		defer mu.Unlock()
		codes[o.code]++
		if o.key != "" {
			outcomes = append(outcomes, o)
		}
	}
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			var holds []int64
			fail := func(op string, err error) bool {
				if err != nil && CodeOf(err) == "" {
					t.Errorf("goroutine %d: %s: %v", g, op, err)
					return true
				}
				return false
			}
			for i := 0; i < opsEach; i++ {
				own := fmt.Sprintf("t-%d-%d", g, i)
				other := fmt.Sprintf("t-%d-%d", (g+1+rng.IntN(goroutines-1))%goroutines, max(0, i-2+rng.IntN(5)))
				switch p := rng.IntN(100); {
				case p < 50, p >= 55 && p < 65, p >= 65 && p < 68:
					key, same := own, true
					if p >= 55 {
						key = other
					}
					r := content(key)
					if p >= 65 {
						r.Amount = r.Amount%maxAmount + 1 // different content
						same = false
					}
					tr, err := l.Transfer(ctx, r)
					if fail("transfer", err) {
						return
					}
					record(outcome{key: key, id: tr.ID, code: CodeOf(err), same: same}, err)
				case p < 55:
					r := content(own)
					r.IdempotencyKey = ""
					_, err := l.Transfer(ctx, r)
					if fail("transfer", err) {
						return
					}
					record(outcome{code: CodeOf(err)}, err)
				case p < 78:
					items := make([]BatchItem, 2+rng.IntN(5))
					for k := range items {
						key := fmt.Sprintf("b-%d-%d-%d", g, i, k)
						if rng.IntN(4) == 0 {
							key = other
						}
						items[k].TransferRequest = content(key)
						if k < 3 && rng.IntN(2) == 0 {
							items[k].Group = "g"
						}
					}
					res, err := l.Batch(ctx, items)
					if fail("batch", err) {
						return
					}
					for k, r := range res {
						record(outcome{key: items[k].IdempotencyKey, id: r.Transfer.ID, code: CodeOf(r.Err), same: true}, r.Err)
					}
				case p < 88:
					key := fmt.Sprintf("h-%d-%d", g, i)
					r := content(key)
					ph, err := l.Hold(ctx, HoldRequest{r, clk.Now().Add(time.Hour)})
					if fail("hold", err) {
						return
					}
					record(outcome{key: key, id: ph.ID, code: CodeOf(err), same: true}, err)
					if err == nil {
						holds = append(holds, ph.ID)
					}
				default:
					if len(holds) == 0 {
						continue
					}
					k := rng.IntN(len(holds))
					id := holds[k]
					holds = append(holds[:k], holds[k+1:]...)
					var err error
					if rng.IntN(2) == 0 {
						_, err = l.Post(ctx, id)
					} else {
						_, err = l.Void(ctx, id)
					}
					if err != nil {
						t.Errorf("goroutine %d: resolve hold %d: %v", g, id, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	clk.Add(2 * time.Hour)
	expired, err := l.ExpireDue(ctx)
	if err != nil {
		t.Fatal(err)
	}

	rep := assertIntegrity(t, l)

	// Each key was applied at most once, and every success for a key
	// names that one row.
	stored := map[string]int64{}
	for _, q := range []string{
		`SELECT idempotency_key, id FROM ledger_transfers WHERE idempotency_key IS NOT NULL`,
		`SELECT idempotency_key, id FROM ledger_pending WHERE idempotency_key IS NOT NULL`,
	} {
		rows, err := pool.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var k string
			var id int64
			if err := rows.Scan(&k, &id); err != nil {
				t.Fatal(err)
			}
			if prev, dup := stored[k]; dup {
				t.Fatalf("key %s applied twice: rows %d and %d", k, prev, id)
			}
			stored[k] = id
		}
		if rows.Err() != nil {
			t.Fatal(rows.Err())
		}
	}
	var keysClaimed int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM ledger_idempotency WHERE refusal_code IS NULL`).Scan(&keysClaimed); err != nil || keysClaimed != len(stored) {
		t.Fatalf("got %d claimed keys (%v), want %d", keysClaimed, err, len(stored))
	}
	// A refused request keeps its key with its refusal.
	refusedKeys := map[string]Code{}
	rrows, err := pool.Query(ctx, `SELECT key, refusal_code FROM ledger_idempotency WHERE refusal_code IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	for rrows.Next() {
		var k, c string
		if err := rrows.Scan(&k, &c); err != nil {
			t.Fatal(err)
		}
		if _, dup := stored[k]; dup {
			t.Fatalf("key %s both refused and applied", k)
		}
		refusedKeys[k] = Code(c)
	}
	if rrows.Err() != nil {
		t.Fatal(rrows.Err())
	}
	// Every request with a key's own content got the key's one answer:
	// its row, or its first refusal (issue 10, hole 4).
	for _, o := range outcomes {
		if !o.same || o.code == CodeIdempotencyConflict {
			continue
		}
		if c, refused := refusedKeys[o.key]; refused && o.code != c {
			t.Fatalf("key %s: answered %q, but the key's first request was refused with %q", o.key, o.code, c)
		}
	}
	repeats := 0
	seen := map[string]int{}
	for _, o := range outcomes {
		seen[o.key]++
		if seen[o.key] == 2 {
			repeats++
		}
		row, ok := stored[o.key]
		switch {
		case o.code == "" && (!ok || row != o.id):
			t.Fatalf("key %s: answered with %d, but the stored row is %d (stored %v)", o.key, o.id, row, ok)
		case o.code == CodeIdempotencyConflict && !ok && refusedKeys[o.key] == "":
			t.Fatalf("key %s: conflict, but no row holds the key", o.key)
		case o.code == CodeIdempotencyConflict && o.same && !strings.HasPrefix(o.key, "t-"):
			t.Fatalf("key %s: conflict for the key's own content", o.key)
		}
	}

	// Replay the committed history in sequence order through the pure rules.
	final := replay(t, pool, ids)
	accounts, err := l.Accounts(ctx, "EUR")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range accounts {
		w := final[a.ID]
		if a.Balance != w.Balance || a.PendingDebits != w.PendingDebits || a.PendingCredits != w.PendingCredits {
			t.Fatalf("account %d: got %s, replay says %s", a.ID, holdsOf(a), holdsOf(*w))
		}
		if a.Balance < -limit || a.Balance > limit {
			t.Fatalf("account %d: balance %d outside ±%d", a.ID, a.Balance, limit)
		}
	}
	var counts struct{ posted, voided int }
	pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'posted'), count(*) FILTER (WHERE status = 'voided') FROM ledger_pending`).
		Scan(&counts.posted, &counts.voided)
	var codeList []string
	for c, n := range codes {
		if c != "" {
			codeList = append(codeList, fmt.Sprintf("%s=%d", c, n))
		}
	}
	sort.Strings(codeList)
	t.Logf("concurrency: %d goroutines × %d ops: %d transfers committed (holds posted %d, voided %d, expired %d), %d accepted answers, refusals %s, %d keys answered more than once, integrity OK, sum %d, replay equal",
		goroutines, opsEach, rep.Transfers, counts.posted, counts.voided, expired, codes[""], strings.Join(codeList, " "), repeats, rep.CurrencySums["EUR"])
}

// replay rebuilds every account from zero by applying the committed
// transfers and holds in sequence order through the pure rules, failing if
// an event the ledger committed breaks a rule or disagrees with its stored
// running balances.
func replay(t *testing.T, pool *pgxpool.Pool, ids []AccountID) map[AccountID]*Account {
	t.Helper()
	ctx := context.Background()
	state := map[AccountID]*Account{}
	rows, err := pool.Query(ctx, `SELECT `+accountCols+` FROM ledger_accounts`)
	if err != nil {
		t.Fatal(err)
	}
	accounts, err := pgx.CollectRows(rows, collectAccount)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range accounts {
		a.Balance, a.PendingDebits, a.PendingCredits = 0, 0, 0
		state[a.ID] = &a
	}
	type event struct {
		seq           int64
		kind          string // transfer, post, hold, release
		debit, credit AccountID
		amount        int64
		debitAfter    int64
		creditAfter   int64
		id            int64
	}
	var events []event
	rows, err = pool.Query(ctx, `
		SELECT id, CASE WHEN pending_id IS NULL THEN 'transfer' ELSE 'post' END, debit_account_id, credit_account_id, amount, debit_balance, credit_balance
		FROM ledger_transfers
		UNION ALL
		SELECT id, 'hold', debit_account_id, credit_account_id, amount, 0, 0 FROM ledger_pending
		UNION ALL
		SELECT resolved_seq, 'release', debit_account_id, credit_account_id, amount, 0, 0 FROM ledger_pending WHERE status IN ('voided', 'expired')`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var e event
		if err := rows.Scan(&e.seq, &e.kind, &e.debit, &e.credit, &e.amount, &e.debitAfter, &e.creditAfter); err != nil {
			t.Fatal(err)
		}
		e.id = e.seq
		events = append(events, e)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	sort.Slice(events, func(i, j int) bool { return events[i].seq < events[j].seq })
	for i, e := range events {
		if i > 0 && e.seq == events[i-1].seq {
			t.Fatalf("sequence %d used twice", e.seq)
		}
		d, c := state[e.debit], state[e.credit]
		switch e.kind {
		case "transfer", "hold":
			if err := checkMove(*d, *c, e.amount); err != nil {
				t.Fatalf("replay of %s %d: the rules refuse it: %v", e.kind, e.id, err)
			}
			if e.kind == "hold" {
				applyHold(d, c, e.amount)
			} else {
				applyTransfer(d, c, e.amount)
			}
		case "post":
			applyPost(d, c, e.amount)
		case "release":
			releaseHold(d, c, e.amount)
		}
		if (e.kind == "transfer" || e.kind == "post") && (d.Balance != e.debitAfter || c.Balance != e.creditAfter) {
			t.Fatalf("replay of transfer %d: balances after %d/%d, stored %d/%d", e.id, d.Balance, c.Balance, e.debitAfter, e.creditAfter)
		}
		for _, a := range []*Account{d, c} {
			if a.PendingDebits < 0 || a.PendingCredits < 0 {
				t.Fatalf("replay of %s %d: account %d holds went negative: %s", e.kind, e.id, a.ID, holdsOf(*a))
			}
		}
	}
	return state
}
