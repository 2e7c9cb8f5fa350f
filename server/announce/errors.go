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

// invalid refuses field with a sentence that names it in words: format is
// the rest of the sentence ("must not be empty" gives "Title must not be
// empty"), so the message reads on its own above a form.
func invalid(field, format string, a ...any) *Error {
	label := fieldLabels[field]
	if label == "" {
		label = field
	}
	return &Error{Code: CodeInvalid, Field: field, Message: label + " " + fmt.Sprintf(format, a...)}
}

// refusal refuses field with a whole sentence of its own.
func refusal(field, format string, a ...any) *Error {
	return &Error{Code: CodeInvalid, Field: field, Message: fmt.Sprintf(format, a...)}
}

// fieldLabels names the fields in the words of the forms.
var fieldLabels = map[string]string{
	"kind": "The kind", "title": "Title", "description": "Description", "category": "Category",
	"price": "Price", "place": "Place", "lat": "Latitude", "lon": "Longitude", "expires_at": "The expiry date",
	"status": "The status", "slug": "The category's short name", "name": "Name",
	"min_price": "The lowest price", "max_price": "The highest price", "radius_km": "The distance",
	"limit": "The page size", "offset": "The offset", "q": "The search text",
}

// AsError returns err as an *Error, if it is one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
