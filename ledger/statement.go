package ledger

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Statement limits.
const (
	defaultStatementLimit = 100
	maxStatementLimit     = 1000
)

// Statement returns one page of an account's transfers, oldest first, each
// with the account's balance just after it (stored when the transfer was
// written, so a page costs one indexed query).
func (l *Ledger) Statement(ctx context.Context, id AccountID, q StatementQuery) (Statement, error) {
	switch {
	case q.Limit < 0 || q.Limit > maxStatementLimit:
		return Statement{}, refuse(CodeInvalid, id, "limit must be 0 to %d, got %d", maxStatementLimit, q.Limit)
	case q.After < 0:
		return Statement{}, refuse(CodeInvalid, id, "cursor must not be negative, got %d", q.After)
	case !q.From.IsZero() && !q.To.IsZero() && !q.To.After(q.From):
		return Statement{}, refuse(CodeInvalid, id, "the end of the period must come after its start")
	}
	limit := q.Limit
	if limit == 0 {
		limit = defaultStatementLimit
	}
	acc, err := l.Account(ctx, id)
	if err != nil {
		return Statement{}, err
	}
	st := Statement{Account: acc}
	from, to := timeParam(q.From), timeParam(q.To)
	rows, err := l.pool.Query(ctx, `SELECT `+transferCols+` FROM ledger_transfers
		WHERE (debit_account_id = $1 OR credit_account_id = $1) AND id > $2
		  AND ($3::timestamptz IS NULL OR created_at >= $3) AND ($4::timestamptz IS NULL OR created_at < $4)
		ORDER BY id LIMIT $5`, id, q.After, from, to, limit+1)
	if err != nil {
		return Statement{}, storeErr("statement", err)
	}
	transfers, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Transfer, error) { return scanTransfer(row) })
	if err != nil {
		return Statement{}, storeErr("statement", err)
	}
	if len(transfers) > limit {
		transfers = transfers[:limit]
		st.Next = transfers[limit-1].ID
	}
	for _, tr := range transfers {
		st.Lines = append(st.Lines, lineOf(id, tr))
	}
	if len(st.Lines) > 0 {
		st.Opening = st.Lines[0].Balance - st.Lines[0].Amount
		return st, nil
	}
	// An empty page opens with the balance after the last transfer before it.
	var before Transfer
	before, err = scanTransfer(l.pool.QueryRow(ctx, `SELECT `+transferCols+` FROM ledger_transfers
		WHERE (debit_account_id = $1 OR credit_account_id = $1)
		  AND (($2 > 0 AND id <= $2) OR ($3::timestamptz IS NOT NULL AND created_at < $3))
		ORDER BY id DESC LIMIT 1`, id, q.After, from))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return st, nil
	case err != nil:
		return Statement{}, storeErr("statement opening", err)
	}
	st.Opening = lineOf(id, before).Balance
	return st, nil
}

// lineOf is a transfer as account id sees it.
func lineOf(id AccountID, tr Transfer) StatementLine {
	line := StatementLine{TransferID: tr.ID, Time: tr.CreatedAt, Description: tr.Description, Metadata: tr.Metadata}
	if tr.Debit == id {
		line.Counterparty, line.Amount, line.Balance = tr.Credit, -tr.Amount, tr.DebitBalance
	} else {
		line.Counterparty, line.Amount, line.Balance = tr.Debit, tr.Amount, tr.CreditBalance
	}
	return line
}

// timeParam is nil for the zero time (no bound).
func timeParam(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
