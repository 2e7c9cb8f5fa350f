package httpsig

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Fuzz targets for RFC 9421 signatures. Seeds are below and in
// testdata/fuzz/<target>/; `go test` runs them, `go test -fuzz FuzzX` explores.

var fuzzNow = time.Unix(1_700_000_000, 0)

// fuzzVerifier verifies hmac-sha256 with key "k" for "leaf" and ed25519 for
// "fed", at fuzzNow, with fresh nonces.
func fuzzVerifier(pub ed25519.PublicKey) Verifier {
	return Verifier{Keys: StaticKeys{"leaf": {[]byte("k")}}, PublicKeys: StaticPublicKeys{"fed": pub},
		Nonces: &MemoryNonces{Now: func() time.Time { return fuzzNow }}, Now: func() time.Time { return fuzzNow }}
}

var fuzzEdKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

// FuzzVerifyHeaders verifies requests whose Signature-Input, Signature and
// Content-Digest are arbitrary: parsing never panics, and a forged header
// is never accepted (no fuzz input knows the keys, so any acceptance means
// the verifier checked nothing).
func FuzzVerifyHeaders(f *testing.F) {
	req, _ := http.NewRequest(http.MethodPut, "http://circle.example/transactions", nil)
	body := []byte(`{"payer":"a"}`)
	if err := (Signer{KeyID: "leaf", Key: []byte("k"), Now: func() time.Time { return fuzzNow }, Nonce: func() string { return "n1" }}).Sign(req, body); err != nil {
		f.Fatal(err)
	}
	f.Add(req.Header.Get("Signature-Input"), req.Header.Get("Signature"), req.Header.Get("Content-Digest"), body)
	f.Add(`cxp=("@method" "@target-uri");created=1700000000;nonce="x";keyid="fed";alg="ed25519"`, `cxp=:AAAA:`, "", []byte(nil))
	f.Add(`cxp=();created=1700000000`, `cxp=:`, `sha-256=:x:`, []byte("x"))
	f.Add(`a=("@method"), b=("@path";req);created=1`, `a=:AA==:, b=?1`, `sha-512=:AA==:`, []byte("{}"))
	f.Add(`cxp=("@query-param";name="a" "@authority" "@status");created=-1;expires=99999999999999`, `cxp=("x")`, "", []byte(nil))
	pub := fuzzEdKey.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, input, sig, digest string, body []byte) {
		req, err := http.NewRequest(http.MethodPut, "http://circle.example/transactions?x=1", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Signature-Input", input)
		req.Header.Set("Signature", sig)
		if digest != "" {
			req.Header.Set("Content-Digest", digest)
		}
		if _, err := fuzzVerifier(pub).Verify(context.Background(), req, body); err == nil {
			t.Fatalf("forged headers accepted: input %q sig %q", input, sig)
		}
		if VerifyHMAC(req, "", []byte("k")) == nil {
			t.Fatalf("VerifyHMAC accepted forged headers: input %q sig %q", input, sig)
		}
		if VerifyEd25519(req, "", pub) == nil {
			t.Fatalf("VerifyEd25519 accepted forged headers: input %q sig %q", input, sig)
		}
	})
}

// FuzzVerifyMutated signs a request (hmac-sha256 or ed25519) over a fuzzed
// method, path and body; the verifier accepts it as signed and refuses it
// after any one mutation: a bit of the signature, a byte of the body, the
// method, the path, or the key.
func FuzzVerifyMutated(f *testing.F) {
	f.Add(false, "PUT", "/transactions", []byte(`{"payer":"a","quantity":1}`), uint16(0), uint8(1))
	f.Add(true, "POST", "/federation/v1/inbox", []byte(`{"events":[]}`), uint16(5), uint8(0x80))
	f.Add(false, "GET", "/server/clients", []byte(nil), uint16(3), uint8(4))
	f.Add(true, "DELETE", "/federation/v1/peers", []byte("x"), uint16(40), uint8(0xff))
	pub := fuzzEdKey.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, ed bool, method, path string, body []byte, at uint16, flip uint8) {
		if flip == 0 {
			flip = 1
		}
		build := func(method, path string) *http.Request {
			if method == "" || strings.ContainsAny(method, " \t\r\n()<>@,;:\\\"/[]?={}") || !isToken(method) {
				return nil
			}
			req, err := http.NewRequest(method, "http://circle.example/"+url.PathEscape(path), nil)
			if err != nil {
				return nil
			}
			return req
		}
		req := build(method, path)
		if req == nil {
			return
		}
		signer := Signer{KeyID: "leaf", Key: []byte("k"), Now: func() time.Time { return fuzzNow }, Nonce: func() string { return "n" }}
		if ed {
			signer = Signer{KeyID: "fed", Alg: AlgEd25519, Ed25519Key: fuzzEdKey, Now: signer.Now, Nonce: signer.Nonce}
		}
		if err := signer.Sign(req, body); err != nil {
			t.Fatalf("sign: %v", err)
		}
		verify := func(r *http.Request, b []byte) error {
			_, err := fuzzVerifier(pub).Verify(context.Background(), r, b)
			return err
		}
		if err := verify(req, body); err != nil {
			t.Fatalf("%s %q: the signed request is refused: %v", method, path, err)
		}
		refused := func(what string, r *http.Request, b []byte) {
			if err := verify(r, b); err == nil {
				t.Fatalf("%s %q: accepted after mutating the %s", method, path, what)
			}
		}
		// The signature: flip bits of one byte.
		sigHeader := req.Header.Get("Signature")
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(strings.TrimPrefix(sigHeader, DefaultLabel+"=:"), ":"))
		if err != nil {
			t.Fatalf("signature header %q: %v", sigHeader, err)
		}
		raw[int(at)%len(raw)] ^= flip
		mutated := req.Clone(context.Background())
		mutated.Header.Set("Signature", DefaultLabel+"=:"+base64.StdEncoding.EncodeToString(raw)+":")
		refused("signature", mutated, body)
		// The body (its digest stays the signed one).
		if len(body) > 0 {
			b := bytes.Clone(body)
			b[int(at)%len(b)] ^= flip
			refused("body", req.Clone(context.Background()), b)
		}
		// The method and the path.
		other := "PATCH"
		if method == other {
			other = "PUT"
		}
		if m := build(other, path); m != nil {
			m.Header = req.Header.Clone()
			refused("method", m, body)
		}
		if m := build(method, path+"x"); m != nil {
			m.Header = req.Header.Clone()
			refused("path", m, body)
		}
		// Another key.
		if ed {
			other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, ed25519.SeedSize)).Public().(ed25519.PublicKey)
			if VerifyEd25519(req, "", other) == nil {
				t.Fatalf("%s %q: accepted with another ed25519 key", method, path)
			}
		} else if VerifyHMAC(req, "", []byte("k2")) == nil {
			t.Fatalf("%s %q: accepted with another hmac key", method, path)
		}
	})
}

func isToken(s string) bool {
	for _, c := range s {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}
