package httpsig

import "errors"

// Kind says why a signature was refused. It is the only thing a caller needs to
// choose its answer (CXP codes 16/17/18, federation 401/403).
type Kind int

const (
	KindMalformed  Kind = iota + 1 // no, malformed or incomplete signature data or Content-Digest
	KindStale                      // created outside the window, or expired
	KindUnknownKey                 // the keyid is not known
	KindMismatch                   // the signature matches none of the keyid's keys
	KindReplayed                   // the nonce was already used within the window
)

var kindNames = map[Kind]string{
	KindMalformed:  "malformed",
	KindStale:      "stale",
	KindUnknownKey: "unknown key",
	KindMismatch:   "mismatch",
	KindReplayed:   "replayed",
}

func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return "unknown kind"
}

// Kinds lists every Kind, for callers that map them to their own answers.
func Kinds() []Kind {
	return []Kind{KindMalformed, KindStale, KindUnknownKey, KindMismatch, KindReplayed}
}

// Error is a refused signature: a Kind and a reason safe to show to the caller.
type Error struct {
	Kind   Kind
	Reason string
}

func (e *Error) Error() string {
	if e.Reason == "" {
		return "httpsig: " + e.Kind.String()
	}
	return "httpsig: " + e.Kind.String() + ": " + e.Reason
}

// Is makes errors.Is(err, ErrStale) (and the other sentinels) true for every
// refusal of that kind, whatever its reason.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == "" && t.Kind == e.Kind
}

// The sentinels of each Kind, for errors.Is.
var (
	ErrMalformed  = &Error{Kind: KindMalformed}
	ErrStale      = &Error{Kind: KindStale}
	ErrUnknownKey = &Error{Kind: KindUnknownKey}
	ErrMismatch   = &Error{Kind: KindMismatch}
	ErrReplayed   = &Error{Kind: KindReplayed}
)

func refusal(k Kind, reason string) *Error { return &Error{Kind: k, Reason: reason} }

func unknownKey(keyID string) *Error {
	return refusal(KindUnknownKey, "unknown keyid "+keyID)
}

// KindOf is the Kind of the refusal in err's chain, and false when err is not one
// (nil, or the server's own failure).
func KindOf(err error) (Kind, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind, true
	}
	return 0, false
}
