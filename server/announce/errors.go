package announce

import (
	"errors"
	"fmt"
)

// Error codes, safe to show to a client. The HTTP layer maps each to a status.
const (
	CodeInvalid   = "invalid"   // the input breaks a rule; Field names it
	CodeNotFound  = "not_found" // no such announcement or category
	CodeForbidden = "forbidden" // only the author or an admin may do this
	CodeConflict  = "conflict"  // the change clashes with existing data
)

// Codes lists every code, for the HTTP layer's code → status table and its test.
func Codes() []string {
	return []string{CodeInvalid, CodeNotFound, CodeForbidden, CodeConflict}
}

// Error is the one error type of this package. Message is written for the
// person who made the request; Field names the offending input, if any.
type Error struct {
	Code    string
	Field   string
	Message string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("announce: %s: %s: %s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("announce: %s: %s", e.Code, e.Message)
}

// Is makes errors.Is(err, ErrNotFound) match any Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Field == "" && t.Message == "" && t.Code == e.Code
}

// Sentinels for errors.Is; the errors returned carry a message and field.
var (
	ErrInvalid   = &Error{Code: CodeInvalid}
	ErrNotFound  = &Error{Code: CodeNotFound}
	ErrForbidden = &Error{Code: CodeForbidden}
	ErrConflict  = &Error{Code: CodeConflict}
)

func invalid(field, format string, a ...any) *Error {
	return &Error{Code: CodeInvalid, Field: field, Message: fmt.Sprintf(format, a...)}
}

// AsError returns err as an *Error, if it is one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
