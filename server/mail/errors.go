package mail

import (
	"fmt"
	"time"
)

// Code is a stable, safe-to-show reason an e-mail operation was refused.
type Code string

const (
	CodeInvalid  Code = "invalid"   // bad input; Field names it
	CodeOff      Code = "mail_off"  // no SMTP settings: e-mail is off
	CodeBadToken Code = "bad_token" // a link that is unknown, used or expired
	CodeTooMany  Code = "too_many"  // rate limited; RetryAfter set
)

// Codes lists every Code, for the HTTP layer's table and its test.
func Codes() []Code { return []Code{CodeInvalid, CodeOff, CodeBadToken, CodeTooMany} }

// Error is a refusal of the mail service.
type Error struct {
	Code       Code
	Message    string
	Field      string
	RetryAfter time.Duration
}

func (e *Error) Error() string { return "mail: " + string(e.Code) + ": " + e.Message }

func refuse(code Code, format string, a ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, a...)}
}

func invalid(field, format string, a ...any) *Error {
	return &Error{Code: CodeInvalid, Field: field, Message: fmt.Sprintf(format, a...)}
}
