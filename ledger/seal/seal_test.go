package seal_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/sxp-network/sxp/ledger/seal"
)

func TestSealOpen(t *testing.T) {
	box, err := seal.New("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := seal.New("other")
	plain := []byte("a private key")
	sealed := box.Seal("member:7", plain)
	if bytes.Contains(sealed, plain) || len(sealed) != 12+len(plain)+16 {
		t.Fatalf("sealed: got %x (%d bytes), want nonce+ciphertext+tag without the plain text", sealed, len(sealed))
	}
	if got, err := box.Open("member:7", sealed); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open: got %q, %v; want %q", got, err, plain)
	}
	if again := box.Seal("member:7", plain); bytes.Equal(again, sealed) {
		t.Errorf("two seals of the same value are equal: the nonce is not random")
	}
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	for _, tt := range []struct {
		name   string
		box    *seal.Box
		ad     string
		sealed []byte
	}{
		{"another member", box, "member:8", sealed},
		{"another secret", other, "member:7", sealed},
		{"damaged", box, "member:7", flipped},
		{"too short", box, "member:7", sealed[:20]},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := tt.box.Open(tt.ad, tt.sealed); !errors.Is(err, seal.ErrOpen) {
				t.Errorf("got %q, %v; want ErrOpen", got, err)
			}
		})
	}
	if _, err := seal.New(""); err == nil {
		t.Errorf("empty secret: got no error")
	}
}
