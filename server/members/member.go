// Package members holds a community's members: registration, passwords,
// sessions, roles, profiles, public keys, and the ledger account each
// member owns.
package members

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/sxp-network/sxp/ledger"
)

// Role is what a member may do.
type Role string

const (
	RoleMember Role = "member"
	RoleAdmin  Role = "admin"
)

// Status is where a member stands: pending members wait for an admin's
// approval; blocked members can neither log in, pay nor be paid.
type Status string

const (
	StatusPending Status = "pending"
	StatusActive  Status = "active"
	StatusBlocked Status = "blocked"
)

// Member is a member of the community.
type Member struct {
	ID          int64
	Username    string
	DisplayName string
	Bio         string
	Contact     string
	Role        Role
	Status      Status
	Account     ledger.AccountID
	PublicKey   []byte // Ed25519, 32 bytes, or nil
	CreatedAt   time.Time
	// Newcomer: the member has the newcomers' limits until an admin
	// approves them (Service.Approve).
	Newcomer bool
}

// Limits are an account's lower (<= 0) and upper (>= 0) balance limits, in
// minor units.
type Limits struct{ Min, Max int64 }

// IsAdmin reports whether the member is an admin.
func (m Member) IsAdmin() bool { return m.Role == RoleAdmin }

// Code is a stable, safe-to-show reason a members operation was refused.
type Code string

const (
	CodeInvalid         Code = "invalid"           // bad input; Field names it
	CodeUsernameTaken   Code = "username_taken"    // registration with a used name
	CodeBadCredentials  Code = "bad_credentials"   // unknown user or wrong password
	CodeNotApproved     Code = "not_approved"      // pending approval
	CodeBlocked         Code = "blocked"           // blocked by an admin
	CodeTooManyAttempts Code = "too_many_attempts" // brute-force slowdown; RetryAfter set
	CodeUnauthenticated Code = "unauthenticated"   // no, unknown or expired session
	CodeNotFound        Code = "not_found"         // no such member
	CodeBusy            Code = "busy"              // too many passwords being hashed; RetryAfter set
)

// Codes lists every Code, for the HTTP layer's code → status table and its test.
func Codes() []Code {
	return []Code{CodeInvalid, CodeUsernameTaken, CodeBadCredentials, CodeNotApproved, CodeBlocked,
		CodeTooManyAttempts, CodeUnauthenticated, CodeNotFound, CodeBusy}
}

// Error is a refusal; nothing was written when an operation returns one.
type Error struct {
	Code       Code
	Message    string
	Field      string        // the input field at fault, for CodeInvalid
	RetryAfter time.Duration // for CodeTooManyAttempts and CodeBusy
}

func (e *Error) Error() string { return "members: " + string(e.Code) + ": " + e.Message }

// CodeOf returns the Code of a members refusal in err's chain, or "".
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

var usernamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{1,31}$`)

// ValidUsername checks a username: 2-32 lowercase letters, digits, '-' or
// '_', starting with a letter or digit (no '@': "bob@leaf" names a member
// of another community).
func ValidUsername(u string) error {
	if !usernamePattern.MatchString(u) {
		return invalid("username", "username must be 2-32 lowercase letters, digits, '-' or '_', starting with a letter or digit")
	}
	return nil
}

// Password length bounds (bytes).
const (
	MinPasswordLen = 8
	MaxPasswordLen = 256
)

func validPassword(p string) error {
	if len(p) < MinPasswordLen {
		return invalid("password", "password must have at least %d characters", MinPasswordLen)
	}
	if len(p) > MaxPasswordLen {
		return invalid("password", "password must have at most %d characters", MaxPasswordLen)
	}
	return nil
}

// AccountCode is the ledger account code of a member's account.
func AccountCode(username string) string { return "member:" + username }
