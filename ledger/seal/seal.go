// Package seal keeps secrets at rest: AES-256-GCM under a key derived from a
// server's secret (SHA-256 of it), each sealed value bound to what it
// belongs to (additional data), so a value copied to another row does not
// open. A sealed value is the random 12-byte nonce followed by the
// ciphertext and its tag. The community server seals its federation keys
// and its members' contract keys with it, under SXP_FEDERATION_SECRET.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// ErrOpen is returned when a sealed value does not open: a wrong secret, a
// value bound to something else, or a damaged value.
var ErrOpen = errors.New("seal: cannot open (wrong secret, or the value belongs to something else)")

// Box seals and opens values under one secret.
type Box struct {
	aead cipher.AEAD
}

// New returns the box of secret; an empty secret is an error (callers keep
// a nil *Box to mean "no secret configured").
func New(secret string) (*Box, error) {
	if secret == "" {
		return nil, errors.New("seal: empty secret")
	}
	sum := sha256.Sum256([]byte(secret))
	block, err := aes.NewCipher(sum[:])
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plain, bound to ad.
func (b *Box) Seal(ad string, plain []byte) []byte {
	nonce := make([]byte, b.aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails on supported platforms
	return b.aead.Seal(nonce, nonce, plain, []byte(ad))
}

// Open decrypts a value Seal made with the same secret and ad.
func (b *Box) Open(ad string, sealed []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < n+b.aead.Overhead() {
		return nil, ErrOpen
	}
	plain, err := b.aead.Open(nil, sealed[:n], sealed[n:], []byte(ad))
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}
