// Package contract is the contract format sxp-contract/1 and the signed
// messages of the optimistic multi-party contract-signing protocol (design.md,
// "Deals and contracts"): parsing and validating a contract, its RFC 8785
// canonical form and hash, the promise, resolve and token messages, Ed25519
// signing and verification, the arbiter's decision rule as a pure function,
// and an offline verifier of a contract with its proofs.
//
// # Canonical form and hash
//
// A contract C is hashed as h = lowercase hex of SHA-256(JCS(C)), where JCS is
// RFC 8785 (github.com/gowebpki/jcs). The hash is taken over the canonical
// form of the JSON as it was received, not over a re-encoding of the Go
// struct: Parse refuses unknown and repeated keys, so the two agree.
//
// # Signatures
//
// Sig_X(o) is Ed25519 by X over the bytes of JCS(o). Signatures and public
// keys are written in standard base64 with padding (RFC 4648 section 4, the
// alphabet with '+' and '/'): a 32-byte public key is 44 characters, a 64-byte
// signature 88. Decoding is strict: other alphabets, missing padding and
// non-zero trailing bits are refused. The messages are
//
//	{"t":"promise","c":h,"r":r}      m[r,i], round r = 1 … n+1
//	{"t":"resolve","c":h,"l":l}      a resolve request at level l = 0 … n+1
//	{"t":"resolved","c":h}           T's token making the contract signed
//	{"t":"aborted","c":h}            T's abort token (not proof that C is void)
//
// and their canonical bytes are the keys in that order sorted: c, then r/l, then t.
package contract

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/gowebpki/jcs"

	"github.com/sxp-network/sxp/ledger/money"
)

// Type is the value of a contract's "type".
const Type = "sxp-contract/1"

// Limits on a contract.
const (
	MaxParties      = 64
	MaxLegs         = 256
	MaxText         = 1000 // bytes of a title, offer id, member, URL or nonce
	MaxRoundTimeout = 86400
	MaxSize         = 256 << 10 // bytes of a contract's JSON
)

// Contract is sxp-contract/1 as design.md writes it.
type Contract struct {
	Type          string  `json:"type"`
	ID            string  `json:"id"`
	Proposer      string  `json:"proposer"`
	CreatedAt     string  `json:"created_at"`
	Deadline      string  `json:"deadline"`
	RoundTimeoutS int64   `json:"round_timeout_s"`
	Nonce         string  `json:"nonce"`
	Parties       []Party `json:"parties"`
	Legs          []Leg   `json:"legs"`
	TTP           TTP     `json:"ttp"`
}

// Party is one signer: a member, their home server and their public key.
type Party struct {
	Member string `json:"member"`
	Server string `json:"server"`
	Key    string `json:"key"`
}

// Leg is one thing that changes hands: an offer from party From to party To,
// an item (Money nil) or an amount of money.
type Leg struct {
	From  int    `json:"from"`
	To    int    `json:"to"`
	Offer string `json:"offer"`
	Title string `json:"title"`
	Money *Money `json:"money"`
}

// Money is an amount in a currency, its value in the plain grammar of
// ledger/money ("20.00").
type Money struct {
	Value    string `json:"value"`
	Currency string `json:"currency"`
}

// TTP names the arbiter T: its base URL and public key.
type TTP struct {
	URL string `json:"url"`
	Key string `json:"key"`
}

// Parsed is a valid contract with its canonical form and hash.
type Parsed struct {
	Contract
	canonical []byte
	hash      string
	keys      []ed25519.PublicKey
	ttpKey    ed25519.PublicKey
}

// ErrInvalid is wrapped by every refusal of a contract or a message.
var ErrInvalid = errors.New("contract: invalid")

func invalidf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

var (
	uuidPattern     = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	memberPattern   = regexp.MustCompile(`^[^@\s]+@[^@\s]+$`)
	currencyPattern = regexp.MustCompile(`^[A-Z0-9]{2,12}$`)
	hashPattern     = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Parse reads and validates a contract from its JSON. Unknown or repeated
// keys, wrong JSON types, and anything Validate refuses are errors wrapping
// ErrInvalid.
func Parse(data []byte) (*Parsed, error) {
	if len(data) > MaxSize {
		return nil, invalidf("contract larger than %d bytes", MaxSize)
	}
	canonical, err := Canonical(data)
	if err != nil {
		return nil, invalidf("%v", err)
	}
	var c Contract
	dec := json.NewDecoder(bytes.NewReader(canonical))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, invalidf("%v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalidf("trailing data")
	}
	if err := requireKeys(canonical); err != nil {
		return nil, err
	}
	p := &Parsed{Contract: c, canonical: canonical}
	if err := p.validate(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(canonical)
	p.hash = hex.EncodeToString(sum[:])
	return p, nil
}

// requireKeys checks that every field of the format is present (a missing
// key would decode as a zero value and hash differently from a written one).
func requireKeys(canonical []byte) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(canonical, &top); err != nil {
		return invalidf("not a JSON object")
	}
	for _, k := range []string{"type", "id", "proposer", "created_at", "deadline", "round_timeout_s", "nonce", "parties", "legs", "ttp"} {
		if _, ok := top[k]; !ok {
			return invalidf("missing %q", k)
		}
	}
	var parts struct {
		Parties []map[string]json.RawMessage `json:"parties"`
		Legs    []map[string]json.RawMessage `json:"legs"`
		TTP     map[string]json.RawMessage   `json:"ttp"`
	}
	if err := json.Unmarshal(canonical, &parts); err != nil {
		return invalidf("%v", err)
	}
	need := func(what string, m map[string]json.RawMessage, keys ...string) error {
		for _, k := range keys {
			if _, ok := m[k]; !ok {
				return invalidf("%s: missing %q", what, k)
			}
		}
		return nil
	}
	for i, p := range parts.Parties {
		if err := need(fmt.Sprintf("parties[%d]", i), p, "member", "server", "key"); err != nil {
			return err
		}
	}
	for i, l := range parts.Legs {
		if err := need(fmt.Sprintf("legs[%d]", i), l, "from", "to", "offer", "title", "money"); err != nil {
			return err
		}
		if m := l["money"]; string(m) != "null" {
			var mm map[string]json.RawMessage
			if err := json.Unmarshal(m, &mm); err != nil {
				return invalidf("legs[%d].money: not an object or null", i)
			}
			if err := need(fmt.Sprintf("legs[%d].money", i), mm, "value", "currency"); err != nil {
				return err
			}
		}
	}
	return need("ttp", parts.TTP, "url", "key")
}

func (p *Parsed) validate() error {
	c := &p.Contract
	if c.Type != Type {
		return invalidf("type must be %q", Type)
	}
	if !uuidPattern.MatchString(c.ID) {
		return invalidf("id must be a uuid")
	}
	if err := checkURL("proposer", c.Proposer); err != nil {
		return err
	}
	created, err := time.Parse(time.RFC3339Nano, c.CreatedAt)
	if err != nil {
		return invalidf("created_at must be an RFC 3339 time")
	}
	deadline, err := time.Parse(time.RFC3339Nano, c.Deadline)
	if err != nil {
		return invalidf("deadline must be an RFC 3339 time")
	}
	if !deadline.After(created) {
		return invalidf("deadline must be after created_at")
	}
	if c.RoundTimeoutS < 1 || c.RoundTimeoutS > MaxRoundTimeout {
		return invalidf("round_timeout_s must be 1 … %d", MaxRoundTimeout)
	}
	if c.Nonce == "" || len(c.Nonce) > MaxText {
		return invalidf("nonce must be 1 … %d bytes", MaxText)
	}
	n := len(c.Parties)
	if n < 2 || n > MaxParties {
		return invalidf("a contract has 2 … %d parties, not %d", MaxParties, n)
	}
	members := map[string]bool{}
	keys := map[string]bool{}
	p.keys = make([]ed25519.PublicKey, n)
	for i, party := range c.Parties {
		if !memberPattern.MatchString(party.Member) || len(party.Member) > MaxText {
			return invalidf("parties[%d].member must be user@community", i)
		}
		if members[party.Member] {
			return invalidf("parties[%d].member %s appears twice", i, party.Member)
		}
		members[party.Member] = true
		if err := checkURL(fmt.Sprintf("parties[%d].server", i), party.Server); err != nil {
			return err
		}
		k, err := DecodeKey(party.Key)
		if err != nil {
			return invalidf("parties[%d].key: %v", i, err)
		}
		if keys[party.Key] {
			return invalidf("parties[%d].key is another party's key", i)
		}
		keys[party.Key] = true
		p.keys[i] = k
	}
	if len(c.Legs) == 0 || len(c.Legs) > MaxLegs {
		return invalidf("a contract has 1 … %d legs", MaxLegs)
	}
	for i, l := range c.Legs {
		if l.From < 0 || l.From >= n || l.To < 0 || l.To >= n {
			return invalidf("legs[%d]: from and to must name parties 0 … %d", i, n-1)
		}
		if l.From == l.To {
			return invalidf("legs[%d]: from and to are the same party", i)
		}
		if l.Offer == "" || len(l.Offer) > MaxText {
			return invalidf("legs[%d].offer must be 1 … %d bytes", i, MaxText)
		}
		if len(l.Title) > MaxText {
			return invalidf("legs[%d].title is longer than %d bytes", i, MaxText)
		}
		if l.Money != nil {
			if err := checkMoney(l.Money); err != nil {
				return invalidf("legs[%d].money: %v", i, err)
			}
		}
	}
	if err := checkURL("ttp.url", c.TTP.URL); err != nil {
		return err
	}
	if p.ttpKey, err = DecodeKey(c.TTP.Key); err != nil {
		return invalidf("ttp.key: %v", err)
	}
	return nil
}

func checkURL(field, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(s) > MaxText {
		return invalidf("%s must be an http(s) URL", field)
	}
	return nil
}

// checkMoney reads the value in ledger/money's plain grammar: a positive
// amount, written with as many places as it needs (the currency's divisions
// are its home server's to check).
func checkMoney(m *Money) error {
	if !currencyPattern.MatchString(m.Currency) {
		return errors.New("currency must be 2 … 12 of A-Z 0-9")
	}
	places, err := money.WrittenPlaces(m.Value)
	if err != nil {
		return fmt.Errorf("value %q: %w", m.Value, err)
	}
	if places > money.MaxDivisions {
		return fmt.Errorf("value %q: %w", m.Value, money.ErrPlaces)
	}
	minor, err := money.Parse(m.Value, places)
	if err != nil {
		return fmt.Errorf("value %q: %w", m.Value, err)
	}
	if minor <= 0 {
		return fmt.Errorf("value %q: must be greater than zero", m.Value)
	}
	return nil
}

// Hash is h: the lowercase hex SHA-256 of the contract's canonical form.
func (p *Parsed) Hash() string { return p.hash }

// Canonical is the contract's RFC 8785 form, the bytes that are hashed.
func (p *Parsed) Canonical() []byte { return bytes.Clone(p.canonical) }

// N is the number of parties.
func (p *Parsed) N() int { return len(p.Parties) }

// Key is party i's public key.
func (p *Parsed) Key(i int) ed25519.PublicKey { return p.keys[i] }

// TTPKey is the arbiter's public key named by the contract.
func (p *Parsed) TTPKey() ed25519.PublicKey { return p.ttpKey }

// MarshalJSON writes the canonical form.
func (p *Parsed) MarshalJSON() ([]byte, error) { return p.Canonical(), nil }

// Canonical is the RFC 8785 form of a JSON text.
func Canonical(data []byte) ([]byte, error) {
	out, err := jcs.Transform(data)
	if err != nil {
		return nil, fmt.Errorf("contract: canonical form: %w", err)
	}
	return out, nil
}

// HashOf is h of a contract's JSON, without validating it.
func HashOf(data []byte) (string, error) {
	c, err := Canonical(data)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(c)
	return hex.EncodeToString(sum[:]), nil
}

// ValidHash reports whether s is a lowercase hex SHA-256.
func ValidHash(s string) bool { return hashPattern.MatchString(s) }

// DecodeKey reads a 32-byte Ed25519 public key in standard base64 with padding.
func DecodeKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("not a 32-byte Ed25519 key in standard base64 with padding")
	}
	return ed25519.PublicKey(b), nil
}

// EncodeKey writes a public key in standard base64 with padding.
func EncodeKey(k ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(k) }

// Decisions of the arbiter, as they appear in tokens and answers.
const (
	Aborted  = "aborted"
	Resolved = "resolved"
)

// PromiseMessage is JCS({"t":"promise","c":h,"r":r}).
func PromiseMessage(h string, r int) []byte {
	return []byte(`{"c":"` + h + `","r":` + strconv.Itoa(r) + `,"t":"promise"}`)
}

// ResolveMessage is JCS({"t":"resolve","c":h,"l":l}).
func ResolveMessage(h string, l int) []byte {
	return []byte(`{"c":"` + h + `","l":` + strconv.Itoa(l) + `,"t":"resolve"}`)
}

// TokenMessage is JCS({"t":decision,"c":h}), decision "resolved" or "aborted".
func TokenMessage(decision, h string) []byte {
	return []byte(`{"c":"` + h + `","t":"` + decision + `"}`)
}

// Sign signs msg (canonical bytes) with priv: base64 of the Ed25519 signature.
func Sign(priv ed25519.PrivateKey, msg []byte) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(priv, msg))
}

// VerifySig reports whether sig (standard base64 with padding) is pub's
// Ed25519 signature of msg.
func VerifySig(pub ed25519.PublicKey, msg []byte, sig string) bool {
	if len(pub) != ed25519.PublicKeySize || len(sig) != 88 {
		return false
	}
	b, err := base64.StdEncoding.Strict().DecodeString(sig)
	if err != nil || len(b) != ed25519.SignatureSize {
		return false
	}
	return ed25519.Verify(pub, msg, b)
}

// Promise is party i's signature m[r,i] on this contract.
func (p *Parsed) Promise(priv ed25519.PrivateKey, r int) string {
	return Sign(priv, PromiseMessage(p.hash, r))
}

// VerifyPromise checks m[r,i]: party i's signature of round r, 1 ≤ r ≤ n+1.
func (p *Parsed) VerifyPromise(i, r int, sig string) error {
	if i < 0 || i >= p.N() {
		return invalidf("no party %d", i)
	}
	if r < 1 || r > p.N()+1 {
		return invalidf("round %d outside 1 … %d", r, p.N()+1)
	}
	if !VerifySig(p.keys[i], PromiseMessage(p.hash, r), sig) {
		return invalidf("promise of party %d for round %d does not verify", i, r)
	}
	return nil
}

// VerifyRound checks M[r]: one valid promise of every party, in party order.
func (p *Parsed) VerifyRound(r int, sigs []string) error {
	if len(sigs) != p.N() {
		return invalidf("round %d needs %d promises, not %d", r, p.N(), len(sigs))
	}
	for i, s := range sigs {
		if err := p.VerifyPromise(i, r, s); err != nil {
			return err
		}
	}
	return nil
}

// VerifyResolve checks party i's resolve request at level l.
func (p *Parsed) VerifyResolve(i, l int, sig string) error {
	if i < 0 || i >= p.N() {
		return invalidf("no party %d", i)
	}
	if l < 0 || l > p.N()+1 {
		return invalidf("level %d outside 0 … %d", l, p.N()+1)
	}
	if !VerifySig(p.keys[i], ResolveMessage(p.hash, l), sig) {
		return invalidf("resolve request of party %d at level %d does not verify", i, l)
	}
	return nil
}

// VerifyToken checks T's token for decision against the contract's ttp.key.
func (p *Parsed) VerifyToken(decision, token string) error {
	if decision != Aborted && decision != Resolved {
		return invalidf("decision %q is neither aborted nor resolved", decision)
	}
	if !VerifySig(p.ttpKey, TokenMessage(decision, p.hash), token) {
		return invalidf("%s token does not verify against ttp.key", decision)
	}
	return nil
}

// SameKey reports whether the contract names k as its arbiter.
func (p *Parsed) SameKey(k ed25519.PublicKey) bool { return bytes.Equal(p.ttpKey, k) }
