package pictures

import (
	"errors"
	"fmt"
	"time"
)

// Error codes, safe to show to a client; the HTTP layer maps each to a status.
const (
	CodeInvalid     = "invalid"     // not a readable picture, or too many pixels; Field names it
	CodeTooLarge    = "too_large"   // more bytes than MaxUpload
	CodeUnsupported = "unsupported" // not JPEG, PNG or GIF by its content
	CodeNotFound    = "not_found"   // no such picture, or no such announcement
	CodeForbidden   = "forbidden"   // only the author or an admin may change it
	CodeTooMany     = "too_many_uploads"
)

// Codes lists every code, for the HTTP layer's code → status table and its test.
func Codes() []string {
	return []string{CodeInvalid, CodeTooLarge, CodeUnsupported, CodeNotFound, CodeForbidden, CodeTooMany}
}

// Error is a refusal; nothing was stored when an operation returns one.
type Error struct {
	Code       string
	Field      string
	Message    string
	RetryAfter time.Duration // CodeTooMany
}

func (e *Error) Error() string { return "pictures: " + e.Code + ": " + e.Message }

func invalid(field, format string, a ...any) *Error {
	return &Error{Code: CodeInvalid, Field: field, Message: fmt.Sprintf(format, a...)}
}

// CodeOf returns the code of a pictures refusal in err's chain, or "".
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
