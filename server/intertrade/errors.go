package intertrade

import (
	"errors"
	"fmt"

	"github.com/sxp-network/sxp/clearing/cxp"
)

// ErrorCode is a stable, safe-to-show reason an intertrading operation was refused.
type ErrorCode string

const (
	ErrInvalid  ErrorCode = "invalid"   // bad input; Field names it. Nothing was recorded.
	ErrNotFound ErrorCode = "not_found" // no such community in the circle, or no such intertrade
	ErrConflict ErrorCode = "conflict"  // the idempotency key was used for another payment
	// ErrRefused: the circle, the other community or our ledger refused the
	// payment; the Payment is recorded as failed, nothing moved. CXP is the
	// circle's code (0 when our ledger refused), Message the plain reason.
	ErrRefused ErrorCode = "refused"
	// ErrNotInCircle: the community runs alone (Alone), so there is no
	// intertrading to show or do; ErrNoCircle: a payment to member@community
	// while alone (Field "to").
	ErrNotInCircle ErrorCode = "not_in_circle"
	ErrNoCircle    ErrorCode = "no_circle"
	// ErrAlreadyAsked: a request to join a circle waits already, or was
	// approved (Joiner.Ask).
	ErrAlreadyAsked ErrorCode = "already_asked"
)

// Codes lists every ErrorCode, for the HTTP layer's code → status table and its test.
func Codes() []ErrorCode {
	return []ErrorCode{ErrInvalid, ErrNotFound, ErrConflict, ErrRefused, ErrNotInCircle, ErrNoCircle, ErrAlreadyAsked}
}

// Error is a refusal with a message that is safe to show to the member.
type Error struct {
	Code    ErrorCode
	Field   string
	Message string
	CXP     cxp.Code
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("intertrade: %s: %s: %s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("intertrade: %s: %s", e.Code, e.Message)
}

// CodeOf returns the ErrorCode of an intertrade refusal in err's chain, or "".
func CodeOf(err error) ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func invalid(field, format string, a ...any) *Error {
	return &Error{Code: ErrInvalid, Field: field, Message: fmt.Sprintf(format, a...)}
}
