// Package payments moves a community's currency between its members:
// direct payments, payment requests (bills), accounts, limits and
// statements, on the ledger.
package payments

import (
	"errors"
	"fmt"

	"github.com/sxp-network/sxp/ledger"
)

// Code is a stable, safe-to-show reason a payments operation was refused.
type Code string

const (
	CodeInvalid             Code = "invalid"              // bad input; Field names it
	CodeUnknownPayee        Code = "unknown_payee"        // no such member
	CodePayeeInactive       Code = "payee_inactive"       // payee pending or blocked
	CodeOverLimit           Code = "over_limit"           // payer's balance would go below their lower limit
	CodePayeeOverLimit      Code = "payee_over_limit"     // payee's balance would go above their upper limit
	CodeFrozen              Code = "account_frozen"       // payer's account is frozen
	CodePayeeFrozen         Code = "payee_frozen"         // payee's account is frozen
	CodeIdempotencyConflict Code = "idempotency_conflict" // key reused with other content
	CodeNotFound            Code = "not_found"            // no such request (or not yours)
	CodeNotOpen             Code = "not_open"             // request already paid/rejected/cancelled
	CodeLimitsExclude       Code = "limits_exclude_balance"
)

// Codes lists every Code, for the HTTP layer's code → status table and its test.
func Codes() []Code {
	return []Code{CodeInvalid, CodeUnknownPayee, CodePayeeInactive, CodeOverLimit, CodePayeeOverLimit,
		CodeFrozen, CodePayeeFrozen, CodeIdempotencyConflict, CodeNotFound, CodeNotOpen, CodeLimitsExclude}
}

// Error is a refusal; nothing was written when an operation returns one.
type Error struct {
	Code    Code
	Message string
	Field   string
}

func (e *Error) Error() string { return "payments: " + string(e.Code) + ": " + e.Message }

// CodeOf returns the Code of a payments refusal in err's chain, or "".
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func refuse(code Code, format string, a ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, a...)}
}

func invalid(field, format string, a ...any) *Error {
	return &Error{Code: CodeInvalid, Field: field, Message: fmt.Sprintf(format, a...)}
}

// explain turns a ledger refusal of a transfer from payer to payee into a
// plain-words payments error; other errors are wrapped unchanged.
func (s *Service) explain(err error, payer, payee ledger.AccountID, payeeName string) error {
	var le *ledger.Error
	if !errors.As(err, &le) {
		return fmt.Errorf("payments: %w", err)
	}
	switch le.Code {
	case ledger.CodeOverLowerLimit:
		return refuse(CodeOverLimit, "this payment would take your balance below your limit")
	case ledger.CodeOverUpperLimit:
		if le.Account == payer {
			return refuse(CodeOverLimit, "this payment would take your balance above your limit")
		}
		return refuse(CodePayeeOverLimit, "%s cannot receive that much: it would take their balance above their limit", payeeName)
	case ledger.CodeAccountFrozen:
		if le.Account == payee {
			return refuse(CodePayeeFrozen, "%s's account is frozen", payeeName)
		}
		return refuse(CodeFrozen, "your account is frozen; ask the community's admins")
	case ledger.CodeIdempotencyConflict:
		return &Error{Code: CodeIdempotencyConflict, Field: "idempotency_key",
			Message: "this idempotency_key was already used for a different payment"}
	case ledger.CodeNonPositiveAmount:
		return invalid("amount", "amount must be greater than zero")
	case ledger.CodeSameAccount:
		return invalid("to", "you cannot pay yourself")
	case ledger.CodeLimitsExcludeBalance:
		return refuse(CodeLimitsExclude, "the limits must include the current balance")
	}
	return fmt.Errorf("payments: %w", err)
}
