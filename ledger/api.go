package ledger

// PLACEHOLDER BODIES: the ledger helper replaces this file with the real
// implementation; the signatures below are the contract other packages use.

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

var errUnimplemented = errors.New("ledger: not implemented yet")

// Options configures a Ledger.
type Options struct {
	// Now gives the time of writes and of expiry checks; time.Now by default.
	Now func() time.Time
}

// Ledger is the ledger on one database.
type Ledger struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

// New returns a ledger on pool.
func New(pool *pgxpool.Pool, opts Options) *Ledger {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Ledger{pool: pool, now: now}
}

// Tx is a ledger transaction: the same write operations as Ledger, run in
// one database transaction together with the caller's own SQL on Conn().
type Tx struct {
	tx  pgx.Tx
	now func() time.Time
}

// Conn is the underlying database transaction, for the caller's own
// statements that must commit or roll back with the ledger's.
func (t *Tx) Conn() pgx.Tx { return t.tx }

// InTx runs fn in one database transaction and commits if fn returns nil.
// It retries fn (a bounded number of times) on serialization failures and
// deadlocks, so fn must be safe to run again.
func (l *Ledger) InTx(ctx context.Context, fn func(tx *Tx) error) error { return errUnimplemented }

func (l *Ledger) CreateAccount(ctx context.Context, a NewAccount) (Account, error) {
	return Account{}, errUnimplemented
}
func (l *Ledger) Account(ctx context.Context, id AccountID) (Account, error) {
	return Account{}, errUnimplemented
}
func (l *Ledger) AccountByCode(ctx context.Context, code string) (Account, error) {
	return Account{}, errUnimplemented
}

// Accounts lists accounts of a currency ("" for all), by id.
func (l *Ledger) Accounts(ctx context.Context, currency string) ([]Account, error) {
	return nil, errUnimplemented
}
func (l *Ledger) SetLimits(ctx context.Context, id AccountID, min, max int64) (Account, error) {
	return Account{}, errUnimplemented
}
func (l *Ledger) SetStatus(ctx context.Context, id AccountID, s AccountStatus) (Account, error) {
	return Account{}, errUnimplemented
}
func (l *Ledger) Transfer(ctx context.Context, r TransferRequest) (Transfer, error) {
	return Transfer{}, errUnimplemented
}
func (l *Ledger) Batch(ctx context.Context, items []BatchItem) ([]BatchResult, error) {
	return nil, errUnimplemented
}
func (l *Ledger) Hold(ctx context.Context, r HoldRequest) (Pending, error) {
	return Pending{}, errUnimplemented
}
func (l *Ledger) Post(ctx context.Context, pendingID int64) (Transfer, error) {
	return Transfer{}, errUnimplemented
}
func (l *Ledger) Void(ctx context.Context, pendingID int64) (Pending, error) {
	return Pending{}, errUnimplemented
}
func (l *Ledger) Pending(ctx context.Context, pendingID int64) (Pending, error) {
	return Pending{}, errUnimplemented
}

// ExpireDue expires every pending transfer whose deadline has passed and
// returns how many it expired.
func (l *Ledger) ExpireDue(ctx context.Context) (int, error) { return 0, errUnimplemented }
func (l *Ledger) Statement(ctx context.Context, id AccountID, q StatementQuery) (Statement, error) {
	return Statement{}, errUnimplemented
}
func (l *Ledger) CheckIntegrity(ctx context.Context) (IntegrityReport, error) {
	return IntegrityReport{}, errUnimplemented
}

// The Tx forms of the writes and reads, for use inside InTx.
func (t *Tx) CreateAccount(ctx context.Context, a NewAccount) (Account, error) {
	return Account{}, errUnimplemented
}
func (t *Tx) Account(ctx context.Context, id AccountID) (Account, error) {
	return Account{}, errUnimplemented
}
func (t *Tx) AccountByCode(ctx context.Context, code string) (Account, error) {
	return Account{}, errUnimplemented
}
func (t *Tx) SetLimits(ctx context.Context, id AccountID, min, max int64) (Account, error) {
	return Account{}, errUnimplemented
}
func (t *Tx) SetStatus(ctx context.Context, id AccountID, s AccountStatus) (Account, error) {
	return Account{}, errUnimplemented
}
func (t *Tx) Transfer(ctx context.Context, r TransferRequest) (Transfer, error) {
	return Transfer{}, errUnimplemented
}
func (t *Tx) Hold(ctx context.Context, r HoldRequest) (Pending, error) {
	return Pending{}, errUnimplemented
}
func (t *Tx) Post(ctx context.Context, pendingID int64) (Transfer, error) {
	return Transfer{}, errUnimplemented
}
func (t *Tx) Void(ctx context.Context, pendingID int64) (Pending, error) {
	return Pending{}, errUnimplemented
}
func (t *Tx) Pending(ctx context.Context, pendingID int64) (Pending, error) {
	return Pending{}, errUnimplemented
}
