package benchtest

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/deploy/chaostest"
	"github.com/sxp-network/sxp/ledger"
)

// ledgerBench runs L1/L2: the reference transfer through the ledger
// package, one Transfer call per transfer from each client, through the
// group commit (ledger.Committer) as the servers' payment paths use it.
type ledgerBench struct {
	pool *pgxpool.Pool
	l    *ledger.Ledger
	c    *ledger.Committer
	ids  []ledger.AccountID
}

func setupLedger(ctx context.Context, cfg *Config, cl *chaostest.Cluster) (*ledgerBench, error) {
	cfg.progress("ledger: creating %d accounts", cfg.LedgerAccounts)
	if err := cl.CreateDatabase(ctx, "ledger"); err != nil {
		return nil, err
	}
	if out, err := runSXP(cfg.Bin, "migrate", "up", "--database", cl.URL("ledger")); err != nil {
		return nil, fmt.Errorf("migrate ledger: %v\n%s", err, out)
	}
	pc, err := pgxpool.ParseConfig(cl.URL("ledger"))
	if err != nil {
		return nil, err
	}
	pc.MaxConns = int32(cfg.Clients + 2)
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, err
	}
	lb := &ledgerBench{pool: pool, l: ledger.New(pool, ledger.Options{})}
	for start := 0; start < cfg.LedgerAccounts; start += 1000 {
		err := lb.l.InTx(ctx, func(tx *ledger.Tx) error {
			for i := start; i < min(start+1000, cfg.LedgerAccounts); i++ {
				a, err := tx.CreateAccount(ctx, ledger.NewAccount{Code: fmt.Sprintf("bench-%07d", i), Currency: "EUR", Min: -1e12, Max: 1e12})
				if err != nil {
					return err
				}
				lb.ids = append(lb.ids, a.ID)
			}
			return nil
		})
		if err != nil {
			pool.Close()
			return nil, err
		}
	}
	lb.c = lb.l.NewCommitter(ledger.CommitterOptions{})
	return lb, nil
}

func (lb *ledgerBench) close() {
	lb.c.Close()
	lb.pool.Close()
}

// run: L1 uniform over the accounts, L2 one side always the first account
// (paying and paid in turn), as transfer.sql.
func (lb *ledgerBench) run(ctx context.Context, cfg *Config, name string) Line {
	cfg.progress("%s: ledger transfers, %d clients, %s", name, cfg.Clients, cfg.Duration)
	rngs := make([]func() (int, int, int64), cfg.Clients)
	for i := range rngs {
		rng := newRand(cfg.Seed, 100+i)
		n := len(lb.ids)
		rngs[i] = func() (int, int, int64) {
			a := rng.IntN(n)
			if name == "L2" {
				a = 0
			}
			b := (a + 1 + rng.IntN(n-1)) % n
			if rng.IntN(2) == 0 {
				a, b = b, a
			}
			return a, b, 1 + rng.Int64N(100)
		}
	}
	r := drive(ctx, cfg.Clients, cfg.Duration, func(ctx context.Context, client, seq int) error {
		d, c, amount := rngs[client]()
		_, err := lb.c.Transfer(ctx, ledger.TransferRequest{Debit: lb.ids[d], Credit: lb.ids[c], Amount: amount,
			IdempotencyKey: fmt.Sprintf("%s-%d-%d", name, client, seq)})
		return err
	})
	return r.line(name)
}

// check: the ledger's own integrity report (sums zero, balances equal
// their journals, limits held).
func (lb *ledgerBench) check(ctx context.Context, res *Result) string {
	rep, err := lb.l.CheckIntegrity(ctx)
	if err != nil {
		res.Violations++
		return "CHECK ledger: " + err.Error()
	}
	if !rep.OK {
		res.Violations += len(rep.Problems)
	}
	line := fmt.Sprintf("CHECK ledger accounts=%d transfers=%d sums=%v %s", rep.Accounts, rep.Transfers, rep.CurrencySums, okWord(rep.OK))
	if !rep.OK {
		line += "\n  " + strings.Join(rep.Problems, "\n  ")
	}
	return line
}
