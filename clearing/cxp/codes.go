package cxp

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Code is a CXP answer code, as the seed numbers them. OK (0) is success.
type Code int

const (
	OK                   Code = 0
	CodeLimits           Code = 4  // transaction would exceed limits on the clearing house
	CodeSaving           Code = 5  // problem saving: @message
	CodeUnknownAccount   Code = 6  // unknown account
	CodeDiagnostics      Code = 7  // diagnostics: @message
	CodeInvalidField     Code = 8  // invalid field: @field: @value
	CodeMissingField     Code = 11 // missing field: @fieldname
	CodeSign             Code = 12 // field @fieldname should be @rel 0: @val
	CodeInvalidChars     Code = 13 // field @fieldname contains invalid characters
	CodeRatio            Code = 14 // intertrading ratio exceeds @num%: @balance / @volume
	CodeType             Code = 15 // type error in @fieldname, should be a @type
	CodeNotPermitted     Code = 16 // unknown or blocked community (or key id)
	CodeWrongKey         Code = 17 // signature does not match
	CodeAuthData         Code = 18 // not enough data to authenticate
	CodeRemoteAuth       Code = 20 // the payee's server refused the clearing house's signature
	CodeRemoteLimits     Code = 24 // the payee's server refused for its limits
	CodeRemoteValidation Code = 25 // the payee's server refused: @message
	CodeServerNotFound   Code = 26 // the payee's server could not be reached: @server
	CodeOther            Code = 27 // @message
)

// templates are the seed's messages; every @word is replaced by Args[word].
// The seed's "$val" in code 12 is written "@val" here, like every other placeholder.
var templates = map[Code]string{
	OK:                   "OK",
	CodeLimits:           "Transaction would exceed limits on server.",
	CodeSaving:           `Problem saving transaction on server: "@message"`,
	CodeUnknownAccount:   "Unknown account & failed to create a new account on intertrading server.",
	CodeDiagnostics:      `Diagnostics from server: "@message"`,
	CodeInvalidField:     "Invalid transaction field: @field: @value",
	CodeMissingField:     "Missing config field: @fieldname",
	CodeSign:             "Field @fieldname should be @rel 0: @val",
	CodeInvalidChars:     "Field @fieldname contains invalid characters.",
	CodeRatio:            "Your Intertrading ratio (balance/volume) exceeds @num%: @balance / @volume",
	CodeType:             "Type error in field @fieldname. Should be a @type.",
	CodeNotPermitted:     "Your exchange is not permitted on this network.",
	CodeWrongKey:         "Wrong key.",
	CodeAuthData:         "Not enough data to authenticate.",
	CodeRemoteAuth:       "Server failed to authenticate with remote client.",
	CodeRemoteLimits:     "Transaction would exceed remote client's account limits.",
	CodeRemoteValidation: "Misc validation error on remote client: @message",
	CodeServerNotFound:   "Server not found: @server",
	CodeOther:            "@message",
}

// httpStatuses is the one table from CXP codes to HTTP statuses:
// 4xx when the caller can fix the request, 5xx when a server failed.
var httpStatuses = map[Code]int{
	OK:                   http.StatusOK,
	CodeLimits:           http.StatusConflict, // valid request, refused by the account's state
	CodeSaving:           http.StatusInternalServerError,
	CodeUnknownAccount:   http.StatusNotFound,
	CodeDiagnostics:      http.StatusInternalServerError,
	CodeInvalidField:     http.StatusBadRequest,
	CodeMissingField:     http.StatusBadRequest,
	CodeSign:             http.StatusBadRequest,
	CodeInvalidChars:     http.StatusBadRequest,
	CodeRatio:            http.StatusConflict,
	CodeType:             http.StatusBadRequest,
	CodeNotPermitted:     http.StatusForbidden,
	CodeWrongKey:         http.StatusUnauthorized,
	CodeAuthData:         http.StatusUnauthorized,
	CodeRemoteAuth:       http.StatusBadGateway,
	CodeRemoteLimits:     http.StatusConflict,
	CodeRemoteValidation: http.StatusUnprocessableEntity,
	CodeServerNotFound:   http.StatusBadGateway,
	CodeOther:            http.StatusInternalServerError,
}

// Error is a CXP refusal: a code, the arguments for its message's @-placeholders,
// and the rendered message. It is safe to show to the caller.
type Error struct {
	Code    Code
	Args    map[string]string
	Message string
}

// NewError renders the seed's message for code with args.
// args may be nil; NewError never keeps a nil map.
func NewError(code Code, args map[string]string) *Error {
	if args == nil {
		args = map[string]string{}
	}
	return &Error{Code: code, Args: args, Message: Render(code, args)}
}

// Errorf is NewError(code, {"message": fmt.Sprintf(format, a...)}), for the codes
// whose message is free text (5, 7, 25, 27).
func Errorf(code Code, format string, a ...any) *Error {
	return NewError(code, map[string]string{"message": fmt.Sprintf(format, a...)})
}

func (e *Error) Error() string {
	return fmt.Sprintf("cxp %d: %s", e.Code, e.Message)
}

// HTTPStatus is the HTTP status that answers e (see httpStatuses).
func (e *Error) HTTPStatus() int {
	return StatusFor(e.Code)
}

// StatusFor is the HTTP status for code; unknown codes are 500.
func StatusFor(code Code) int {
	if s, ok := httpStatuses[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Status is e as the answer envelope.
func (e *Error) Status() Status {
	args := e.Args
	if args == nil {
		args = map[string]string{}
	}
	return Status{Code: e.Code, Args: args, Message: e.Message}
}

// AsError finds a *Error in err's chain.
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// CodeOf is the CXP code in err's chain, OK for nil and CodeOther for any other error.
func CodeOf(err error) Code {
	if err == nil {
		return OK
	}
	if e, ok := AsError(err); ok {
		return e.Code
	}
	return CodeOther
}

// Status is the envelope every CXP answer carries, embedded (inline) in each response:
// {"code": N, "args": {...}, "message": "..."}. Build it with StatusOK or (*Error).Status
// so that args is {} rather than null.
type Status struct {
	Code    Code              `json:"code"`
	Args    map[string]string `json:"args"`
	Message string            `json:"message"`
}

// StatusOK is a success envelope with the given message (or "OK").
func StatusOK(message string) Status {
	if message == "" {
		message = templates[OK]
	}
	return Status{Code: OK, Args: map[string]string{}, Message: message}
}

// Err is the refusal the envelope carries, or nil when its code is OK.
// The message is kept as received.
func (s Status) Err() *Error {
	if s.Code == OK {
		return nil
	}
	args := s.Args
	if args == nil {
		args = map[string]string{}
	}
	msg := s.Message
	if msg == "" {
		msg = Render(s.Code, args)
	}
	return &Error{Code: s.Code, Args: args, Message: msg}
}

// Render fills the seed's template for code: each @word (letters, digits, _) that is a
// key of args is replaced by its value; unknown placeholders stay as they are.
func Render(code Code, args map[string]string) string {
	t, ok := templates[code]
	if !ok {
		t = "@message"
	}
	var b strings.Builder
	for i := 0; i < len(t); {
		if t[i] != '@' {
			b.WriteByte(t[i])
			i++
			continue
		}
		j := i + 1
		for j < len(t) && isWordByte(t[j]) {
			j++
		}
		if v, ok := args[t[i+1:j]]; ok && j > i+1 {
			b.WriteString(v)
		} else {
			b.WriteString(t[i:j])
		}
		i = j
	}
	return b.String()
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Small constructors for the codes validation uses most.

// InvalidField is code 8: Invalid transaction field: @field: @value.
func InvalidField(field, value string) *Error {
	return NewError(CodeInvalidField, map[string]string{"field": field, "value": value})
}

// MissingField is code 11: Missing config field: @fieldname.
func MissingField(field string) *Error {
	return NewError(CodeMissingField, map[string]string{"fieldname": field})
}

// SignError is code 12: Field @fieldname should be @rel 0: @val (rel is ">", ">=", "<", …).
func SignError(field, rel, val string) *Error {
	return NewError(CodeSign, map[string]string{"fieldname": field, "rel": rel, "val": val})
}

// InvalidChars is code 13: Field @fieldname contains invalid characters.
func InvalidChars(field string) *Error {
	return NewError(CodeInvalidChars, map[string]string{"fieldname": field})
}

// TypeError is code 15: Type error in field @fieldname. Should be a @type.
func TypeError(field, typ string) *Error {
	return NewError(CodeType, map[string]string{"fieldname": field, "type": typ})
}
