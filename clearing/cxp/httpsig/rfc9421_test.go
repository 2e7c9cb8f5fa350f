package httpsig

import (
	"bufio"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/dunglas/httpsfv"
)

// The test-request message of RFC 9421 Appendix B.2.
const rfcTestRequest = "POST /foo?param=Value&Pet=dog HTTP/1.1\r\n" +
	"Host: example.com\r\n" +
	"Date: Tue, 20 Apr 2021 02:07:55 GMT\r\n" +
	"Content-Type: application/json\r\n" +
	"Content-Digest: sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:\r\n" +
	"Content-Length: 18\r\n" +
	"\r\n" +
	`{"hello": "world"}`

// RFC 9421 B.1.5, test-shared-secret.
const rfcSharedSecret = "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ=="

// RFC 9421 B.1.4, test-key-ed25519.
const rfcEd25519Private = `-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----`

const rfcEd25519Public = `-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=
-----END PUBLIC KEY-----`

func rfcRequest(t *testing.T) *http.Request {
	t.Helper()
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(rfcTestRequest)))
	if err != nil {
		t.Fatalf("read the RFC's test request: %v", err)
	}
	return req
}

func rfcParams(keyID string) *httpsfv.Params {
	p := httpsfv.NewParams()
	p.Add("created", int64(1618884473))
	p.Add("keyid", keyID)
	return p
}

func TestRFC9421B25HMACSHA256(t *testing.T) {
	req := rfcRequest(t)
	key, err := base64.StdEncoding.DecodeString(rfcSharedSecret)
	if err != nil {
		t.Fatal(err)
	}
	base, sp, err := SignatureBase(req, "", []string{"date", "@authority", "content-type"}, rfcParams("test-shared-secret"))
	if err != nil {
		t.Fatalf("SignatureBase: %v", err)
	}
	wantBase := `"date": Tue, 20 Apr 2021 02:07:55 GMT` + "\n" +
		`"@authority": example.com` + "\n" +
		`"content-type": application/json` + "\n" +
		`"@signature-params": ("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"`
	if string(base) != wantBase {
		t.Fatalf("signature base:\ngot  %q\nwant %q", base, wantBase)
	}
	wantInput := `("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"`
	if sp != wantInput {
		t.Errorf("signature params: got %q, want %q", sp, wantInput)
	}
	sig := base64.StdEncoding.EncodeToString(hmacSHA256(key, base))
	if want := "pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8="; sig != want {
		t.Errorf("signature: got %s, want %s", sig, want)
	}

	// The RFC's header fields verify as they are, and fail with another key.
	req.Header.Set("Signature-Input", `sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"`)
	req.Header.Set("Signature", "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:")
	if err := VerifyHMAC(req, "sig-b25", key); err != nil {
		t.Errorf("VerifyHMAC with the RFC's key: %v", err)
	}
	if err := VerifyHMAC(req, "sig-b25", []byte("test-shared-secret")); !errors.Is(err, ErrMismatch) {
		t.Errorf("VerifyHMAC with another key: got %v, want %v", err, ErrMismatch)
	}
}

func TestRFC9421B26Ed25519(t *testing.T) {
	req := rfcRequest(t)
	blk, _ := pem.Decode([]byte(rfcEd25519Private))
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	priv := k.(ed25519.PrivateKey)
	blk, _ = pem.Decode([]byte(rfcEd25519Public))
	pk, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pub := pk.(ed25519.PublicKey)

	components := []string{"date", "@method", "@path", "@authority", "content-type", "content-length"}
	base, _, err := SignatureBase(req, "", components, rfcParams("test-key-ed25519"))
	if err != nil {
		t.Fatalf("SignatureBase: %v", err)
	}
	wantBase := `"date": Tue, 20 Apr 2021 02:07:55 GMT` + "\n" +
		`"@method": POST` + "\n" +
		`"@path": /foo` + "\n" +
		`"@authority": example.com` + "\n" +
		`"content-type": application/json` + "\n" +
		`"content-length": 18` + "\n" +
		`"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"`
	if string(base) != wantBase {
		t.Fatalf("signature base:\ngot  %q\nwant %q", base, wantBase)
	}
	const wantSig = "wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw=="
	// Ed25519 is deterministic: signing the base with the RFC's key gives the RFC's signature.
	if got := base64.StdEncoding.EncodeToString(ed25519.Sign(priv, base)); got != wantSig {
		t.Errorf("signature: got %s, want %s", got, wantSig)
	}

	req.Header.Set("Signature-Input", `sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"`)
	req.Header.Set("Signature", "sig-b26=:"+wantSig+":")
	if err := VerifyEd25519(req, "sig-b26", pub); err != nil {
		t.Errorf("VerifyEd25519 with the RFC's key: %v", err)
	}
	other := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	if err := VerifyEd25519(req, "sig-b26", other); !errors.Is(err, ErrMismatch) {
		t.Errorf("VerifyEd25519 with another key: got %v, want %v", err, ErrMismatch)
	}
}
