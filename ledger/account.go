package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const accountCols = `id, code, currency, min_balance, max_balance, status, metadata,
	balance, pending_debits, pending_credits, created_at`

func scanAccount(row pgx.Row) (Account, error) {
	var a Account
	var status string
	err := row.Scan(&a.ID, &a.Code, &a.Currency, &a.Min, &a.Max, &status, &a.Metadata,
		&a.Balance, &a.PendingDebits, &a.PendingCredits, &a.CreatedAt)
	a.Status = AccountStatus(status)
	if len(a.Metadata) == 0 {
		a.Metadata = nil
	}
	return a, err
}

func collectAccount(row pgx.CollectableRow) (Account, error) { return scanAccount(row) }

// metadataParam stores a nil map as an empty JSON object.
func metadataParam(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func (l *Ledger) CreateAccount(ctx context.Context, a NewAccount) (Account, error) {
	return inTx(ctx, l, func(tx *Tx) (Account, error) { return tx.CreateAccount(ctx, a) })
}

func (l *Ledger) Account(ctx context.Context, id AccountID) (Account, error) {
	return readAccount(ctx, l.pool, id)
}

func (l *Ledger) AccountByCode(ctx context.Context, code string) (Account, error) {
	return readAccountByCode(ctx, l.pool, code)
}

// Accounts lists accounts of a currency ("" for all), by id.
func (l *Ledger) Accounts(ctx context.Context, currency string) ([]Account, error) {
	rows, err := l.pool.Query(ctx, `SELECT `+accountCols+` FROM ledger_accounts
		WHERE $1 = '' OR currency = $1 ORDER BY id`, currency)
	if err != nil {
		return nil, storeErr("list accounts", err)
	}
	accounts, err := pgx.CollectRows(rows, collectAccount)
	return accounts, storeErr("list accounts", err)
}

// SetLimits changes an account's limits; it refuses limits that would put
// the current balance (with its holds) outside them.
func (l *Ledger) SetLimits(ctx context.Context, id AccountID, min, max int64) (Account, error) {
	return inTx(ctx, l, func(tx *Tx) (Account, error) { return tx.SetLimits(ctx, id, min, max) })
}

// SetStatus freezes or unfreezes an account. A frozen account can neither
// pay nor be paid; its open holds can still be posted, voided or expire.
func (l *Ledger) SetStatus(ctx context.Context, id AccountID, s AccountStatus) (Account, error) {
	return inTx(ctx, l, func(tx *Tx) (Account, error) { return tx.SetStatus(ctx, id, s) })
}

// CreateAccount creates an account with a zero balance; a code already in
// use is refused with CodeDuplicateAccount.
func (t *Tx) CreateAccount(ctx context.Context, a NewAccount) (Account, error) {
	if e := validateNewAccount(a); e != nil {
		return Account{}, e
	}
	row := t.tx.QueryRow(ctx, `INSERT INTO ledger_accounts (code, currency, min_balance, max_balance, metadata, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (code) DO NOTHING
		RETURNING `+accountCols,
		a.Code, a.Currency, a.Min, a.Max, metadataParam(a.Metadata), t.now())
	acc, err := scanAccount(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return Account{}, refuse(CodeDuplicateAccount, 0, "account code %q is taken", a.Code)
	}
	return acc, storeErr("create account", err)
}

func (t *Tx) Account(ctx context.Context, id AccountID) (Account, error) {
	return readAccount(ctx, t.tx, id)
}

func (t *Tx) AccountByCode(ctx context.Context, code string) (Account, error) {
	return readAccountByCode(ctx, t.tx, code)
}

func (t *Tx) SetLimits(ctx context.Context, id AccountID, min, max int64) (Account, error) {
	a, err := lockAccount(ctx, t.tx, id)
	if err != nil {
		return Account{}, err
	}
	if e := checkSetLimits(a, min, max); e != nil {
		return Account{}, e
	}
	row := t.tx.QueryRow(ctx, `UPDATE ledger_accounts SET min_balance = $2, max_balance = $3
		WHERE id = $1 RETURNING `+accountCols, id, min, max)
	a, err = scanAccount(row)
	return a, storeErr("set limits", err)
}

func (t *Tx) SetStatus(ctx context.Context, id AccountID, s AccountStatus) (Account, error) {
	if !validStatus(s) {
		return Account{}, refuse(CodeInvalid, id, "status must be %q or %q, got %q", StatusActive, StatusFrozen, s)
	}
	if _, err := lockAccount(ctx, t.tx, id); err != nil {
		return Account{}, err
	}
	row := t.tx.QueryRow(ctx, `UPDATE ledger_accounts SET status = $2
		WHERE id = $1 RETURNING `+accountCols, id, string(s))
	a, err := scanAccount(row)
	return a, storeErr("set status", err)
}

func readAccount(ctx context.Context, q querier, id AccountID) (Account, error) {
	a, err := scanAccount(q.QueryRow(ctx, `SELECT `+accountCols+` FROM ledger_accounts WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Account{}, refuse(CodeUnknownAccount, id, "no account %d", id)
	}
	return a, storeErr("read account", err)
}

func readAccountByCode(ctx context.Context, q querier, code string) (Account, error) {
	if !validText(code) {
		return Account{}, refuse(CodeUnknownAccount, 0, "no account with code %q", code)
	}
	a, err := scanAccount(q.QueryRow(ctx, `SELECT `+accountCols+` FROM ledger_accounts WHERE code = $1`, code))
	if errors.Is(err, pgx.ErrNoRows) {
		return Account{}, refuse(CodeUnknownAccount, 0, "no account with code %q", code)
	}
	return a, storeErr("read account", err)
}

func lockAccount(ctx context.Context, tx pgx.Tx, id AccountID) (Account, error) {
	a, err := scanAccount(tx.QueryRow(ctx, `SELECT `+accountCols+` FROM ledger_accounts WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Account{}, refuse(CodeUnknownAccount, id, "no account %d", id)
	}
	return a, storeErr("lock account", err)
}

// lockAccountsSQL locks accounts in ascending id order: the rows are
// locked as the sorted scan returns them, so every writer takes its locks
// in the same order and two writers never wait for each other in a cycle.
const lockAccountsSQL = `SELECT ` + accountCols + ` FROM ledger_accounts
	WHERE id = ANY($1) ORDER BY id FOR UPDATE`

// queueLockAccounts adds the locking of ids to b; the locked accounts land in into.
func queueLockAccounts(b *pgx.Batch, ids []AccountID, into map[AccountID]*Account) {
	b.Queue(lockAccountsSQL, ids).Query(func(rows pgx.Rows) error {
		accounts, err := pgx.CollectRows(rows, collectAccount)
		if err != nil {
			return storeErr("lock accounts", err)
		}
		for i := range accounts {
			into[accounts[i].ID] = &accounts[i]
		}
		return nil
	})
}

// queueWriteAccounts adds the writing of the accounts' balances and holds to b.
func queueWriteAccounts(b *pgx.Batch, accounts []*Account) {
	n := len(accounts)
	ids, bal, pd, pc := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	for i, a := range accounts {
		ids[i], bal[i], pd[i], pc[i] = int64(a.ID), a.Balance, a.PendingDebits, a.PendingCredits
	}
	b.Queue(`UPDATE ledger_accounts AS a
		SET balance = u.balance, pending_debits = u.pd, pending_credits = u.pc
		FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[]) AS u(id, balance, pd, pc)
		WHERE a.id = u.id`, ids, bal, pd, pc).Exec(func(ct pgconn.CommandTag) error {
		if ct.RowsAffected() != int64(n) {
			return fmt.Errorf("ledger: wrote %d accounts, want %d", ct.RowsAffected(), n)
		}
		return nil
	})
}

// sortedIDs returns the distinct ids, ascending.
func sortedIDs(ids []AccountID) []AccountID {
	out := append([]AccountID(nil), ids...)
	slices.Sort(out)
	return slices.Compact(out)
}
