package contracts

// A stand-in for package server/memberkeys (branch keys), to be replaced by
// its Store when that merges: members' contract keys from the table
// member_deal_keys (made on first use, as server/deals makes them for
// proposals), or the member's own public key (PUT /api/v1/me/public-key),
// in which case the member signs through the API.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrOwnKey is returned by Sign when the member holds their own key
// (memberkeys.ErrOwnKey once that package merges).
var ErrOwnKey = errors.New("memberkeys: the member holds their own key")

// PlainKeys is the stand-in Keys over member_deal_keys.
type PlainKeys struct{ pool *pgxpool.Pool }

// NewPlainKeys returns the stand-in key store on pool.
func NewPlainKeys(pool *pgxpool.Pool) PlainKeys { return PlainKeys{pool: pool} }

// Key implements Keys.
func (k PlainKeys) Key(ctx context.Context, username string) (ed25519.PublicKey, bool, error) {
	id, own, err := k.member(ctx, username)
	if err != nil {
		return nil, false, err
	}
	if own != nil {
		return own, true, nil
	}
	pub, _, err := k.pair(ctx, id)
	return pub, false, err
}

// Sign implements Keys.
func (k PlainKeys) Sign(ctx context.Context, username string, msg []byte) ([]byte, error) {
	id, own, err := k.member(ctx, username)
	if err != nil {
		return nil, err
	}
	if own != nil {
		return nil, ErrOwnKey
	}
	_, priv, err := k.pair(ctx, id)
	if err != nil {
		return nil, err
	}
	return ed25519.Sign(priv, msg), nil
}

func (k PlainKeys) member(ctx context.Context, username string) (int64, ed25519.PublicKey, error) {
	var id int64
	var own []byte
	err := k.pool.QueryRow(ctx, `SELECT id, public_key FROM members WHERE username = $1`, username).Scan(&id, &own)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, refuse(CodeNotFound, "there is no member %q", username)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("contracts: member key: %w", err)
	}
	if len(own) == ed25519.PublicKeySize {
		return id, ed25519.PublicKey(own), nil
	}
	return id, nil, nil
}

func (k PlainKeys) pair(ctx context.Context, id int64) (ed25519.PublicKey, ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("contracts: member key: %w", err)
	}
	var sp, spriv []byte
	err = k.pool.QueryRow(ctx, `
		INSERT INTO member_deal_keys (member_id, public_key, private_key) VALUES ($1, $2, $3)
		ON CONFLICT ON CONSTRAINT member_deal_keys_pkey DO UPDATE SET member_id = EXCLUDED.member_id
		RETURNING public_key, private_key`, id, []byte(pub), []byte(priv)).Scan(&sp, &spriv)
	if err != nil {
		return nil, nil, fmt.Errorf("contracts: member key: %w", err)
	}
	return ed25519.PublicKey(sp), ed25519.PrivateKey(spriv), nil
}
