package ledger

import (
	"bytes"
	"context"

	"github.com/jackc/pgx/v5"
)

// Batch applies many transfers in one database transaction (one commit),
// each with its own result, in input order. It locks every account involved
// up front, in ascending id order, then applies the items in order against
// the locked balances; items sharing a non-empty Group are applied together
// at the position of the group's first item, all or none. The error is
// non-nil only when the batch could not run at all (nothing is written then).
//
// Within a batch, an item repeating an earlier item's idempotency key gets
// that item's result (transfer or refusal) when its content is the same,
// and CodeIdempotencyConflict otherwise.
func (l *Ledger) Batch(ctx context.Context, items []BatchItem) ([]BatchResult, error) {
	return inTx(ctx, l, func(tx *Tx) ([]BatchResult, error) { return tx.Batch(ctx, items) })
}

// Batch is Ledger.Batch inside the transaction.
func (t *Tx) Batch(ctx context.Context, items []BatchItem) ([]BatchResult, error) {
	n := len(items)
	res := make([]BatchResult, n)
	decided := make([]bool, n) // res[i] is final
	hashes := make([][]byte, n)
	firstOfKey := map[string]int{}
	repeatOf := make([]int, n) // the earlier item with the same key, or -1
	var keys []string
	var ids []AccountID
	for i, it := range items {
		repeatOf[i] = -1
		if e := validateRequest(it.TransferRequest); e != nil {
			res[i].Err, decided[i] = e, true
			continue
		}
		hashes[i] = contentHash(kindTransfer, it.TransferRequest)
		if k := it.IdempotencyKey; k != "" {
			if j, ok := firstOfKey[k]; ok {
				repeatOf[i] = j
				if !bytes.Equal(hashes[i], hashes[j]) {
					res[i].Err, decided[i] = conflict(k), true
				}
				continue
			}
			firstOfKey[k] = i
			keys = append(keys, k)
		}
		ids = append(ids, it.Debit, it.Credit)
	}

	// One round trip: claim the keys, find what the ones already committed
	// stand for, and lock the accounts. The claim comes first, so that a
	// repeat racing with the first request gets its result rather than
	// being checked against balances the first one already moved.
	known := map[string]keyRecord{}
	claimed := map[string]bool{}
	accounts := map[AccountID]*Account{}
	b := &pgx.Batch{}
	queueClaimKeys(b, kindTransfer, keys, claimed)
	queueLookupKeys(b, keys, known)
	if len(ids) > 0 {
		queueLockAccounts(b, sortedIDs(ids), accounts)
	}
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, storeErr("prepare batch", err)
	}
	if err := claimsSettled(keys, claimed, known); err != nil {
		return nil, err
	}
	for k, rec := range known {
		i := firstOfKey[k]
		if e, refused := rec.answer(k, kindTransfer, hashes[i]); refused {
			res[i].Err = e
		} else {
			res[i].Transfer = rec.transfer
		}
		decided[i] = true
	}

	// Apply the rules, unit by unit: a lone item, or a whole group.
	var plans []plannedTransfer
	seenGroup := map[string]bool{}
	for i, it := range items {
		if repeatOf[i] >= 0 {
			continue
		}
		if it.Group == "" {
			if !decided[i] {
				plans = t.planItem(i, it.TransferRequest, hashes[i], accounts, plans, res)
			}
			continue
		}
		if seenGroup[it.Group] {
			continue
		}
		seenGroup[it.Group] = true
		plans = t.planGroup(it.Group, items, repeatOf, decided, hashes, accounts, plans, res)
	}

	written, err := t.writeTransfers(ctx, plans, accounts, refusedKeys(claimed, plans, firstOfKey, hashes, res))
	if err != nil {
		return nil, err
	}
	for k, tr := range written {
		res[plans[k].item].Transfer = tr
	}
	for i, j := range repeatOf {
		if j >= 0 && !decided[i] {
			res[i] = res[j]
		}
	}
	t.seen.batches = append(t.seen.batches, n)
	for _, r := range res {
		if r.Err != nil {
			t.seen.refusals = append(t.seen.refusals, CodeOf(r.Err))
		}
	}
	return res, nil
}

func conflict(key string) *Error {
	return refuse(CodeIdempotencyConflict, 0, "idempotency key %q was used with different content", key)
}

// planItem checks one item against the locked balances and, when the rules
// accept it, applies it to them and appends it to plans; a refusal goes to res.
func (t *Tx) planItem(i int, r TransferRequest, hash []byte, accounts map[AccountID]*Account,
	plans []plannedTransfer, res []BatchResult) []plannedTransfer {
	d, c, e := pair(accounts, r.Debit, r.Credit)
	if e == nil {
		e = checkMove(*d, *c, r.Amount)
	}
	if e != nil {
		res[i].Err = e
		return plans
	}
	applyTransfer(d, c, r.Amount)
	return append(plans, plannedTransfer{item: i, req: r, currency: d.Currency, hash: hash,
		debitBalance: d.Balance, creditBalance: c.Balance})
}

// planGroup plans every item of group, or none: on the first refusal it
// restores the balances, and the other items get CodeGroupFailed. Items
// already decided (an idempotent repeat of a committed transfer) count as
// accepted; an item already refused fails the group.
func (t *Tx) planGroup(group string, items []BatchItem, repeatOf []int, decided []bool, hashes [][]byte,
	accounts map[AccountID]*Account, plans []plannedTransfer, res []BatchResult) []plannedTransfer {
	var members []int
	saved := map[AccountID]Account{}
	for i, it := range items {
		if it.Group != group {
			continue
		}
		members = append(members, i)
		for _, id := range []AccountID{it.Debit, it.Credit} {
			if a, ok := accounts[id]; ok {
				saved[id] = *a
			}
		}
	}
	before := len(plans)
	failed := -1
	for _, i := range members {
		it := items[i]
		if failed >= 0 || repeatOf[i] >= 0 && !decided[i] {
			continue
		}
		if decided[i] {
			if res[i].Err != nil {
				failed = i
			}
			continue
		}
		plans = t.planItem(i, it.TransferRequest, hashes[i], accounts, plans, res)
		if res[i].Err != nil {
			failed = i
		}
	}
	if failed < 0 {
		return plans
	}
	for id, a := range saved {
		*accounts[id] = a
	}
	for _, i := range members {
		if i == failed || decided[i] || repeatOf[i] >= 0 {
			continue // a committed key, refused for its own reason, or a repeat (it gets its key's one answer)
		}
		res[i].Err = refuse(CodeGroupFailed, 0, "group %q failed: item %d: %v", group, failed, res[failed].Err)
		decided[i] = true
	}
	return plans[:before]
}

// pair finds both accounts of a request among the locked ones.
func pair(accounts map[AccountID]*Account, debit, credit AccountID) (*Account, *Account, *Error) {
	d, ok := accounts[debit]
	if !ok {
		return nil, nil, refuse(CodeUnknownAccount, debit, "no account %d", debit)
	}
	c, ok := accounts[credit]
	if !ok {
		return nil, nil, refuse(CodeUnknownAccount, credit, "no account %d", credit)
	}
	return d, c, nil
}

// refusedKeys returns the claimed keys that no planned transfer uses, with
// the refusal of the item that claimed them.
func refusedKeys(claimed map[string]bool, plans []plannedTransfer, firstOfKey map[string]int, hashes [][]byte, res []BatchResult) []refusedKey {
	used := map[string]bool{}
	for _, p := range plans {
		used[p.req.IdempotencyKey] = true
	}
	var out []refusedKey
	for k := range claimed {
		if used[k] {
			continue
		}
		i := firstOfKey[k]
		e, ok := res[i].Err.(*Error)
		if !ok || e == nil {
			e = refuse(CodeInvalid, 0, "refused")
		}
		out = append(out, refusedKey{key: k, hash: hashes[i], err: e})
	}
	return out
}

// writeTransfers writes planned transfers and the accounts they touched,
// and records the refusals of the refused items' claimed keys, in one
// round trip.
func (t *Tx) writeTransfers(ctx context.Context, plans []plannedTransfer, accounts map[AccountID]*Account, refused []refusedKey) ([]Transfer, error) {
	if len(plans) == 0 && len(refused) == 0 {
		return nil, nil
	}
	var touched []AccountID
	for _, p := range plans {
		touched = append(touched, p.req.Debit, p.req.Credit)
	}
	var written []Transfer
	b := &pgx.Batch{}
	queueRecordRefusals(b, refused)
	if len(plans) > 0 {
		if err := queueInsertTransfers(b, plans, t.now(), &written); err != nil {
			return nil, err
		}
		queueWriteAccounts(b, lockedIn(accounts, touched))
	}
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, storeErr("write transfers", err)
	}
	t.seen.transfers = append(t.seen.transfers, written...)
	return written, nil
}

// lockedIn returns the locked accounts with the given ids, distinct and in
// ascending id order (the order every writer writes them in).
func lockedIn(accounts map[AccountID]*Account, ids []AccountID) []*Account {
	ids = sortedIDs(ids)
	out := make([]*Account, len(ids))
	for i, id := range ids {
		out[i] = accounts[id]
	}
	return out
}
