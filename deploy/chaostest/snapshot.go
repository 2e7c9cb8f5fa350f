package chaostest

import (
	"context"
	"fmt"
	"math/big"

	"github.com/jackc/pgx/v5"
)

// importExportCode is the community's import/export ledger account
// (server/intertrade.ImportExportCode, restated: this harness imports no
// server package).
const importExportCode = "intertrade:import-export"

// readAccounts reads every ledger account, with the member owning it if the
// database has members.
func readAccounts(ctx context.Context, conn *pgx.Conn, withMembers bool) ([]Account, error) {
	q := `SELECT a.code, '', a.currency, a.balance, a.min_balance, a.max_balance FROM ledger_accounts a ORDER BY a.id`
	if withMembers {
		q = `SELECT a.code, coalesce(m.username, ''), a.currency, a.balance, a.min_balance, a.max_balance
			FROM ledger_accounts a LEFT JOIN members m ON m.account_id = a.id ORDER BY a.id`
	}
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Account, error) {
		var a Account
		err := r.Scan(&a.Code, &a.Owner, &a.Currency, &a.Balance, &a.Min, &a.Max)
		return a, err
	})
}

func readTransfers(ctx context.Context, conn *pgx.Conn) ([]Transfer, error) {
	// A posted hold's transfer is named by the hold's key.
	rows, err := conn.Query(ctx, `SELECT coalesce(t.idempotency_key, p.idempotency_key, ''), d.code, c.code, t.amount
		FROM ledger_transfers t JOIN ledger_accounts d ON d.id = t.debit_account_id JOIN ledger_accounts c ON c.id = t.credit_account_id
		LEFT JOIN ledger_pending p ON p.id = t.pending_id
		ORDER BY t.id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Transfer, error) {
		var t Transfer
		err := r.Scan(&t.Key, &t.Debit, &t.Credit, &t.Amount)
		return t, err
	})
}

// readCommunity reads a community's final state from its database.
func readCommunity(ctx context.Context, url, id, ticks string, divisions, baseDivisions int) (*Community, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	c := &Community{ID: id, Divisions: divisions, Ticks: ticks, ImportExport: importExportCode}
	if c.Accounts, err = readAccounts(ctx, conn, true); err != nil {
		return nil, fmt.Errorf("%s accounts: %w", id, err)
	}
	if c.Transfers, err = readTransfers(ctx, conn); err != nil {
		return nil, fmt.Errorf("%s transfers: %w", id, err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM ledger_pending WHERE status = 'pending'`).Scan(&c.PendingHolds); err != nil {
		return nil, fmt.Errorf("%s holds: %w", id, err)
	}
	rows, err := conn.Query(ctx, `SELECT direction, state, temp_id, local_username,
			CASE WHEN direction = 'out' THEN payee || '@' || remote_community ELSE payer || '@' || remote_community END,
			coalesce(idempotency_key, ''), amount, quantity::text, ticks::text, coalesce(rounding::text, '')
		FROM intertrades ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("%s intertrades: %w", id, err)
	}
	scale := new(big.Rat).SetInt(pow10(baseDivisions))
	c.Intertrades, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Intertrade, error) {
		var it Intertrade
		var q string
		if err := r.Scan(&it.Direction, &it.State, &it.TempID, &it.Local, &it.Remote, &it.Key, &it.Amount, &q, &it.Ticks, &it.Rounding); err != nil {
			return it, err
		}
		v, ok := new(big.Rat).SetString(q)
		if !ok {
			return it, fmt.Errorf("quantity %q", q)
		}
		v.Mul(v, scale)
		if !v.IsInt() {
			return it, fmt.Errorf("intertrade %s: quantity %s has more than %d decimals", it.TempID, q, baseDivisions)
		}
		it.Quantity = v.Num().Int64()
		return it, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s intertrades: %w", id, err)
	}
	return c, nil
}

// readClearing reads the clearing house's final state.
func readClearing(ctx context.Context, url string, divisions int) (Clearing, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return Clearing{}, err
	}
	defer conn.Close(ctx)
	c := Clearing{Divisions: divisions}
	if c.Accounts, err = readAccounts(ctx, conn, false); err != nil {
		return c, fmt.Errorf("clearing accounts: %w", err)
	}
	if c.Transfers, err = readTransfers(ctx, conn); err != nil {
		return c, fmt.Errorf("clearing transfers: %w", err)
	}
	rows, err := conn.Query(ctx, `SELECT payer_community, payee_community, temp_id, status, quantity FROM clearing_intertrades ORDER BY id`)
	if err != nil {
		return c, fmt.Errorf("clearing intertrades: %w", err)
	}
	c.Intertrades, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ClearingIntertrade, error) {
		var ci ClearingIntertrade
		err := r.Scan(&ci.Payer, &ci.Payee, &ci.TempID, &ci.Status, &ci.Quantity)
		return ci, err
	})
	return c, err
}

// pendingCounts counts what is still unresolved in one database: pending
// holds, and pending intertrades (community) or clearing rows.
func pendingCounts(ctx context.Context, url string, clearing bool) (int, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	q := `SELECT (SELECT count(*) FROM ledger_pending WHERE status = 'pending') + (SELECT count(*) FROM intertrades WHERE state = 'pending')`
	if clearing {
		q = `SELECT (SELECT count(*) FROM ledger_pending WHERE status = 'pending') + (SELECT count(*) FROM clearing_intertrades WHERE status = 'pending')`
	}
	var n int
	err = conn.QueryRow(ctx, q).Scan(&n)
	return n, err
}

// ReadCommunity reads a community's final state from its database, for
// other harnesses (deploy/benchtest) that run their own workload and then
// call Check.
func ReadCommunity(ctx context.Context, url, id, ticks string, divisions, baseDivisions int) (*Community, error) {
	return readCommunity(ctx, url, id, ticks, divisions, baseDivisions)
}

// ReadClearing reads the clearing house's final state (see ReadCommunity).
func ReadClearing(ctx context.Context, url string, divisions int) (Clearing, error) {
	return readClearing(ctx, url, divisions)
}

// PendingCounts counts what is still unresolved in one database (see ReadCommunity).
func PendingCounts(ctx context.Context, url string, clearing bool) (int, error) {
	return pendingCounts(ctx, url, clearing)
}
