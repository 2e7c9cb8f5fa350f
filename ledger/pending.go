package ledger

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

const pendingCols = `id, debit_account_id, credit_account_id, amount, currency, description, metadata,
	coalesce(idempotency_key, ''), status, expires_at, created_at, resolved_at, coalesce(transfer_id, 0)`

func scanPending(row pgx.Row, extra ...any) (Pending, error) {
	var p Pending
	var status string
	var resolved *time.Time
	dest := append([]any{&p.ID, &p.Debit, &p.Credit, &p.Amount, &p.Currency, &p.Description, &p.Metadata,
		&p.IdempotencyKey, &status, &p.ExpiresAt, &p.CreatedAt, &resolved, &p.TransferID}, extra...)
	err := row.Scan(dest...)
	p.Status = PendingStatus(status)
	if resolved != nil {
		p.ResolvedAt = *resolved
	}
	if len(p.Metadata) == 0 {
		p.Metadata = nil
	}
	return p, err
}

// Hold reserves r.Amount against the payer's lower limit and the payee's
// upper limit until it is posted, voided, or expires at r.ExpiresAt. The
// rules and refusals are those of Transfer; a repeat of a key with the
// same content returns the hold as it is now.
func (l *Ledger) Hold(ctx context.Context, r HoldRequest) (Pending, error) {
	return refusedIn(ctx, l, func(tx *Tx) (Pending, error) { return tx.Hold(ctx, r) })
}

// Post turns an open hold into a transfer (without a new limit check: the
// hold reserved the room) and returns the transfer. Posting a posted hold
// returns the same transfer; posting a voided, expired or overdue hold is
// refused with CodePendingResolved. A hold can be posted even when one of
// its accounts was frozen after it was made.
func (l *Ledger) Post(ctx context.Context, pendingID int64) (Transfer, error) {
	return inTx(ctx, l, func(tx *Tx) (Transfer, error) { return tx.Post(ctx, pendingID) })
}

// Void releases an open hold (also an overdue one not yet expired). Voiding
// a voided hold returns it unchanged; voiding a posted or expired hold is
// refused with CodePendingResolved.
func (l *Ledger) Void(ctx context.Context, pendingID int64) (Pending, error) {
	return inTx(ctx, l, func(tx *Tx) (Pending, error) { return tx.Void(ctx, pendingID) })
}

// Extend moves an open hold's deadline to until (never earlier), also when
// it is overdue but not yet expired, and returns the hold. A hold whose
// outcome is not known yet (its relay may have been written) is kept open
// this way rather than left to expire into a void. Extending a posted,
// voided or expired hold is refused with CodePendingResolved.
func (l *Ledger) Extend(ctx context.Context, pendingID int64, until time.Time) (Pending, error) {
	return inTx(ctx, l, func(tx *Tx) (Pending, error) { return tx.Extend(ctx, pendingID, until) })
}

// Pending reads a hold; an unknown id is refused with CodePendingNotFound.
func (l *Ledger) Pending(ctx context.Context, pendingID int64) (Pending, error) {
	return readPending(ctx, l.pool, pendingID)
}

func (t *Tx) Pending(ctx context.Context, pendingID int64) (Pending, error) {
	return readPending(ctx, t.tx, pendingID)
}

func (t *Tx) Hold(ctx context.Context, r HoldRequest) (Pending, error) {
	now := t.now()
	if e := validateHold(r, now); e != nil {
		return Pending{}, e
	}
	hash := contentHash(kindHold, r.TransferRequest)
	key := r.IdempotencyKey
	known := map[string]keyRecord{}
	claimed := map[string]bool{}
	accounts := map[AccountID]*Account{}
	var keys []string
	if key != "" {
		keys = []string{key}
	}
	// Claim the key before reading balances (see Batch).
	b := &pgx.Batch{}
	queueClaimKeys(b, kindHold, keys, claimed)
	queueLookupKeys(b, keys, known)
	queueLockAccounts(b, sortedIDs([]AccountID{r.Debit, r.Credit}), accounts)
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return Pending{}, storeErr("prepare hold", err)
	}
	if err := claimsSettled(keys, claimed, known); err != nil {
		return Pending{}, err
	}
	if rec, ok := known[key]; ok {
		if e, refused := rec.answer(key, kindHold, hash); refused {
			return Pending{}, e
		}
		return rec.pending, nil
	}
	d, c, e := pair(accounts, r.Debit, r.Credit)
	if e == nil {
		e = checkMove(*d, *c, r.Amount)
	}
	if e != nil {
		if len(keys) > 0 {
			b = &pgx.Batch{}
			queueRecordRefusals(b, []refusedKey{{key: key, hash: hash, err: e}})
			if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
				return Pending{}, storeErr("record refusal", err)
			}
		}
		return Pending{}, e
	}
	applyHold(d, c, r.Amount)

	var p Pending
	b = &pgx.Batch{}
	b.Queue(`INSERT INTO ledger_pending (debit_account_id, credit_account_id, amount, currency, description,
			metadata, idempotency_key, content_hash, expires_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, nullif($7, ''), $8, $9, $10)
		RETURNING `+pendingCols,
		r.Debit, r.Credit, r.Amount, d.Currency, r.Description, metadataParam(r.Metadata), key, hash, r.ExpiresAt, now).
		QueryRow(func(row pgx.Row) error {
			var err error
			p, err = scanPending(row)
			return err
		})
	queueWriteAccounts(b, orderedPair(d, c))
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return Pending{}, storeErr("write hold", err)
	}
	return p, nil
}

// lockPending locks a hold and its two accounts (accounts first, in
// ascending id order, like every writer) and returns them.
func (t *Tx) lockPending(ctx context.Context, id int64) (Pending, *Account, *Account, error) {
	p, err := readPending(ctx, t.tx, id)
	if err != nil {
		return Pending{}, nil, nil, err
	}
	accounts := map[AccountID]*Account{}
	b := &pgx.Batch{}
	queueLockAccounts(b, sortedIDs([]AccountID{p.Debit, p.Credit}), accounts)
	b.Queue(`SELECT `+pendingCols+` FROM ledger_pending WHERE id = $1 FOR UPDATE`, id).QueryRow(func(row pgx.Row) error {
		p, err = scanPending(row)
		return err
	})
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return Pending{}, nil, nil, storeErr("lock hold", err)
	}
	d, c, e := pair(accounts, p.Debit, p.Credit)
	if e != nil {
		return Pending{}, nil, nil, e
	}
	return p, d, c, nil
}

func resolved(p Pending, action string) *Error {
	return refuse(CodePendingResolved, 0, "cannot %s hold %d: it is %s", action, p.ID, p.Status)
}

func (t *Tx) Post(ctx context.Context, pendingID int64) (Transfer, error) {
	p, d, c, err := t.lockPending(ctx, pendingID)
	if err != nil {
		return Transfer{}, err
	}
	now := t.now()
	switch {
	case p.Status == PendingPosted:
		return readTransfer(ctx, t.tx, p.TransferID)
	case p.Status != PendingOpen:
		return Transfer{}, resolved(p, "post")
	case !now.Before(p.ExpiresAt):
		return Transfer{}, refuse(CodePendingResolved, 0, "cannot post hold %d: it expired at %s",
			p.ID, p.ExpiresAt.Format(time.RFC3339Nano))
	}
	applyPost(d, c, p.Amount)
	req := TransferRequest{Debit: p.Debit, Credit: p.Credit, Amount: p.Amount,
		Description: p.Description, Metadata: p.Metadata}
	plan := plannedTransfer{item: -1, req: req, currency: p.Currency, pendingID: p.ID,
		hash: contentHash(kindTransfer, req), debitBalance: d.Balance, creditBalance: c.Balance}
	var written []Transfer
	b := &pgx.Batch{}
	if err := queueInsertTransfers(b, []plannedTransfer{plan}, now, &written); err != nil {
		return Transfer{}, err
	}
	b.Queue(`UPDATE ledger_pending AS p SET status = 'posted', resolved_at = $2, resolved_seq = t.id, transfer_id = t.id
		FROM ledger_transfers AS t WHERE p.id = $1 AND t.pending_id = p.id`, p.ID, now)
	queueWriteAccounts(b, orderedPair(d, c))
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return Transfer{}, storeErr("post hold", err)
	}
	t.seen.transfers = append(t.seen.transfers, written[0])
	return written[0], nil
}

func (t *Tx) Void(ctx context.Context, pendingID int64) (Pending, error) {
	p, d, c, err := t.lockPending(ctx, pendingID)
	if err != nil {
		return Pending{}, err
	}
	switch p.Status {
	case PendingVoided:
		return p, nil
	case PendingOpen:
	default:
		return Pending{}, resolved(p, "void")
	}
	releaseHold(d, c, p.Amount)
	b := &pgx.Batch{}
	b.Queue(`UPDATE ledger_pending SET status = 'voided', resolved_at = $2, resolved_seq = nextval('ledger_seq')
		WHERE id = $1 RETURNING `+pendingCols, p.ID, t.now()).QueryRow(func(row pgx.Row) error {
		p, err = scanPending(row)
		return err
	})
	queueWriteAccounts(b, orderedPair(d, c))
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return Pending{}, storeErr("void hold", err)
	}
	return p, nil
}

func (t *Tx) Extend(ctx context.Context, pendingID int64, until time.Time) (Pending, error) {
	p, err := scanPending(t.tx.QueryRow(ctx, `UPDATE ledger_pending SET expires_at = greatest(expires_at, $2)
		WHERE id = $1 AND status = 'pending' RETURNING `+pendingCols, pendingID, until))
	if errors.Is(err, pgx.ErrNoRows) {
		cur, rerr := readPending(ctx, t.tx, pendingID)
		if rerr != nil {
			return Pending{}, rerr
		}
		return Pending{}, resolved(cur, "extend")
	}
	if err != nil {
		return Pending{}, storeErr("extend hold", err)
	}
	return p, nil
}

// expireChunk bounds how many holds one ExpireDue transaction expires.
const expireChunk = 500

// ExpireDue expires every pending transfer whose deadline has passed and
// returns how many it expired.
func (l *Ledger) ExpireDue(ctx context.Context) (int, error) {
	total := 0
	for {
		var found int
		n, err := inTx(ctx, l, func(tx *Tx) (int, error) {
			var err error
			var n int
			n, found, err = tx.expireDue(ctx, expireChunk)
			return n, err
		})
		total += n
		if err != nil || found < expireChunk {
			return total, err
		}
	}
}

// expireDue expires up to limit overdue holds; it returns how many it
// expired and how many it found overdue (some may have been resolved since).
func (t *Tx) expireDue(ctx context.Context, limit int) (expired, found int, err error) {
	now := t.now()
	type due struct {
		id            int64
		debit, credit AccountID
	}
	rows, err := t.tx.Query(ctx, `SELECT id, debit_account_id, credit_account_id FROM ledger_pending
		WHERE status = 'pending' AND expires_at <= $1 ORDER BY id LIMIT $2`, now, limit)
	if err != nil {
		return 0, 0, storeErr("find overdue holds", err)
	}
	dues, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (due, error) {
		var d due
		err := row.Scan(&d.id, &d.debit, &d.credit)
		return d, err
	})
	if err != nil || len(dues) == 0 {
		return 0, 0, storeErr("find overdue holds", err)
	}
	var ids []AccountID
	var holdIDs []int64
	for _, d := range dues {
		ids = append(ids, d.debit, d.credit)
		holdIDs = append(holdIDs, d.id)
	}
	accounts := map[AccountID]*Account{}
	var locked []Pending
	b := &pgx.Batch{}
	queueLockAccounts(b, sortedIDs(ids), accounts)
	// Locked after the accounts, and checked again: a hold may have been
	// posted or voided since the query above.
	b.Queue(`SELECT `+pendingCols+` FROM ledger_pending
		WHERE id = ANY($1) AND status = 'pending' AND expires_at <= $2 ORDER BY id FOR UPDATE`, holdIDs, now).
		Query(func(rows pgx.Rows) error {
			var err error
			locked, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Pending, error) { return scanPending(row) })
			return err
		})
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return 0, len(dues), storeErr("lock overdue holds", err)
	}
	if len(locked) == 0 {
		return 0, len(dues), nil
	}
	holdIDs = holdIDs[:0]
	var touched []AccountID
	for _, p := range locked {
		d, c, e := pair(accounts, p.Debit, p.Credit)
		if e != nil {
			return 0, len(dues), e
		}
		releaseHold(d, c, p.Amount)
		holdIDs = append(holdIDs, p.ID)
		touched = append(touched, p.Debit, p.Credit)
	}
	b = &pgx.Batch{}
	b.Queue(`UPDATE ledger_pending SET status = 'expired', resolved_at = $2, resolved_seq = nextval('ledger_seq')
		WHERE id = ANY($1)`, holdIDs, now)
	queueWriteAccounts(b, lockedIn(accounts, touched))
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return 0, len(dues), storeErr("expire holds", err)
	}
	return len(locked), len(dues), nil
}

func readPending(ctx context.Context, q querier, id int64) (Pending, error) {
	p, err := scanPending(q.QueryRow(ctx, `SELECT `+pendingCols+` FROM ledger_pending WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Pending{}, refuse(CodePendingNotFound, 0, "no hold %d", id)
	}
	return p, storeErr("read hold", err)
}

// orderedPair returns two accounts in ascending id order.
func orderedPair(a, b *Account) []*Account {
	if a.ID > b.ID {
		a, b = b, a
	}
	return []*Account{a, b}
}
