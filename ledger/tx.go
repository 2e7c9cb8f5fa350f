package ledger

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Options configures a Ledger.
type Options struct {
	// Now gives the time of writes and of expiry checks; time.Now by default.
	Now func() time.Time
	// Observer, when set, is told what each transaction committed and
	// refused (for metrics: ledger/ledgermetrics).
	Observer Observer
}

// Observer is told, after each ledger transaction, of every transfer it
// committed, every refusal, and the size of every batch. Its methods must
// be quick and safe for concurrent use.
type Observer interface {
	Transferred(Transfer)
	Refused(Code)
	Batched(size int)
}

// observed is what a transaction did, reported to the Observer once it ends.
type observed struct {
	transfers []Transfer
	refusals  []Code
	batches   []int
}

// Ledger is the ledger on one database.
type Ledger struct {
	pool *pgxpool.Pool
	now  func() time.Time
	obs  Observer
}

// New returns a ledger on pool.
func New(pool *pgxpool.Pool, opts Options) *Ledger {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Ledger{pool: pool, now: now, obs: opts.Observer}
}

// Tx is a ledger transaction: the same write operations as Ledger, run in
// one database transaction together with the caller's own SQL on Conn().
// A Tx method that refuses (returns an *Error) has written nothing, and the
// transaction can go on; any other error leaves the transaction unusable.
// (The one exception is a refusal by a database constraint, the backstop
// behind the rules that a correct ledger never reaches: the transaction is
// then aborted as well.)
type Tx struct {
	tx   pgx.Tx
	now  func() time.Time
	seen observed
}

// Conn is the underlying database transaction, for the caller's own
// statements that must commit or roll back with the ledger's.
func (t *Tx) Conn() pgx.Tx { return t.tx }

// maxAttempts bounds how often InTx runs fn.
const maxAttempts = 12

// errRetry says a concurrent transaction committed an idempotency key this
// one was about to use; running again finds that key's first result.
var errRetry = errors.New("ledger: idempotency key committed concurrently")

// InTx runs fn in one database transaction and commits if fn returns nil.
// It retries fn (a bounded number of times) on serialization failures and
// deadlocks, so fn must be safe to run again.
func (l *Ledger) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := l.runTx(ctx, fn)
		if err == nil || !retryable(err) {
			return err
		}
		if attempt == maxAttempts {
			return fmt.Errorf("ledger: gave up after %d attempts: %w", attempt, err)
		}
		// Back off a little, with jitter, so that the contenders spread out.
		wait := time.Duration(rand.Int64N(int64(attempt) * int64(2*time.Millisecond)))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

func (l *Ledger) runTx(ctx context.Context, fn func(tx *Tx) error) error {
	tx, err := l.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("ledger: begin: %w", err)
	}
	defer tx.Rollback(ctx)
	t := &Tx{tx: tx, now: l.now}
	if err := fn(t); err != nil {
		l.report(t.seen, err)
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return &commitError{err}
	}
	l.report(t.seen, nil)
	return nil
}

// commitError is a failed COMMIT: whether the transaction committed is
// unknown, so nothing may run it again on its own (a transfer without an
// idempotency key would be doubled).
type commitError struct{ err error }

func (e *commitError) Error() string { return "ledger: commit: " + e.err.Error() }
func (e *commitError) Unwrap() error { return e.err }

// report tells the Observer what a transaction did: on commit (err nil)
// its transfers, refusals and batches; on a refusal (err an *Error) the
// refusals alone. A failure that InTx retries reports nothing.
func (l *Ledger) report(seen observed, err error) {
	if l.obs == nil || (err != nil && retryable(err)) {
		return
	}
	if err != nil {
		if len(seen.refusals) == 0 && CodeOf(err) != "" {
			seen.refusals = []Code{CodeOf(err)}
		}
		seen.transfers, seen.batches = nil, nil
	}
	for _, tr := range seen.transfers {
		l.obs.Transferred(tr)
	}
	for _, c := range seen.refusals {
		l.obs.Refused(c)
	}
	for _, n := range seen.batches {
		l.obs.Batched(n)
	}
}

// inTx is InTx for a function with a result.
func inTx[T any](ctx context.Context, l *Ledger, fn func(tx *Tx) (T, error)) (T, error) {
	var out T
	err := l.InTx(ctx, func(tx *Tx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// refusedIn runs fn in its own transaction like inTx, but commits when fn
// answers with a refusal (*Error): a refused request writes nothing but
// the record of its idempotency key's refusal, which must outlive the
// transaction so that every repeat of the key gets the same answer.
func refusedIn[T any](ctx context.Context, l *Ledger, fn func(tx *Tx) (T, error)) (T, error) {
	var refusal *Error
	out, err := inTx(ctx, l, func(tx *Tx) (T, error) {
		refusal = nil
		v, err := fn(tx)
		if errors.As(err, &refusal) {
			return v, nil
		}
		return v, err
	})
	if err == nil && refusal != nil {
		var zero T
		return zero, refusal
	}
	return out, err
}

// retryable reports whether running the transaction again may succeed.
func retryable(err error) bool {
	if errors.Is(err, errRetry) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return true
		case "23505": // unique_violation: a key won by a concurrent transaction
			return pgErr.ConstraintName == "ledger_idempotency_pkey" ||
				pgErr.ConstraintName == "ledger_transfers_idempotency_key_key" ||
				pgErr.ConstraintName == "ledger_pending_idempotency_key_key"
		}
	}
	return false
}

// constraintCodes translates the names of the constraints that back a
// ledger rule into the refusal the rule would have given.
var constraintCodes = map[string]Code{
	"ledger_accounts_code_key":          CodeDuplicateAccount,
	"ledger_accounts_lower_limit_check": CodeOverLowerLimit,
	"ledger_accounts_upper_limit_check": CodeOverUpperLimit,
	"ledger_accounts_limits_check":      CodeInvalid,
	"ledger_accounts_status_check":      CodeInvalid,
	"ledger_transfers_amount_check":     CodeNonPositiveAmount,
	"ledger_pending_amount_check":       CodeNonPositiveAmount,
	"ledger_transfers_accounts_check":   CodeSameAccount,
	"ledger_pending_accounts_check":     CodeSameAccount,
	"ledger_transfers_debit_fkey":       CodeUnknownAccount,
	"ledger_transfers_credit_fkey":      CodeUnknownAccount,
	"ledger_pending_debit_fkey":         CodeUnknownAccount,
	"ledger_pending_credit_fkey":        CodeUnknownAccount,
}

// storeErr wraps a database error with what was being done, translating a
// violated rule constraint into its *Error (the transaction is then
// aborted, but the caller sees the refusal the rule stands for).
func storeErr(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, errRetry) {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.ConstraintName != "" && !retryable(err) {
		if code, ok := constraintCodes[pgErr.ConstraintName]; ok {
			return &Error{Code: code, Message: fmt.Sprintf("%s: refused by constraint %s", what, pgErr.ConstraintName)}
		}
	}
	return fmt.Errorf("ledger: %s: %w", what, err)
}

// querier is what reads need: a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}
