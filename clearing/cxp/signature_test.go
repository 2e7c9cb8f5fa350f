package cxp

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
)

var (
	testClock  = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	currentKey = []byte("current-key-of-community-a")
	oldKey     = []byte("old-key-of-community-a")
)

// fixedNonces hands out n1, n2, … so that every signed request in a test has its own nonce.
func fixedNonces() func() string {
	i := 0
	return func() string { i++; return fmt.Sprintf("n%d", i) }
}

func testSigner(key []byte, at time.Time) httpsig.Signer {
	return httpsig.Signer{KeyID: "community-a", Key: key, Now: func() time.Time { return at }, Nonce: fixedNonces()}
}

func testVerifier(keys ...[]byte) httpsig.Verifier {
	return httpsig.Verifier{
		Keys:   httpsig.StaticKeys{"community-a": keys},
		Nonces: &httpsig.MemoryNonces{Now: func() time.Time { return testClock }},
		Now:    func() time.Time { return testClock },
	}
}

// signed builds a request as a client signs it and returns it as a server receives it.
func signed(t *testing.T, s httpsig.Signer, method, target string, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Sign(req, body); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return received(req, body)
}

// received is req as an http.Server hands it to a handler.
func received(req *http.Request, body []byte) *http.Request {
	r := httptest.NewRequest(req.Method, req.URL.RequestURI(), bytes.NewReader(body))
	r.Host = req.URL.Host
	r.Header = req.Header.Clone()
	return r
}

const tryURL = "http://127.0.0.1:8080/transactions"

var tryBody = []byte(`{"payer":"alice","payee":"bob","quantity":12.5,"temp_id":"t1"}`)

func TestSignHeaders(t *testing.T) {
	s := testSigner(currentKey, testClock)
	req := signed(t, s, http.MethodPut, tryURL, tryBody)
	wantInput := `cxp=("@method" "@target-uri" "content-digest");created=1795348800;nonce="n1";keyid="community-a";alg="hmac-sha256"`
	if got := req.Header.Get("Signature-Input"); got != wantInput {
		t.Errorf("Signature-Input: got %s, want %s", got, wantInput)
	}
	// sha256 of tryBody, as `printf %s BODY | sha256sum | xxd -r -p | base64` gives it.
	if got, want := req.Header.Get("Content-Digest"), httpsig.ContentDigest(tryBody); got != want || !strings.HasPrefix(got, "sha-256=:") || !strings.HasSuffix(got, "=:") {
		t.Errorf("Content-Digest: got %s, want %s", got, want)
	}
	base, _, err := httpsig.SignatureBase(req, "", []string{"@method", "@target-uri", "content-digest"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantBase := "\"@method\": PUT\n\"@target-uri\": http://127.0.0.1:8080/transactions\n\"content-digest\": " + httpsig.ContentDigest(tryBody) + "\n\"@signature-params\": (\"@method\" \"@target-uri\" \"content-digest\")"
	if string(base) != wantBase {
		t.Errorf("base:\ngot  %q\nwant %q", base, wantBase)
	}

	get := signed(t, s, http.MethodGet, tryURL+"?volume=10&integrity=1", nil)
	wantInput = `cxp=("@method" "@target-uri");created=1795348800;nonce="n2";keyid="community-a";alg="hmac-sha256"`
	if got := get.Header.Get("Signature-Input"); got != wantInput {
		t.Errorf("GET Signature-Input: got %s, want %s", got, wantInput)
	}
	if got := get.Header.Get("Content-Digest"); got != "" {
		t.Errorf("GET Content-Digest: got %q, want none", got)
	}
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		keys      [][]byte // the verifier's keys for community-a, current first
		request   func(t *testing.T) (*http.Request, []byte)
		wantCode  Code
		wantIndex int
	}{
		{
			name: "good PUT with a body",
			keys: [][]byte{currentKey},
			request: func(t *testing.T) (*http.Request, []byte) {
				return signed(t, testSigner(currentKey, testClock), http.MethodPut, tryURL, tryBody), tryBody
			},
		},
		{
			name: "good GET with a query",
			keys: [][]byte{currentKey},
			request: func(t *testing.T) (*http.Request, []byte) {
				return signed(t, testSigner(currentKey, testClock), http.MethodGet, tryURL+"?volume=1.5&integrity=1", nil), nil
			},
		},
		{
			name: "created 299 s ago is inside the window",
			keys: [][]byte{currentKey},
			request: func(t *testing.T) (*http.Request, []byte) {
				return signed(t, testSigner(currentKey, testClock.Add(-299*time.Second)), http.MethodPut, tryURL, tryBody), tryBody
			},
		},
		{
			name: "wrong key",
			keys: [][]byte{currentKey},
			request: func(t *testing.T) (*http.Request, []byte) {
				return signed(t, testSigner([]byte("someone else's key"), testClock), http.MethodPut, tryURL, tryBody), tryBody
			},
			wantCode: CodeWrongKey,
		},
		{
			name: "stale created",
			keys: [][]byte{currentKey},
			request: func(t *testing.T) (*http.Request, []byte) {
				return signed(t, testSigner(currentKey, testClock.Add(-301*time.Second)), http.MethodPut, tryURL, tryBody), tryBody
			},
			wantCode: CodeAuthData,
		},
		{
			name: "created in the future",
			keys: [][]byte{currentKey},
			request: func(t *testing.T) (*http.Request, []byte) {
				return signed(t, testSigner(currentKey, testClock.Add(301*time.Second)), http.MethodPut, tryURL, tryBody), tryBody
			},
			wantCode: CodeAuthData,
		},
		{
			name: "tampered body",
			keys: [][]byte{currentKey},
			request: func(t *testing.T) (*http.Request, []byte) {
				r := signed(t, testSigner(currentKey, testClock), http.MethodPut, tryURL, tryBody)
				return r, bytes.Replace(tryBody, []byte("12.5"), []byte("125"), 1)
			},
			wantCode: CodeAuthData,
		},
		{
			name: "missing Content-Digest",
			keys: [][]byte{currentKey},
			request: func(t *testing.T) (*http.Request, []byte) {
				r := signed(t, testSigner(currentKey, testClock), http.MethodPut, tryURL, tryBody)
				r.Header.Del("Content-Digest")
				return r, tryBody
			},
			wantCode: CodeAuthData,
		},
		{
			name: "body sent with a GET signature that does not cover content-digest",
			keys: [][]byte{currentKey},
			request: func(t *testing.T) (*http.Request, []byte) {
				return signed(t, testSigner(currentKey, testClock), http.MethodPut, tryURL, nil), tryBody
			},
			wantCode: CodeAuthData,
		},
		{
			name: "unknown key id",
			keys: [][]byte{currentKey},
			request: func(t *testing.T) (*http.Request, []byte) {
				s := testSigner(currentKey, testClock)
				s.KeyID = "community-z"
				return signed(t, s, http.MethodPut, tryURL, tryBody), tryBody
			},
			wantCode: CodeNotPermitted,
		},
		{
			name: "unknown key id is refused before the digest is checked",
			keys: [][]byte{currentKey},
			request: func(t *testing.T) (*http.Request, []byte) {
				s := testSigner(currentKey, testClock)
				s.KeyID = "community-z"
				return signed(t, s, http.MethodPut, tryURL, tryBody), []byte(`{}`)
			},
			wantCode: CodeNotPermitted,
		},
		{
			name: "rotated key: the old key verifies during the overlap, as index 1",
			keys: [][]byte{currentKey, oldKey},
			request: func(t *testing.T) (*http.Request, []byte) {
				return signed(t, testSigner(oldKey, testClock), http.MethodPut, tryURL, tryBody), tryBody
			},
			wantIndex: 1,
		},
		{
			name: "rotated key: the new key is index 0 during the overlap",
			keys: [][]byte{currentKey, oldKey},
			request: func(t *testing.T) (*http.Request, []byte) {
				return signed(t, testSigner(currentKey, testClock), http.MethodPut, tryURL, tryBody), tryBody
			},
		},
		{
			name: "rotated key: the old key fails after the overlap",
			keys: [][]byte{currentKey},
			request: func(t *testing.T) (*http.Request, []byte) {
				return signed(t, testSigner(oldKey, testClock), http.MethodPut, tryURL, tryBody), tryBody
			},
			wantCode: CodeWrongKey,
		},
		{
			name: "no signature",
			keys: [][]byte{currentKey},
			request: func(t *testing.T) (*http.Request, []byte) {
				return httptest.NewRequest(http.MethodPut, "/transactions", bytes.NewReader(tryBody)), tryBody
			},
			wantCode: CodeAuthData,
		},
		{
			name: "malformed Signature-Input",
			keys: [][]byte{currentKey},
			request: func(t *testing.T) (*http.Request, []byte) {
				r := signed(t, testSigner(currentKey, testClock), http.MethodPut, tryURL, tryBody)
				r.Header.Set("Signature-Input", `cxp=("@method" "@target-uri";created=1`)
				return r, tryBody
			},
			wantCode: CodeAuthData,
		},
		{
			name: "Signature not a byte sequence",
			keys: [][]byte{currentKey},
			request: func(t *testing.T) (*http.Request, []byte) {
				r := signed(t, testSigner(currentKey, testClock), http.MethodPut, tryURL, tryBody)
				r.Header.Set("Signature", `cxp="abc"`)
				return r, tryBody
			},
			wantCode: CodeAuthData,
		},
		{
			name: "missing nonce",
			keys: [][]byte{currentKey},
			request: func(t *testing.T) (*http.Request, []byte) {
				r := signed(t, testSigner(currentKey, testClock), http.MethodPut, tryURL, tryBody)
				r.Header.Set("Signature-Input", strings.Replace(r.Header.Get("Signature-Input"), `;nonce="n1"`, "", 1))
				return r, tryBody
			},
			wantCode: CodeAuthData,
		},
		{
			name: "nonce too long",
			keys: [][]byte{currentKey},
			request: func(t *testing.T) (*http.Request, []byte) {
				s := testSigner(currentKey, testClock)
				s.Nonce = func() string { return strings.Repeat("n", httpsig.MaxNonceLen+1) }
				return signed(t, s, http.MethodPut, tryURL, tryBody), tryBody
			},
			wantCode: CodeAuthData,
		},
		{
			name: "missing created",
			keys: [][]byte{currentKey},
			request: func(t *testing.T) (*http.Request, []byte) {
				r := signed(t, testSigner(currentKey, testClock), http.MethodPut, tryURL, tryBody)
				r.Header.Set("Signature-Input", strings.Replace(r.Header.Get("Signature-Input"), `;created=1795348800`, "", 1))
				return r, tryBody
			},
			wantCode: CodeAuthData,
		},
		{
			name: "unknown alg",
			keys: [][]byte{currentKey},
			request: func(t *testing.T) (*http.Request, []byte) {
				r := signed(t, testSigner(currentKey, testClock), http.MethodPut, tryURL, tryBody)
				r.Header.Set("Signature-Input", strings.Replace(r.Header.Get("Signature-Input"), `hmac-sha256`, "rsa-v1_5-sha256", 1))
				return r, tryBody
			},
			wantCode: CodeAuthData,
		},
		{
			name: "changed parameter breaks the signature",
			keys: [][]byte{currentKey},
			request: func(t *testing.T) (*http.Request, []byte) {
				r := signed(t, testSigner(currentKey, testClock), http.MethodPut, tryURL, tryBody)
				r.Header.Set("Signature-Input", strings.Replace(r.Header.Get("Signature-Input"), `nonce="n1"`, `nonce="n9"`, 1))
				return r, tryBody
			},
			wantCode: CodeWrongKey,
		},
		{
			name: "signed for another method",
			keys: [][]byte{currentKey},
			request: func(t *testing.T) (*http.Request, []byte) {
				r := signed(t, testSigner(currentKey, testClock), http.MethodPut, tryURL, tryBody)
				r.Method = http.MethodPost
				return r, tryBody
			},
			wantCode: CodeWrongKey,
		},
		{
			name: "signed for another target",
			keys: [][]byte{currentKey},
			request: func(t *testing.T) (*http.Request, []byte) {
				r := signed(t, testSigner(currentKey, testClock), http.MethodGet, tryURL+"?volume=1", nil)
				r2 := httptest.NewRequest(http.MethodGet, "/transactions?volume=2", nil)
				r2.Host = r.Host
				r2.Header = r.Header
				return r2, nil
			},
			wantCode: CodeWrongKey,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := testVerifier(tt.keys...)
			req, body := tt.request(t)
			got, err := v.Verify(ctx, req, body)
			if code := sigCode(err); code != tt.wantCode {
				t.Fatalf("code: got %d (%v), want %d", code, err, tt.wantCode)
			}
			if err != nil {
				e, _ := SignatureError(err)
				if e.Message != Render(tt.wantCode, nil) {
					t.Errorf("message: got %q, want %q", e.Message, Render(tt.wantCode, nil))
				}
				return
			}
			if got.KeyID != "community-a" || got.KeyIndex != tt.wantIndex || got.Alg != httpsig.AlgHMACSHA256 {
				t.Errorf("got %+v, want KeyID community-a, KeyIndex %d, Alg hmac-sha256", got, tt.wantIndex)
			}
		})
	}
}

func TestVerifyReplayedNonce(t *testing.T) {
	ctx := context.Background()
	v := testVerifier(currentKey)
	s := testSigner(currentKey, testClock)
	s.Nonce = func() string { return "same" }
	first := signed(t, s, http.MethodPut, tryURL, tryBody)
	replay := received(first, tryBody)
	if _, err := v.Verify(ctx, first, tryBody); err != nil {
		t.Fatalf("first: %v", err)
	}
	if _, err := v.Verify(ctx, replay, tryBody); sigCode(err) != CodeAuthData {
		t.Fatalf("replay: got %v, want code 18", err)
	}
	// The same nonce under another key id is another nonce.
	v.Keys = httpsig.StaticKeys{"community-a": {currentKey}, "community-b": {currentKey}}
	s.KeyID = "community-b"
	if _, err := v.Verify(ctx, signed(t, s, http.MethodPut, tryURL, tryBody), tryBody); err != nil {
		t.Fatalf("community-b with the same nonce: %v", err)
	}
}

func TestVerifyFailedSignatureDoesNotUseTheNonce(t *testing.T) {
	ctx := context.Background()
	v := testVerifier(currentKey)
	bad := testSigner([]byte("wrong"), testClock)
	bad.Nonce = func() string { return "n" }
	if _, err := v.Verify(ctx, signed(t, bad, http.MethodPut, tryURL, tryBody), tryBody); sigCode(err) != CodeWrongKey {
		t.Fatalf("bad signature: got %v, want code 17", err)
	}
	good := testSigner(currentKey, testClock)
	good.Nonce = func() string { return "n" }
	if _, err := v.Verify(ctx, signed(t, good, http.MethodPut, tryURL, tryBody), tryBody); err != nil {
		t.Fatalf("good signature with the nonce of a refused one: %v", err)
	}
}

func TestVerifyBaseURL(t *testing.T) {
	ctx := context.Background()
	// The client signs the public URL; the server sees its own listening address.
	req, err := http.NewRequest(http.MethodPut, "https://circle.example.org/transactions", bytes.NewReader(tryBody))
	if err != nil {
		t.Fatal(err)
	}
	if err := testSigner(currentKey, testClock).Sign(req, tryBody); err != nil {
		t.Fatal(err)
	}
	behindProxy := func() *http.Request {
		r := httptest.NewRequest(http.MethodPut, "/transactions", bytes.NewReader(tryBody))
		r.Host = "127.0.0.1:8080"
		r.Header = req.Header.Clone()
		return r
	}
	v := testVerifier(currentKey)
	if _, err := v.Verify(ctx, behindProxy(), tryBody); sigCode(err) != CodeWrongKey {
		t.Fatalf("without BaseURL: got %v, want code 17", err)
	}
	v.BaseURL = "https://circle.example.org"
	if _, err := v.Verify(ctx, behindProxy(), tryBody); err != nil {
		t.Fatalf("with BaseURL: %v", err)
	}
}

func TestVerifyEd25519Profile(t *testing.T) {
	ctx := context.Background()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	s := httpsig.Signer{KeyID: "https://a.example", Alg: httpsig.AlgEd25519, Ed25519Key: priv,
		Now: func() time.Time { return testClock }, Nonce: fixedNonces()}
	v := httpsig.Verifier{
		PublicKeys: httpsig.StaticPublicKeys{"https://a.example": priv.Public().(ed25519.PublicKey)},
		Nonces:     &httpsig.MemoryNonces{},
		Now:        func() time.Time { return testClock },
		BaseURL:    "https://b.example", // the test server sees plain HTTP
	}
	req := signed(t, s, http.MethodPost, "https://b.example/federation/inbox", tryBody)
	if !strings.Contains(req.Header.Get("Signature-Input"), `alg="ed25519"`) {
		t.Errorf("Signature-Input: got %s, want alg ed25519", req.Header.Get("Signature-Input"))
	}
	got, err := v.Verify(ctx, req, tryBody)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.KeyID != "https://a.example" || got.Alg != httpsig.AlgEd25519 {
		t.Errorf("got %+v", got)
	}
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, ed25519.SeedSize))
	s.Ed25519Key = other
	if _, err := v.Verify(ctx, signed(t, s, http.MethodPost, "https://b.example/federation/inbox", tryBody), tryBody); sigCode(err) != CodeWrongKey {
		t.Errorf("other key: got %v, want code 17", err)
	}
	// An HMAC-only verifier refuses ed25519 signatures as not enough data (18).
	hv := testVerifier(currentKey)
	s.Ed25519Key = priv
	if _, err := hv.Verify(ctx, signed(t, s, http.MethodPost, "https://b.example/federation/inbox", tryBody), tryBody); sigCode(err) != CodeAuthData {
		t.Errorf("HMAC-only verifier: got %v, want code 18", err)
	}
}

func TestKeyStoreFunc(t *testing.T) {
	ks := httpsig.KeyStoreFunc(func(ctx context.Context, keyID string) ([][]byte, error) {
		if keyID == "community-a" {
			return [][]byte{currentKey}, nil
		}
		return nil, NewError(CodeNotPermitted, map[string]string{"keyid": keyID})
	})
	v := httpsig.Verifier{Keys: ks, Nonces: &httpsig.MemoryNonces{}, Now: func() time.Time { return testClock }}
	if _, err := v.Verify(context.Background(), signed(t, testSigner(currentKey, testClock), http.MethodPut, tryURL, tryBody), tryBody); err != nil {
		t.Errorf("known key: %v", err)
	}
	s := testSigner(currentKey, testClock)
	s.KeyID = "blocked"
	if _, err := v.Verify(context.Background(), signed(t, s, http.MethodPut, tryURL, tryBody), tryBody); sigCode(err) != CodeNotPermitted {
		t.Errorf("blocked: got %v, want code 16", err)
	}
	if _, err := (httpsig.Verifier{Keys: ks}).Verify(context.Background(), signed(t, testSigner(currentKey, testClock), http.MethodPut, tryURL, tryBody), tryBody); err == nil {
		t.Errorf("a verifier without a NonceStore: got nil error")
	}
}

// sigCode is the CXP code of a Verify error (SignatureError), OK for nil.
func sigCode(err error) Code {
	if e, ok := SignatureError(err); ok {
		return e.Code
	}
	return CodeOf(err)
}

// TestSignatureCodesCoverEveryKind: every refusal httpsig knows has a CXP code.
func TestSignatureCodesCoverEveryKind(t *testing.T) {
	for _, k := range httpsig.Kinds() {
		e, ok := SignatureError(&httpsig.Error{Kind: k, Reason: "r"})
		if !ok || !IsSignatureRefusal(e.Code) {
			t.Errorf("kind %v: got %v %v, want a code 16/17/18", k, e, ok)
		}
	}
}
