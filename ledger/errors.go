package ledger

import (
	"errors"
	"fmt"
)

// Code is a stable, safe-to-show reason a ledger operation was refused.
type Code string

const (
	CodeUnknownAccount       Code = "unknown_account"
	CodeCurrencyMismatch     Code = "currency_mismatch"
	CodeNonPositiveAmount    Code = "non_positive_amount"
	CodeSameAccount          Code = "same_account"
	CodeAccountFrozen        Code = "account_frozen"
	CodeOverLowerLimit       Code = "over_lower_limit"
	CodeOverUpperLimit       Code = "over_upper_limit"
	CodeIdempotencyConflict  Code = "idempotency_conflict"
	CodePendingNotFound      Code = "pending_not_found"
	CodePendingResolved      Code = "pending_resolved"
	CodeGroupFailed          Code = "group_failed"
	CodeDuplicateAccount     Code = "duplicate_account"
	CodeLimitsExcludeBalance Code = "limits_exclude_balance"
	CodeInvalid              Code = "invalid"
)

// Codes lists every Code, for the HTTP layers' code → status tables and their tests.
func Codes() []Code {
	return []Code{CodeUnknownAccount, CodeCurrencyMismatch, CodeNonPositiveAmount, CodeSameAccount,
		CodeAccountFrozen, CodeOverLowerLimit, CodeOverUpperLimit, CodeIdempotencyConflict,
		CodePendingNotFound, CodePendingResolved, CodeGroupFailed, CodeDuplicateAccount,
		CodeLimitsExcludeBalance, CodeInvalid}
}

// Error is a refusal. Nothing was written when an operation returns one.
type Error struct {
	Code    Code
	Message string
	Account AccountID // the account concerned, when there is one
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "ledger: " + string(e.Code)
	}
	return fmt.Sprintf("ledger: %s: %s", e.Code, e.Message)
}

// CodeOf returns the Code of a ledger refusal in err's chain, or "".
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) && e != nil {
		return e.Code
	}
	return ""
}

func refuse(code Code, account AccountID, format string, a ...any) *Error {
	return &Error{Code: code, Account: account, Message: fmt.Sprintf(format, a...)}
}
