package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestContractSignBadInput: 'sxp contract sign' refuses what it cannot use
// before it calls any server (exit 2).
func TestContractSignBadInput(t *testing.T) {
	dir := t.TempDir()
	seed := bytes.Repeat([]byte{7}, ed25519.SeedSize)
	good := filepath.Join(dir, "good.key")
	os.WriteFile(good, []byte(base64.StdEncoding.EncodeToString(seed)+"\n"), 0o600)
	bad := filepath.Join(dir, "bad.key")
	os.WriteFile(bad, []byte("not a key"), 0o600)
	h := strings.Repeat("a", 64)
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no hash", []string{"--key", good, "--server", "http://127.0.0.1:1", "--token", "t"}, "want one contract hash"},
		{"not a hash", []string{"--key", good, "--server", "http://127.0.0.1:1", "--token", "t", "XYZ"}, "want one contract hash"},
		{"no key", []string{"--server", "http://127.0.0.1:1", "--token", "t", h}, "--key, --server and --token are required"},
		{"no token", []string{"--key", good, "--server", "http://127.0.0.1:1", h}, "--key, --server and --token are required"},
		{"a file that is no key", []string{"--key", bad, "--server", "http://127.0.0.1:1", "--token", "t", h}, "neither PEM PKCS #8 nor base64"},
		{"a missing file", []string{"--key", filepath.Join(dir, "none"), "--server", "http://127.0.0.1:1", "--token", "t", h}, "--key"},
		{"no server there", []string{"--key", good, "--server", "http://127.0.0.1:1", "--token", "t", h}, "contract " + h},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), append([]string{"contract", "sign"}, tt.args...), &out, &errb)
			if code != 2 || !strings.Contains(errb.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errb.String(), tt.want)
			}
		})
	}
}

// TestReadPrivateKey reads the three spellings of one key.
func TestReadPrivateKey(t *testing.T) {
	dir := t.TempDir()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"seed.b64": []byte(base64.StdEncoding.EncodeToString(priv.Seed())),
		"full.b64": []byte(base64.StdEncoding.EncodeToString(priv)),
		"key.pem":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
	} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, data, 0o600)
		got, err := readPrivateKey(path)
		if err != nil || !got.Equal(priv) {
			t.Errorf("%s: got %v, %v; want the key", name, got, err)
		}
	}
}
