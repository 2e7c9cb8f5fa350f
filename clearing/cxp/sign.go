package cxp

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net/http"
	"time"
)

// Signature algorithms (the alg parameter of Signature-Input).
const (
	AlgHMACSHA256 = "hmac-sha256"
	AlgEd25519    = "ed25519"
)

// SignatureLabel is the label of CXP signatures in Signature-Input and Signature.
const SignatureLabel = "cxp"

// DefaultWindow is how far created may be from the verifier's clock, and how long nonces are kept.
const DefaultWindow = 300 * time.Second

// Signer signs outgoing requests (RFC 9421, with an RFC 9530 Content-Digest).
type Signer struct {
	KeyID      string
	Key        []byte             // the HMAC key (a community's key as printed: its UTF-8 bytes)
	Alg        string             // AlgHMACSHA256 (default) or AlgEd25519
	Ed25519Key ed25519.PrivateKey // for AlgEd25519
	Now        func() time.Time   // default time.Now
	Nonce      func() string      // default 16 random bytes, base64url
}

// Sign sets Content-Digest (when body is not empty), Signature-Input and Signature on req.
// body is the exact request body (nil for GET); Sign does not read or set req.Body.
func (s Signer) Sign(req *http.Request, body []byte) error {
	return errors.New("cxp: not implemented")
}

// KeyStore finds the HMAC keys that may have signed a request with keyID: the current
// key first, then older ones still in their rotation overlap. An unknown or blocked
// keyID is a *Error code 16.
type KeyStore interface {
	VerifyKeys(ctx context.Context, keyID string) ([][]byte, error)
}

// PublicKeyStore finds the Ed25519 public key of keyID (federation: a server's base URL).
// An unknown or blocked keyID is a *Error code 16.
type PublicKeyStore interface {
	PublicKey(ctx context.Context, keyID string) (ed25519.PublicKey, error)
}

// NonceStore remembers nonces: Remember reports fresh=false when (keyID, nonce) was
// already remembered and has not expired, and otherwise keeps it until until.
type NonceStore interface {
	Remember(ctx context.Context, keyID, nonce string, until time.Time) (fresh bool, err error)
}

// Verifier checks incoming signed requests.
type Verifier struct {
	Keys       KeyStore       // HMAC keys (alg hmac-sha256, or no alg)
	PublicKeys PublicKeyStore // Ed25519 keys (alg ed25519); optional
	Nonces     NonceStore     // required
	Now        func() time.Time
	Window     time.Duration // default DefaultWindow
	// BaseURL, when set (e.g. "https://circle.example.org"), gives the scheme and host of
	// @target-uri; otherwise they are "http://" + req.Host (or req.URL's when absolute).
	BaseURL string
}

// Verified says who signed a request.
type Verified struct {
	KeyID    string
	KeyIndex int // index in KeyStore.VerifyKeys of the key that matched: 0 is the current key
	Alg      string
}

// Verify checks req's signature over body (the exact body read; nil or empty for none).
// Refusals are *Error: malformed/missing signature data, stale created, missing or wrong
// Content-Digest, replayed nonce → 18; unknown or blocked keyid → 16; mismatch → 17.
func (v Verifier) Verify(ctx context.Context, req *http.Request, body []byte) (Verified, error) {
	return Verified{}, errors.New("cxp: not implemented")
}

// StaticKeys is a KeyStore held in memory: keyID → keys, current first. A community
// server verifying its circle's relays holds one entry. Unknown ids are code 16.
type StaticKeys map[string][][]byte

// VerifyKeys implements KeyStore.
func (s StaticKeys) VerifyKeys(ctx context.Context, keyID string) ([][]byte, error) {
	keys, ok := s[keyID]
	if !ok || len(keys) == 0 {
		return nil, NewError(CodeNotPermitted, nil)
	}
	return keys, nil
}

// StaticPublicKeys is a PublicKeyStore held in memory. Unknown ids are code 16.
type StaticPublicKeys map[string]ed25519.PublicKey

// PublicKey implements PublicKeyStore.
func (s StaticPublicKeys) PublicKey(ctx context.Context, keyID string) (ed25519.PublicKey, error) {
	k, ok := s[keyID]
	if !ok {
		return nil, NewError(CodeNotPermitted, nil)
	}
	return k, nil
}
