package cxp

// Joining a circle (an SXP extension beside CXP 1.0): a community server asks
// the clearing house to join without anyone copying its key by hand.
//
//	POST {circle}/join/v1/requests            a JoinRequest, signed by the community
//	GET  {circle}/join/v1/requests/{request}  its JoinStatus, signed by the same key
//
// Both requests are signed with RFC 9421 (label JoinLabel, alg ed25519, keyid
// the community's federation keyid "<base_url>#…") by the Ed25519 key the
// request carries in public_key; the clearing house verifies the submission
// against that key and every later poll against the key it stored. The
// request also carries a fresh X25519 public key (box_key). When a circle
// admin approves, the clearing house issues the community's CXP key (the HMAC
// key of the seed's request signing, exactly what `sxp admin community add`
// prints) and seals JoinCredentials to box_key with a NaCl sealed box
// (golang.org/x/crypto/nacl/box.SealAnonymous); only the holder of the
// X25519 private key can open them.

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"golang.org/x/crypto/nacl/box"
)

// JoinLabel is the RFC 9421 signature label of join requests and polls.
const JoinLabel = "sxp"

// JoinRequest is what a community sends to ask to join.
type JoinRequest struct {
	ID        string `json:"id"`        // the community id it asks for (its CXP keyid)
	Name      string `json:"name"`      // its display name
	Currency  string `json:"currency"`  // its currency code, e.g. OAK
	Divisions int    `json:"divisions"` // its currency's decimal places
	BaseURL   string `json:"base_url"`  // its base URL, also its CXP uri
	Rate      string `json:"rate"`      // the rate it declares: base units per unit of its currency
	Mail      string `json:"mail,omitempty"`
	Message   string `json:"message,omitempty"` // a word to the circle's admins
	KeyID     string `json:"keyid"`             // the keyid it signs with: "<base_url>#…"
	PublicKey string `json:"public_key"`        // base64 of its 32-byte Ed25519 public key
	BoxKey    string `json:"box_key"`           // base64 of a fresh 32-byte X25519 public key
}

// Join request states.
const (
	JoinPending  = "pending"
	JoinApproved = "approved"
	JoinRefused  = "refused"
)

// JoinStatus is the clearing house's answer to a join request or a poll.
type JoinStatus struct {
	Request int64  `json:"request"` // the request's number, for polling
	State   string `json:"state"`   // pending | approved | refused
	Reason  string `json:"reason,omitempty"`
	// Credentials, once approved: base64 of JoinCredentials (JSON) in a NaCl
	// sealed box to the request's box_key.
	Credentials string `json:"credentials,omitempty"`
}

// JoinCredentials are what a community needs to intertrade: the settings
// SXP_CIRCLE_URL, SXP_CIRCLE_ID, SXP_CIRCLE_KEY and SXP_RATE of a community
// added by hand, and the limits the circle gave it.
type JoinCredentials struct {
	CircleID    string `json:"circle_id"`
	CircleURL   string `json:"circle_url"`
	CommunityID string `json:"community_id"`
	Key         string `json:"key"`   // the HMAC key: its UTF-8 bytes sign CXP requests
	Ticks       string `json:"ticks"` // the rate the circle put in force
	Unit        string `json:"unit"`  // the circle's base unit
	Min         string `json:"min"`   // the community's limits in base units
	Max         string `json:"max"`
}

// NewBoxKey makes a fresh X25519 key pair for a join request.
func NewBoxKey() (public, private *[32]byte, err error) {
	return box.GenerateKey(rand.Reader)
}

// SealCredentials seals c to the X25519 public key boxKey (a sealed box:
// anonymous sender, only boxKey's owner can open it).
func SealCredentials(c JoinCredentials, boxKey *[32]byte) ([]byte, error) {
	plain, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("cxp: seal credentials: %w", err)
	}
	sealed, err := box.SealAnonymous(nil, plain, boxKey, rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("cxp: seal credentials: %w", err)
	}
	return sealed, nil
}

// OpenCredentials opens credentials sealed to the key pair (public, private).
func OpenCredentials(sealed []byte, public, private *[32]byte) (JoinCredentials, error) {
	plain, ok := box.OpenAnonymous(nil, sealed, public, private)
	if !ok {
		return JoinCredentials{}, errors.New("cxp: the credentials do not open with this request's key")
	}
	var c JoinCredentials
	if err := json.Unmarshal(plain, &c); err != nil {
		return JoinCredentials{}, fmt.Errorf("cxp: credentials: %w", err)
	}
	if c.CircleID == "" || c.CommunityID == "" || c.Key == "" || c.Ticks == "" {
		return JoinCredentials{}, errors.New("cxp: the credentials lack the circle id, community id, key or rate")
	}
	return c, nil
}

// Key32 decodes base64 (standard, padded) of exactly 32 bytes: an Ed25519
// public key or an X25519 key of a join request.
func Key32(s string) (*[32]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != 32 {
		return nil, errors.New("must be base64 of 32 bytes")
	}
	var k [32]byte
	copy(k[:], b)
	return &k, nil
}
