package httpsig

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dunglas/httpsfv"
)

// Signature algorithms (the alg parameter of Signature-Input).
const (
	AlgHMACSHA256 = "hmac-sha256"
	AlgEd25519    = "ed25519"
)

// DefaultLabel is the label of a signature in Signature-Input and Signature when
// Signer.Label is empty: the CXP profile's "cxp" (federation signs with "sxp").
const DefaultLabel = "cxp"

// MaxKeyIDLen bounds the keyid a Verifier accepts.
const MaxKeyIDLen = 255

// MaxNonceLen bounds the nonce a Verifier accepts (and so what a NonceStore keeps).
const MaxNonceLen = 128

// DefaultWindow is how far created may be from the verifier's clock, and how long nonces are kept.
const DefaultWindow = 300 * time.Second

// Signer signs outgoing requests (RFC 9421, with an RFC 9530 Content-Digest).
type Signer struct {
	Label      string // the signature's label: default DefaultLabel ("cxp"), "sxp" for federation
	KeyID      string
	Key        []byte             // the HMAC key (a community's key as printed: its UTF-8 bytes)
	Alg        string             // AlgHMACSHA256 (default) or AlgEd25519
	Ed25519Key ed25519.PrivateKey // for AlgEd25519
	Now        func() time.Time   // default time.Now
	Nonce      func() string      // default 16 random bytes, base64url
}

// Sign sets Content-Digest (when body is not empty), Signature-Input and Signature on req.
// body is the exact request body (nil for GET); Sign does not read or set req.Body.
// Requests with a body cover ("@method" "@target-uri" "content-digest"), others
// ("@method" "@target-uri"); the parameters are created, nonce, keyid and alg.
func (s Signer) Sign(req *http.Request, body []byte) error {
	if s.KeyID == "" {
		return errors.New("httpsig: sign: no key id")
	}
	alg := s.Alg
	if alg == "" {
		alg = AlgHMACSHA256
	}
	switch alg {
	case AlgHMACSHA256:
		if len(s.Key) == 0 {
			return errors.New("httpsig: sign: no HMAC key")
		}
	case AlgEd25519:
		if len(s.Ed25519Key) != ed25519.PrivateKeySize {
			return errors.New("httpsig: sign: no Ed25519 key")
		}
	default:
		return fmt.Errorf("httpsig: sign: unknown alg %q", alg)
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	nonce := randomNonce
	if s.Nonce != nil {
		nonce = s.Nonce
	}
	components := []string{"@method", "@target-uri"}
	if len(body) > 0 {
		req.Header.Set("Content-Digest", ContentDigest(body))
		components = append(components, "content-digest")
	} else {
		req.Header.Del("Content-Digest")
	}
	params := httpsfv.NewParams()
	params.Add("created", now().Unix())
	params.Add("nonce", nonce())
	params.Add("keyid", s.KeyID)
	params.Add("alg", alg)
	base, input, err := signatureBase(req, "", components, params)
	if err != nil {
		return fmt.Errorf("httpsig: sign: %w", err)
	}
	var sig []byte
	if alg == AlgEd25519 {
		sig = ed25519.Sign(s.Ed25519Key, base)
	} else {
		sig = hmacSHA256(s.Key, base)
	}
	label := s.Label
	if label == "" {
		label = DefaultLabel
	}
	req.Header.Set("Signature-Input", label+"="+input)
	sigHeader, err := marshalDict(label, sig)
	if err != nil {
		return fmt.Errorf("httpsig: sign: %w", err)
	}
	req.Header.Set("Signature", sigHeader)
	return nil
}

// ContentDigest is the RFC 9530 Content-Digest field value of body: sha-256=:<base64>:.
func ContentDigest(body []byte) string {
	sum := sha256.Sum256(body)
	v, _ := marshalDict("sha-256", sum[:])
	return v
}

func marshalDict(key string, value []byte) (string, error) {
	d := httpsfv.NewDictionary()
	d.Add(key, httpsfv.NewItem(value))
	return httpsfv.Marshal(d)
}

func hmacSHA256(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

func randomNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

// KeyStore finds the HMAC keys that may have signed a request with keyID: the current
// key first, then older ones still in their rotation overlap. An unknown or blocked
// keyID is an error that Is ErrUnknownKey (or any error of the caller's own,
// which Verify returns as is).
type KeyStore interface {
	VerifyKeys(ctx context.Context, keyID string) ([][]byte, error)
}

// PublicKeyStore finds the Ed25519 public key of keyID (federation: a server's base URL).
// An unknown keyID is an error that Is ErrUnknownKey (or the caller's own error).
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
	// Label is the signature to check (e.g. "sxp", the only one then accepted): ""
	// means DefaultLabel when present, else the only signature of the request.
	Label  string
	Now    func() time.Time
	Window time.Duration // default DefaultWindow
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
// Refusals are *Error of a Kind, checked in this order:
//   - no, malformed or incomplete Signature/Signature-Input (missing created, nonce or
//     keyid; an unknown alg; not covering @method, @target-uri and, with a body,
//     content-digest) → KindMalformed; created more than Window off, expires passed →
//     KindStale
//   - keyid unknown → the KeyStore's error, returned as is (ErrUnknownKey for the
//     stores of this package)
//   - Content-Digest missing on a request with a body, or not matching it → KindMalformed
//   - signature matching none of the keyid's keys → KindMismatch
//   - nonce already seen within the window → KindReplayed
//
// Any other error (the NonceStore failing) is the server's, not the caller's.
func (v Verifier) Verify(ctx context.Context, req *http.Request, body []byte) (Verified, error) {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	window := v.Window
	if window <= 0 {
		window = DefaultWindow
	}
	if v.Nonces == nil {
		return Verified{}, errors.New("httpsig: verifier has no NonceStore")
	}
	sig, perr := parseSignature(req, v.Label)
	if perr != nil {
		return Verified{}, perr
	}
	p, perr := sig.profile(len(body) > 0)
	if perr != nil {
		return Verified{}, perr
	}
	var err error
	t := now()
	created := time.Unix(p.created, 0)
	if d := t.Sub(created); d > window || d < -window {
		return Verified{}, refusal(KindStale, "created is more than "+window.String()+" off")
	}
	if p.expires != 0 && !t.Before(time.Unix(p.expires, 0)) {
		return Verified{}, refusal(KindStale, "signature expired")
	}

	var hmacKeys [][]byte
	var pub ed25519.PublicKey
	if p.alg == AlgEd25519 {
		if v.PublicKeys == nil {
			return Verified{}, authData("alg ed25519 is not accepted here")
		}
		if pub, err = v.PublicKeys.PublicKey(ctx, p.keyID); err != nil {
			return Verified{}, err
		}
	} else {
		if v.Keys == nil {
			return Verified{}, authData("alg hmac-sha256 is not accepted here")
		}
		if hmacKeys, err = v.Keys.VerifyKeys(ctx, p.keyID); err != nil {
			return Verified{}, err
		}
	}

	if derr := checkDigest(req, body); derr != nil {
		return Verified{}, derr
	}

	base, _, err := signatureBase(req, v.BaseURL, sig.components, sig.params)
	if err != nil {
		return Verified{}, authData(err.Error())
	}
	index := -1
	if p.alg == AlgEd25519 {
		if len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, base, sig.signature) {
			index = 0
		}
	} else {
		for i, k := range hmacKeys {
			if hmac.Equal(hmacSHA256(k, base), sig.signature) {
				index = i
				break
			}
		}
	}
	if index < 0 {
		return Verified{}, ErrMismatch
	}

	fresh, err := v.Nonces.Remember(ctx, p.keyID, p.nonce, created.Add(window))
	if err != nil {
		return Verified{}, fmt.Errorf("httpsig: remember nonce: %w", err)
	}
	if !fresh {
		return Verified{}, refusal(KindReplayed, "nonce already used")
	}
	alg := p.alg
	if alg == "" {
		alg = AlgHMACSHA256
	}
	return Verified{KeyID: p.keyID, KeyIndex: index, Alg: alg}, nil
}

// authData is a KindMalformed refusal with its reason.
func authData(reason string) *Error {
	return refusal(KindMalformed, reason)
}

// checkDigest checks Content-Digest against body: required when body is not empty,
// checked whenever present. Only sha-256 is accepted.
func checkDigest(req *http.Request, body []byte) *Error {
	values := req.Header.Values("Content-Digest")
	if len(values) == 0 {
		if len(body) > 0 {
			return authData("missing Content-Digest")
		}
		return nil
	}
	d, err := httpsfv.UnmarshalDictionary(values)
	if err != nil {
		return authData("malformed Content-Digest")
	}
	m, ok := d.Get("sha-256")
	if !ok {
		return authData("Content-Digest has no sha-256")
	}
	item, ok := m.(httpsfv.Item)
	if !ok {
		return authData("malformed Content-Digest")
	}
	got, ok := item.Value.([]byte)
	sum := sha256.Sum256(body)
	if !ok || !hmac.Equal(got, sum[:]) {
		return authData("Content-Digest does not match the body")
	}
	return nil
}

// signature is one parsed Signature-Input / Signature pair.
type signature struct {
	label      string
	components []string
	params     *httpsfv.Params
	signature  []byte
}

// parseSignature finds the signature labelled label ("" means DefaultLabel when present,
// else the only one) in req's Signature-Input and Signature fields.
func parseSignature(req *http.Request, label string) (signature, *Error) {
	inputs := req.Header.Values("Signature-Input")
	sigs := req.Header.Values("Signature")
	if len(inputs) == 0 || len(sigs) == 0 {
		return signature{}, authData("missing Signature or Signature-Input")
	}
	inDict, err := httpsfv.UnmarshalDictionary(inputs)
	if err != nil {
		return signature{}, authData("malformed Signature-Input")
	}
	sigDict, err := httpsfv.UnmarshalDictionary(sigs)
	if err != nil {
		return signature{}, authData("malformed Signature")
	}
	if label == "" {
		names := inDict.Names()
		switch {
		case slices.Contains(names, DefaultLabel):
			label = DefaultLabel
		case len(names) == 1:
			label = names[0]
		default:
			return signature{}, authData("no signature labelled " + DefaultLabel)
		}
	}
	in, ok := inDict.Get(label)
	if !ok {
		return signature{}, authData("no Signature-Input labelled " + label)
	}
	il, ok := in.(httpsfv.InnerList)
	if !ok || il.Params == nil {
		return signature{}, authData("malformed Signature-Input")
	}
	sm, ok := sigDict.Get(label)
	if !ok {
		return signature{}, authData("no Signature labelled " + label)
	}
	si, ok := sm.(httpsfv.Item)
	if !ok {
		return signature{}, authData("malformed Signature")
	}
	sigBytes, ok := si.Value.([]byte)
	if !ok || len(sigBytes) == 0 {
		return signature{}, authData("malformed Signature")
	}
	s := signature{label: label, params: il.Params, signature: sigBytes}
	for _, item := range il.Items {
		name, ok := item.Value.(string)
		if !ok || (item.Params != nil && len(item.Params.Names()) > 0) {
			return signature{}, authData("unsupported component in Signature-Input")
		}
		if slices.Contains(s.components, name) {
			return signature{}, authData("component " + name + " covered twice")
		}
		s.components = append(s.components, name)
	}
	return s, nil
}

// profileParams are the parameters the profile requires.
type profileParams struct {
	created, expires int64
	nonce, keyID     string
	alg              string
}

// profile checks that s follows the profile: created, nonce and keyid present, alg
// hmac-sha256 or ed25519, @method, @target-uri (and content-digest with a body) covered.
func (s signature) profile(hasBody bool) (profileParams, *Error) {
	var p profileParams
	var ok bool
	v, present := s.params.Get("created")
	if p.created, ok = v.(int64); !present || !ok {
		return p, authData("missing created")
	}
	if v, present := s.params.Get("expires"); present {
		if p.expires, ok = v.(int64); !ok {
			return p, authData("malformed expires")
		}
	}
	v, _ = s.params.Get("nonce")
	if p.nonce, ok = v.(string); !ok || p.nonce == "" {
		return p, authData("missing nonce")
	}
	if len(p.nonce) > MaxNonceLen {
		return p, authData("nonce longer than " + strconv.Itoa(MaxNonceLen))
	}
	v, _ = s.params.Get("keyid")
	if p.keyID, ok = v.(string); !ok || p.keyID == "" {
		return p, authData("missing keyid")
	}
	if len(p.keyID) > MaxKeyIDLen {
		return p, authData("keyid longer than " + strconv.Itoa(MaxKeyIDLen))
	}
	if v, present := s.params.Get("alg"); present {
		p.alg, ok = v.(string)
		if !ok || (p.alg != AlgHMACSHA256 && p.alg != AlgEd25519) {
			return p, authData("unsupported alg")
		}
	}
	required := []string{"@method", "@target-uri"}
	if hasBody {
		required = append(required, "content-digest")
	}
	for _, r := range required {
		if !slices.Contains(s.components, r) {
			return p, authData("signature does not cover " + r)
		}
	}
	return p, nil
}

// SignatureBase builds the RFC 9421 signature base of req for the given covered
// components and signature parameters, and returns it with the serialized
// @signature-params value. Supported components: @method, @target-uri, @authority,
// @scheme, @request-target, @path, @query, and header fields (lowercase names).
// baseURL, when set, gives @target-uri's scheme and host (see Verifier.BaseURL).
func SignatureBase(req *http.Request, baseURL string, components []string, params *httpsfv.Params) (base []byte, signatureParams string, err error) {
	return signatureBase(req, baseURL, components, params)
}

func signatureBase(req *http.Request, baseURL string, components []string, params *httpsfv.Params) ([]byte, string, error) {
	if params == nil {
		params = httpsfv.NewParams()
	}
	il := httpsfv.InnerList{Params: params}
	var b strings.Builder
	for _, c := range components {
		v, err := componentValue(req, baseURL, c)
		if err != nil {
			return nil, "", err
		}
		il.Items = append(il.Items, httpsfv.NewItem(c))
		name, err := httpsfv.Marshal(httpsfv.NewItem(c))
		if err != nil {
			return nil, "", fmt.Errorf("component %q: %w", c, err)
		}
		b.WriteString(name)
		b.WriteString(": ")
		b.WriteString(v)
		b.WriteByte('\n')
	}
	sp, err := httpsfv.Marshal(il)
	if err != nil {
		return nil, "", fmt.Errorf("signature parameters: %w", err)
	}
	b.WriteString(`"@signature-params": `)
	b.WriteString(sp)
	return []byte(b.String()), sp, nil
}

func componentValue(req *http.Request, baseURL, c string) (string, error) {
	switch c {
	case "@method":
		return req.Method, nil
	case "@target-uri":
		return targetURI(req, baseURL)
	case "@authority":
		scheme, host, err := schemeHost(req, baseURL)
		if err != nil {
			return "", err
		}
		return authority(scheme, host), nil
	case "@scheme":
		scheme, _, err := schemeHost(req, baseURL)
		return scheme, err
	case "@request-target":
		return requestURI(req), nil
	case "@path":
		p := req.URL.EscapedPath()
		if p == "" {
			p = "/"
		}
		return p, nil
	case "@query":
		return "?" + req.URL.RawQuery, nil
	}
	if strings.HasPrefix(c, "@") || c != strings.ToLower(c) || c == "" {
		return "", fmt.Errorf("unsupported component %q", c)
	}
	var values []string
	switch c {
	case "host":
		values = []string{req.Host}
	case "content-length":
		values = req.Header.Values(c)
		if len(values) == 0 && req.ContentLength > 0 {
			values = []string{strconv.FormatInt(req.ContentLength, 10)}
		}
	default:
		values = req.Header.Values(c)
	}
	if len(values) == 0 {
		return "", fmt.Errorf("covered field %q is missing", c)
	}
	for i, v := range values {
		values[i] = strings.Trim(v, " \t")
	}
	return strings.Join(values, ", "), nil
}

// requestURI is the request target as sent: the raw one on a server, else the URL's.
func requestURI(req *http.Request) string {
	if req.RequestURI != "" && !strings.Contains(req.RequestURI, "://") {
		return req.RequestURI
	}
	return req.URL.RequestURI()
}

// schemeHost is the scheme and host of req's target: baseURL's when set, else the
// absolute URL's (client side), else http(s) and req.Host (server side).
func schemeHost(req *http.Request, baseURL string) (string, string, error) {
	if baseURL != "" {
		u, err := url.Parse(baseURL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return "", "", fmt.Errorf("base URL %q is not absolute", baseURL)
		}
		return strings.ToLower(u.Scheme), u.Host, nil
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if host == "" {
		return "", "", errors.New("request has no host")
	}
	if req.URL.IsAbs() {
		return strings.ToLower(req.URL.Scheme), host, nil
	}
	if req.TLS != nil {
		return "https", host, nil
	}
	return "http", host, nil
}

// targetURI is @target-uri: scheme://host + the request target.
func targetURI(req *http.Request, baseURL string) (string, error) {
	scheme, host, err := schemeHost(req, baseURL)
	if err != nil {
		return "", err
	}
	return scheme + "://" + host + requestURI(req), nil
}

// authority is the lowercased host with the scheme's default port removed.
func authority(scheme, host string) string {
	host = strings.ToLower(host)
	if scheme == "http" {
		host = strings.TrimSuffix(host, ":80")
	} else if scheme == "https" {
		host = strings.TrimSuffix(host, ":443")
	}
	return host
}

// SignatureKeyID returns the keyid parameter of the signature labelled label on req ("" for
// the default choice), without checking anything else: a receiver uses it to find the signer
// before it verifies. Missing or malformed signature data is KindMalformed.
func SignatureKeyID(req *http.Request, label string) (string, error) {
	sig, perr := parseSignature(req, label)
	if perr != nil {
		return "", perr
	}
	v, _ := sig.params.Get("keyid")
	keyID, ok := v.(string)
	if !ok || keyID == "" {
		return "", authData("missing keyid")
	}
	return keyID, nil
}

// VerifyHMAC checks the signature labelled label on req ("" for the default choice) with
// key over the signature base rebuilt from req. It checks no freshness, nonce or digest:
// that is Verifier's job. A mismatch is ErrMismatch, missing or malformed data KindMalformed.
func VerifyHMAC(req *http.Request, label string, key []byte) error {
	sig, base, err := parseAndBase(req, label)
	if err != nil {
		return err
	}
	if !hmac.Equal(hmacSHA256(key, base), sig) {
		return ErrMismatch
	}
	return nil
}

// VerifyEd25519 is VerifyHMAC for an Ed25519 public key.
func VerifyEd25519(req *http.Request, label string, pub ed25519.PublicKey) error {
	sig, base, err := parseAndBase(req, label)
	if err != nil {
		return err
	}
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, base, sig) {
		return ErrMismatch
	}
	return nil
}

func parseAndBase(req *http.Request, label string) ([]byte, []byte, error) {
	sig, perr := parseSignature(req, label)
	if perr != nil {
		return nil, nil, perr
	}
	base, _, err := signatureBase(req, "", sig.components, sig.params)
	if err != nil {
		return nil, nil, authData(err.Error())
	}
	return sig.signature, base, nil
}

// StaticKeys is a KeyStore held in memory: keyID → keys, current first. A community
// server verifying its circle's relays holds one entry. Unknown ids are ErrUnknownKey.
type StaticKeys map[string][][]byte

// VerifyKeys implements KeyStore.
func (s StaticKeys) VerifyKeys(ctx context.Context, keyID string) ([][]byte, error) {
	keys, ok := s[keyID]
	if !ok || len(keys) == 0 {
		return nil, unknownKey(keyID)
	}
	return keys, nil
}

// StaticPublicKeys is a PublicKeyStore held in memory. Unknown ids are ErrUnknownKey.
type StaticPublicKeys map[string]ed25519.PublicKey

// PublicKey implements PublicKeyStore.
func (s StaticPublicKeys) PublicKey(ctx context.Context, keyID string) (ed25519.PublicKey, error) {
	k, ok := s[keyID]
	if !ok {
		return nil, unknownKey(keyID)
	}
	return k, nil
}

// KeyStoreFunc adapts a function to KeyStore.
type KeyStoreFunc func(ctx context.Context, keyID string) ([][]byte, error)

// VerifyKeys implements KeyStore.
func (f KeyStoreFunc) VerifyKeys(ctx context.Context, keyID string) ([][]byte, error) {
	return f(ctx, keyID)
}
