package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// The rules of the ledger, as pure functions of values. The code around
// them locks the rows, reads the values, applies a rule and writes the
// result; the database's CHECK constraints back the same rules.

// MaxLimit bounds the absolute value of account limits, so that no sum
// of a balance, its holds and an amount can overflow an int64.
const MaxLimit int64 = 1 << 61

// Size bounds on request fields, in bytes.
const (
	maxCodeLen        = 200
	maxCurrencyLen    = 64
	maxKeyLen         = 255
	maxDescriptionLen = 4096
	maxMetadataLen    = 16384
)

// validText refuses strings PostgreSQL or JSON would not store as given.
func validText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

func validateMetadata(m map[string]string) *Error {
	size := 0
	for k, v := range m {
		if k == "" || !validText(k) || !validText(v) {
			return refuse(CodeInvalid, 0, "metadata keys must be non-empty UTF-8 text, values UTF-8 text")
		}
		size += len(k) + len(v)
	}
	if size > maxMetadataLen {
		return refuse(CodeInvalid, 0, "metadata is %d bytes, at most %d allowed", size, maxMetadataLen)
	}
	return nil
}

// validateLimits checks that min <= 0 <= max within MaxLimit.
func validateLimits(min, max int64) *Error {
	if min > 0 || max < 0 {
		return refuse(CodeInvalid, 0, "limits must satisfy min <= 0 <= max, got min %d max %d", min, max)
	}
	if min < -MaxLimit || max > MaxLimit {
		return refuse(CodeInvalid, 0, "limits must lie within ±%d", MaxLimit)
	}
	return nil
}

func validateNewAccount(a NewAccount) *Error {
	switch {
	case a.Code == "" || len(a.Code) > maxCodeLen || !validText(a.Code):
		return refuse(CodeInvalid, 0, "account code must be 1 to %d bytes of UTF-8 text", maxCodeLen)
	case a.Currency == "" || len(a.Currency) > maxCurrencyLen || !validText(a.Currency):
		return refuse(CodeInvalid, 0, "currency must be 1 to %d bytes of UTF-8 text", maxCurrencyLen)
	}
	if e := validateLimits(a.Min, a.Max); e != nil {
		return e
	}
	return validateMetadata(a.Metadata)
}

// checkSetLimits refuses new limits that are invalid or that would put the
// account's balance (with its holds) outside them.
func checkSetLimits(a Account, min, max int64) *Error {
	if e := validateLimits(min, max); e != nil {
		e.Account = a.ID
		return e
	}
	if a.Balance-a.PendingDebits < min || a.Balance+a.PendingCredits > max {
		return refuse(CodeLimitsExcludeBalance, a.ID,
			"limits %d..%d exclude balance %d (held debits %d, held credits %d)",
			min, max, a.Balance, a.PendingDebits, a.PendingCredits)
	}
	return nil
}

func validStatus(s AccountStatus) bool { return s == StatusActive || s == StatusFrozen }

// validateRequest checks what a transfer request says about itself, before
// any account is read.
func validateRequest(r TransferRequest) *Error {
	switch {
	case r.Amount <= 0:
		return refuse(CodeNonPositiveAmount, 0, "amount must be positive, got %d", r.Amount)
	case r.Debit == r.Credit:
		return refuse(CodeSameAccount, r.Debit, "debit and credit are the same account %d", r.Debit)
	case len(r.IdempotencyKey) > maxKeyLen || !validText(r.IdempotencyKey):
		return refuse(CodeInvalid, 0, "idempotency key must be at most %d bytes of UTF-8 text", maxKeyLen)
	case len(r.Description) > maxDescriptionLen || !validText(r.Description):
		return refuse(CodeInvalid, 0, "description must be at most %d bytes of UTF-8 text", maxDescriptionLen)
	}
	return validateMetadata(r.Metadata)
}

// validateHold adds the hold's deadline to validateRequest.
func validateHold(r HoldRequest, now time.Time) *Error {
	if e := validateRequest(r.TransferRequest); e != nil {
		return e
	}
	if !r.ExpiresAt.After(now) {
		return refuse(CodeInvalid, 0, "hold must expire in the future, got %s", r.ExpiresAt.Format(time.RFC3339Nano))
	}
	return nil
}

// checkMove decides whether amount may move from d to c, as a transfer or
// as a hold (a hold reserves exactly what a transfer would use).
func checkMove(d, c Account, amount int64) *Error {
	switch {
	case amount <= 0:
		return refuse(CodeNonPositiveAmount, 0, "amount must be positive, got %d", amount)
	case d.ID == c.ID:
		return refuse(CodeSameAccount, d.ID, "debit and credit are the same account %d", d.ID)
	case d.Status != StatusActive:
		return refuse(CodeAccountFrozen, d.ID, "account %d is frozen", d.ID)
	case c.Status != StatusActive:
		return refuse(CodeAccountFrozen, c.ID, "account %d is frozen", c.ID)
	case d.Currency != c.Currency:
		return refuse(CodeCurrencyMismatch, c.ID, "account %d holds %s, account %d holds %s", d.ID, d.Currency, c.ID, c.Currency)
	case amount > d.SpendHeadroom():
		return refuse(CodeOverLowerLimit, d.ID, "account %d can pay at most %d, asked %d", d.ID, max(d.SpendHeadroom(), 0), amount)
	case amount > c.EarnHeadroom():
		return refuse(CodeOverUpperLimit, c.ID, "account %d can receive at most %d, asked %d", c.ID, max(c.EarnHeadroom(), 0), amount)
	}
	return nil
}

// applyTransfer moves amount from d to c.
func applyTransfer(d, c *Account, amount int64) {
	d.Balance -= amount
	c.Balance += amount
}

// applyHold reserves amount on both sides.
func applyHold(d, c *Account, amount int64) {
	d.PendingDebits += amount
	c.PendingCredits += amount
}

// releaseHold gives a reservation back (void, expiry).
func releaseHold(d, c *Account, amount int64) {
	d.PendingDebits -= amount
	c.PendingCredits -= amount
}

// applyPost turns a reservation into a transfer. It needs no check: the
// hold already reserved the room, and neither side's balance-with-holds moves.
func applyPost(d, c *Account, amount int64) {
	releaseHold(d, c, amount)
	applyTransfer(d, c, amount)
}

// Request kinds, part of the content hash so that a transfer and a hold
// never share a key by accident.
const (
	kindTransfer = "transfer"
	kindHold     = "hold"
)

// contentHash identifies a request's content for idempotency: the kind,
// both accounts, the amount, the description and the metadata. A hold's
// deadline is not part of it, so a client retrying a hold with a freshly
// computed deadline gets its first hold back.
func contentHash(kind string, r TransferRequest) []byte {
	h := sha256.New()
	var buf [8]byte
	str := func(s string) {
		binary.BigEndian.PutUint64(buf[:], uint64(len(s)))
		h.Write(buf[:])
		h.Write([]byte(s))
	}
	num := func(n int64) {
		binary.BigEndian.PutUint64(buf[:], uint64(n))
		h.Write(buf[:])
	}
	str(kind)
	num(int64(r.Debit))
	num(int64(r.Credit))
	num(r.Amount)
	str(r.Description)
	keys := make([]string, 0, len(r.Metadata))
	for k := range r.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	num(int64(len(keys)))
	for _, k := range keys {
		str(k)
		str(r.Metadata[k])
	}
	return h.Sum(nil)
}
