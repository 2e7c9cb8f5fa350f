// Package ledger is a double-entry mutual-credit ledger on PostgreSQL,
// shared by the clearing house and the community servers.
//
// Accounts hold one currency and a lower and upper balance limit. A transfer
// moves a positive integer amount of minor units from a debit account (its
// balance goes down) to a credit account (its balance goes up), so every
// currency's balances sum to zero at every commit. Transfers are
// append-only. A pending transfer (hold) reserves the amount against the
// payer's lower limit and the payee's upper limit until it is posted,
// voided, or expires.
//
// Limits hold under any concurrency: writes lock the account rows in
// ascending id order, and CHECK constraints make it impossible to commit a
// balance (including holds) outside its limits.
//
// # The ledger/ tree is the base layer
//
// Dependencies point one way (design.md): cmd → server, clearing → ledger;
// server → clearing/cxp/... (the wire protocols) and nothing else of
// clearing. Package ledger and its subpackages import no package of server/
// or clearing/, so every package of the module may import them
// (`go list -deps ./ledger/...` lists neither). Besides the ledger and its
// metrics (ledger/ledgermetrics), the tree holds the building blocks both
// servers need that know no domain of either, each named for what it is:
// ledger/money (amounts and rates), ledger/jobs (the background-job
// runner), ledger/serve (an HTTP server and its background work, stopped
// in order), ledger/httpmetrics (HTTP request metrics, /metrics guard) and
// ledger/chart (SVG charts of the admin pages). Package ledger imports none
// of them.
package ledger

import (
	"time"
)

// AccountID identifies an account.
type AccountID int64

// AccountStatus is active or frozen; a frozen account can neither pay nor be paid.
type AccountStatus string

const (
	StatusActive AccountStatus = "active"
	StatusFrozen AccountStatus = "frozen"
)

// Account is an account and its balance.
type Account struct {
	ID       AccountID
	Code     string // unique human reference, e.g. "member:alice" or "community:leaf"
	Currency string
	Min      int64 // lower balance limit (usually <= 0)
	Max      int64 // upper balance limit (usually >= 0)
	Status   AccountStatus
	Metadata map[string]string
	// Balance counts posted transfers only.
	Balance int64
	// PendingDebits and PendingCredits are held by pending transfers.
	PendingDebits  int64
	PendingCredits int64
	CreatedAt      time.Time
}

// SpendHeadroom is how much more the account can pay now: its balance minus
// its held debits, down to its lower limit.
func (a Account) SpendHeadroom() int64 { return a.Balance - a.PendingDebits - a.Min }

// EarnHeadroom is how much more the account can receive now.
func (a Account) EarnHeadroom() int64 { return a.Max - a.Balance - a.PendingCredits }

// NewAccount describes an account to create. Min must be <= 0 <= Max.
type NewAccount struct {
	Code     string
	Currency string
	Min, Max int64
	Metadata map[string]string
}

// TransferRequest asks to move Amount minor units from Debit to Credit.
// With an IdempotencyKey, a repeat with the same content returns the first
// result without writing, and a repeat with different content is refused
// with CodeIdempotencyConflict. Keys are unique across transfers and holds.
type TransferRequest struct {
	Debit          AccountID
	Credit         AccountID
	Amount         int64
	Description    string
	Metadata       map[string]string
	IdempotencyKey string
}

// Transfer is a committed journal entry.
type Transfer struct {
	ID             int64
	Debit          AccountID
	Credit         AccountID
	Amount         int64
	Currency       string
	Description    string
	Metadata       map[string]string
	IdempotencyKey string
	PendingID      int64 // the hold it posted, or 0
	// DebitBalance and CreditBalance are the two accounts' balances just
	// after this transfer (the running balance of a statement).
	DebitBalance  int64
	CreditBalance int64
	CreatedAt     time.Time
}

// HoldRequest asks for a pending transfer that expires at ExpiresAt unless
// posted or voided before.
type HoldRequest struct {
	TransferRequest
	ExpiresAt time.Time
}

// PendingStatus is the state of a pending transfer.
type PendingStatus string

const (
	PendingOpen    PendingStatus = "pending"
	PendingPosted  PendingStatus = "posted"
	PendingVoided  PendingStatus = "voided"
	PendingExpired PendingStatus = "expired"
)

// Pending is a pending (two-phase) transfer.
type Pending struct {
	ID             int64
	Debit          AccountID
	Credit         AccountID
	Amount         int64
	Currency       string
	Description    string
	Metadata       map[string]string
	IdempotencyKey string
	Status         PendingStatus
	ExpiresAt      time.Time
	CreatedAt      time.Time
	ResolvedAt     time.Time // zero while pending
	TransferID     int64     // the posted transfer, or 0
}

// BatchItem is one transfer of a batch. Items sharing a non-empty Group are
// all-or-nothing: if one is refused, every other item of the group is
// refused with CodeGroupFailed and none of them is written.
type BatchItem struct {
	TransferRequest
	Group string
}

// BatchResult is the outcome of one batch item: the transfer, or the
// reason it was refused (an *Error).
type BatchResult struct {
	Transfer Transfer
	Err      error
}

// StatementQuery selects a page of an account's statement. From and To
// bound the time (zero means unbounded; To is exclusive); After continues
// from a previous page's Next cursor; Limit defaults to 100, at most 1000.
type StatementQuery struct {
	From, To time.Time
	After    int64
	Limit    int
}

// StatementLine is one transfer as seen from one account.
type StatementLine struct {
	TransferID   int64
	Time         time.Time
	Counterparty AccountID
	Amount       int64 // signed: negative when the account paid
	Balance      int64 // running balance after this line
	Description  string
	Metadata     map[string]string
}

// Statement is one page of an account's statement, oldest first.
type Statement struct {
	Account Account
	// Opening is the balance before the first line of this page.
	Opening int64
	Lines   []StatementLine
	// Next is the cursor for the following page (StatementQuery.After), or 0 at the end.
	Next int64
}

// IntegrityReport is the result of CheckIntegrity. OK is true when every
// currency sums to zero, every balance equals the sum of its journal, every
// held amount equals the sum of its open holds, and every balance (with
// holds) lies within its limits.
type IntegrityReport struct {
	OK           bool
	Accounts     int
	Transfers    int64
	CurrencySums map[string]int64 // each must be 0
	Problems     []string         // one readable line per violation
}
