package ledger

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// integrityChecks are queries that return one readable line per violation.
var integrityChecks = []struct {
	name string
	sql  string
}{
	{"balance equals journal", `
		SELECT format('account %s (%s): balance %s, journal says %s', a.id, a.code, a.balance, coalesce(c.s, 0) - coalesce(d.s, 0))
		FROM ledger_accounts a
		LEFT JOIN (SELECT credit_account_id AS id, sum(amount) AS s FROM ledger_transfers GROUP BY 1) c ON c.id = a.id
		LEFT JOIN (SELECT debit_account_id AS id, sum(amount) AS s FROM ledger_transfers GROUP BY 1) d ON d.id = a.id
		WHERE a.balance <> coalesce(c.s, 0) - coalesce(d.s, 0)
		ORDER BY a.id`},
	{"holds equal open holds", `
		SELECT format('account %s (%s): held debits %s and credits %s, open holds say %s and %s',
			a.id, a.code, a.pending_debits, a.pending_credits, coalesce(d.s, 0), coalesce(c.s, 0))
		FROM ledger_accounts a
		LEFT JOIN (SELECT credit_account_id AS id, sum(amount) AS s FROM ledger_pending WHERE status = 'pending' GROUP BY 1) c ON c.id = a.id
		LEFT JOIN (SELECT debit_account_id AS id, sum(amount) AS s FROM ledger_pending WHERE status = 'pending' GROUP BY 1) d ON d.id = a.id
		WHERE a.pending_debits <> coalesce(d.s, 0) OR a.pending_credits <> coalesce(c.s, 0)
		ORDER BY a.id`},
	{"limits held", `
		SELECT format('account %s (%s): balance %s with held debits %s and credits %s outside limits %s..%s',
			id, code, balance, pending_debits, pending_credits, min_balance, max_balance)
		FROM ledger_accounts
		WHERE balance - pending_debits < min_balance OR balance + pending_credits > max_balance
		   OR min_balance > 0 OR max_balance < 0
		ORDER BY id`},
	{"running balance", `
		SELECT format('account %s (%s): balance %s, but its last transfer %s left %s', a.id, a.code, a.balance, l.id, l.after)
		FROM ledger_accounts a
		JOIN (SELECT DISTINCT ON (acc) acc, id, after FROM (
				SELECT debit_account_id AS acc, id, debit_balance AS after FROM ledger_transfers
				UNION ALL
				SELECT credit_account_id, id, credit_balance FROM ledger_transfers) x
			ORDER BY acc, id DESC) l ON l.acc = a.id
		WHERE l.after <> a.balance
		ORDER BY a.id`},
	{"transfer currency", `
		SELECT format('transfer %s in %s between accounts in %s and %s', t.id, t.currency, d.currency, c.currency)
		FROM ledger_transfers t
		JOIN ledger_accounts d ON d.id = t.debit_account_id
		JOIN ledger_accounts c ON c.id = t.credit_account_id
		WHERE t.currency <> d.currency OR t.currency <> c.currency
		ORDER BY t.id`},
}

// CheckIntegrity checks the ledger's invariants on one consistent snapshot
// (a repeatable-read, read-only transaction) and reports every violation.
func (l *Ledger) CheckIntegrity(ctx context.Context) (IntegrityReport, error) {
	rep := IntegrityReport{CurrencySums: map[string]int64{}}
	tx, err := l.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return rep, storeErr("integrity: begin", err)
	}
	defer tx.Rollback(ctx)

	rows, err := tx.Query(ctx, `SELECT currency, sum(balance)::text, count(*) FROM ledger_accounts GROUP BY currency ORDER BY currency`)
	if err != nil {
		return rep, storeErr("integrity: sums", err)
	}
	for rows.Next() {
		var currency, sum string
		var n int
		if err := rows.Scan(&currency, &sum, &n); err != nil {
			return rep, storeErr("integrity: sums", err)
		}
		rep.Accounts += n
		v, err := strconv.ParseInt(sum, 10, 64)
		if err != nil || v != 0 {
			rep.Problems = append(rep.Problems, fmt.Sprintf("currency %s: balances sum to %s, want 0", currency, sum))
		}
		rep.CurrencySums[currency] = v
	}
	if err := rows.Err(); err != nil {
		return rep, storeErr("integrity: sums", err)
	}
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM ledger_transfers`).Scan(&rep.Transfers); err != nil {
		return rep, storeErr("integrity: count", err)
	}
	for _, c := range integrityChecks {
		rows, err := tx.Query(ctx, c.sql)
		if err != nil {
			return rep, storeErr("integrity: "+c.name, err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return rep, storeErr("integrity: "+c.name, err)
		}
		rep.Problems = append(rep.Problems, lines...)
	}
	rep.OK = len(rep.Problems) == 0
	return rep, nil
}
