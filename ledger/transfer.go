package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

const transferCols = `id, debit_account_id, credit_account_id, amount, currency, description, metadata,
	coalesce(idempotency_key, ''), coalesce(pending_id, 0), debit_balance, credit_balance, created_at`

func scanTransfer(row pgx.Row, extra ...any) (Transfer, error) {
	var tr Transfer
	dest := append([]any{&tr.ID, &tr.Debit, &tr.Credit, &tr.Amount, &tr.Currency, &tr.Description, &tr.Metadata,
		&tr.IdempotencyKey, &tr.PendingID, &tr.DebitBalance, &tr.CreditBalance, &tr.CreatedAt}, extra...)
	err := row.Scan(dest...)
	if len(tr.Metadata) == 0 {
		tr.Metadata = nil
	}
	return tr, err
}

// Transfer moves r.Amount from r.Debit to r.Credit in its own database
// transaction, or refuses with an *Error and moves nothing (a refused
// request's key keeps its refusal: repeats get the same answer).
func (l *Ledger) Transfer(ctx context.Context, r TransferRequest) (Transfer, error) {
	return refusedIn(ctx, l, func(tx *Tx) (Transfer, error) { return tx.Transfer(ctx, r) })
}

// Transfer is Ledger.Transfer inside the transaction.
func (t *Tx) Transfer(ctx context.Context, r TransferRequest) (Transfer, error) {
	res, err := t.Batch(ctx, []BatchItem{{TransferRequest: r}})
	if err != nil {
		return Transfer{}, err
	}
	return res[0].Transfer, res[0].Err
}

// TransferByID reads a committed transfer; an unknown id is refused with CodeInvalid.
func (l *Ledger) TransferByID(ctx context.Context, id int64) (Transfer, error) {
	return readTransfer(ctx, l.pool, id)
}

func readTransfer(ctx context.Context, q querier, id int64) (Transfer, error) {
	tr, err := scanTransfer(q.QueryRow(ctx, `SELECT `+transferCols+` FROM ledger_transfers WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Transfer{}, refuse(CodeInvalid, 0, "no transfer %d", id)
	}
	return tr, storeErr("read transfer", err)
}

// KeyUsed reports whether a committed transfer or hold carries the
// idempotency key. Callers that share one key space across several kinds of
// request (a member's local and remote payments) use it to refuse a reused
// key before doing slow work; the key's uniqueness is still what decides.
func (l *Ledger) KeyUsed(ctx context.Context, key string) (bool, error) {
	var used bool
	err := l.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM ledger_idempotency WHERE key = $1)`, key).Scan(&used)
	if err != nil {
		return false, fmt.Errorf("ledger: key used: %w", err)
	}
	return used, nil
}

// keyRecord is what an idempotency key already stands for: a committed
// transfer or hold, or the refusal of its first request.
type keyRecord struct {
	kind     string
	hash     []byte
	transfer Transfer // kind transfer
	pending  Pending  // kind hold
	refusal  *Error   // the first request was refused
}

// answer is what a repeat of the key with content hash gets when the key
// was first used for kind: the first answer's refusal, or a conflict when
// the content differs; ok is false when the first request succeeded (the
// caller returns its transfer or hold).
func (rec keyRecord) answer(key, kind string, hash []byte) (err *Error, refused bool) {
	if rec.kind != kind || !bytes.Equal(rec.hash, hash) {
		return conflict(key), true
	}
	if rec.refusal != nil {
		r := *rec.refusal
		return &r, true
	}
	return nil, false
}

// queueLookupKeys adds to b the lookup of keys among committed transfers
// and holds; what it finds lands in into.
func queueLookupKeys(b *pgx.Batch, keys []string, into map[string]keyRecord) {
	if len(keys) == 0 {
		return
	}
	b.Queue(`SELECT `+transferCols+`, content_hash FROM ledger_transfers WHERE idempotency_key = ANY($1)`, keys).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var hash []byte
				tr, err := scanTransfer(rows, &hash)
				if err != nil {
					return err
				}
				into[tr.IdempotencyKey] = keyRecord{kind: kindTransfer, hash: hash, transfer: tr}
			}
			return rows.Err()
		})
	b.Queue(`SELECT `+pendingCols+`, content_hash FROM ledger_pending WHERE idempotency_key = ANY($1)`, keys).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var hash []byte
				p, err := scanPending(rows, &hash)
				if err != nil {
					return err
				}
				into[p.IdempotencyKey] = keyRecord{kind: kindHold, hash: hash, pending: p}
			}
			return rows.Err()
		})
	b.Queue(`SELECT key, kind, content_hash, refusal_code, coalesce(refusal_message, ''), coalesce(refusal_account, 0)
		FROM ledger_idempotency WHERE key = ANY($1) AND refusal_code IS NOT NULL`, keys).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var key string
				var rec keyRecord
				e := &Error{}
				if err := rows.Scan(&key, &rec.kind, &rec.hash, &e.Code, &e.Message, &e.Account); err != nil {
					return err
				}
				rec.refusal = e
				into[key] = rec
			}
			return rows.Err()
		})
}

// queueClaimKeys adds to b the claiming of keys for kind; the keys this
// transaction claimed land in claimed. A key is claimed before anything
// else is read, so that a concurrent request with the same key waits here
// until the first one ends, then finds its result (a key committed by
// another transaction is not claimed, and the lookup queued after this
// sees it). Keys are claimed in sorted order, so two batches sharing keys
// never wait on each other in a cycle.
func queueClaimKeys(b *pgx.Batch, kind string, keys []string, claimed map[string]bool) {
	if len(keys) == 0 {
		return
	}
	keys = slices.Sorted(slices.Values(keys))
	b.Queue(`INSERT INTO ledger_idempotency (key, kind) SELECT k, $2 FROM unnest($1::text[]) WITH ORDINALITY AS u(k, ord)
		ORDER BY ord ON CONFLICT (key) DO NOTHING RETURNING key`, keys, kind).Query(func(rows pgx.Rows) error {
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		for _, k := range got {
			claimed[k] = true
		}
		return err
	})
}

// claimsSettled checks that every key is either claimed by this
// transaction or known (committed by another). A key neither claimed nor
// found was committed between the two statements by a transaction this one
// cannot see yet; running again finds it.
func claimsSettled(keys []string, claimed map[string]bool, known map[string]keyRecord) error {
	for _, k := range keys {
		if _, ok := known[k]; !ok && !claimed[k] {
			return errRetry
		}
	}
	return nil
}

// refusedKey is a key this transaction claimed for a request it refused.
type refusedKey struct {
	key  string
	hash []byte
	err  *Error
}

// queueRecordRefusals adds to b the recording of refused requests' keys
// with their refusal: the key stays taken, and every repeat of it gets
// the same refusal (a refusal moves no money, so remembering it is safe,
// and forgetting it let a concurrent repeat be paid after the first copy
// was told "refused").
func queueRecordRefusals(b *pgx.Batch, refused []refusedKey) {
	for _, r := range refused {
		b.Queue(`UPDATE ledger_idempotency SET content_hash = $2, refusal_code = $3, refusal_message = $4,
			refusal_account = nullif($5, 0) WHERE key = $1`, r.key, r.hash, string(r.err.Code), r.err.Message, int64(r.err.Account))
	}
}

// plannedTransfer is a transfer the rules accepted, waiting to be written.
type plannedTransfer struct {
	item      int // index in the batch, or -1
	req       TransferRequest
	currency  string
	pendingID int64
	hash      []byte
	// after the transfer
	debitBalance, creditBalance int64
}

// queueInsertTransfers adds to b the insertion of the planned transfers in
// order (their ids ascend in that order); the written transfers land in into.
func queueInsertTransfers(b *pgx.Batch, plans []plannedTransfer, now time.Time, into *[]Transfer) error {
	n := len(plans)
	debit, credit, amount := make([]int64, n), make([]int64, n), make([]int64, n)
	currency, desc, meta, key := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	hash := make([][]byte, n)
	pending, debitBal, creditBal := make([]int64, n), make([]int64, n), make([]int64, n)
	for i, p := range plans {
		m, err := json.Marshal(metadataParam(p.req.Metadata))
		if err != nil {
			return fmt.Errorf("ledger: metadata: %w", err)
		}
		debit[i], credit[i], amount[i] = int64(p.req.Debit), int64(p.req.Credit), p.req.Amount
		currency[i], desc[i], meta[i], key[i] = p.currency, p.req.Description, string(m), p.req.IdempotencyKey
		hash[i], pending[i], debitBal[i], creditBal[i] = p.hash, p.pendingID, p.debitBalance, p.creditBalance
	}
	b.Queue(`INSERT INTO ledger_transfers (debit_account_id, credit_account_id, amount, currency, description,
			metadata, idempotency_key, content_hash, pending_id, debit_balance, credit_balance, created_at)
		SELECT d, c, a, cur, descr, meta::jsonb, nullif(k, ''), h, nullif(p, 0), db, cb, $12
		FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[],
			$8::bytea[], $9::bigint[], $10::bigint[], $11::bigint[])
			WITH ORDINALITY AS u(d, c, a, cur, descr, meta, k, h, p, db, cb, ord)
		ORDER BY ord
		RETURNING `+transferCols,
		debit, credit, amount, currency, desc, meta, key, hash, pending, debitBal, creditBal, now).
		Query(func(rows pgx.Rows) error {
			written, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Transfer, error) { return scanTransfer(row) })
			if err != nil {
				return err
			}
			// The rows come back in insertion order; check it, since the
			// stored running balances rely on it.
			if len(written) != n {
				return fmt.Errorf("ledger: wrote %d transfers, want %d", len(written), n)
			}
			for i, tr := range written {
				if tr.Debit != plans[i].req.Debit || tr.Credit != plans[i].req.Credit || tr.DebitBalance != debitBal[i] ||
					(i > 0 && tr.ID <= written[i-1].ID) {
					return fmt.Errorf("ledger: transfers written out of order at %d", i)
				}
			}
			*into = written
			return nil
		})
	return nil
}
