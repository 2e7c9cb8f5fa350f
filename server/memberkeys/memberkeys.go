// Package memberkeys holds the members' contract keys: the Ed25519 keys
// that sign sxp-contract/1 promises (design.md, "Deals and contracts").
//
// Each member has one key, made when they register (and, for members made
// before keys existed, at the server's start). The server holds its private
// key, sealed at rest with AES-256-GCM under the server's sealing secret
// (SXP_FEDERATION_SECRET, the secret that seals the server's federation
// keys) and bound to the member id, so a sealed key copied to another
// member's row does not open. A member may instead register their own
// public key: the server's private key is then destroyed, and the member
// signs their promises themselves (Sign answers ErrOwnKey).
//
// Without a secret the same rule holds as for the federation keys: keys
// are stored unsealed (and readable), and sealed at the first start with a
// secret (Ensure). A key sealed under a secret needs that secret to sign;
// without it Sign fails with an error that names the setting.
package memberkeys

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/ledger/seal"
)

// Error codes, safe to show to a client (the HTTP layer maps each).
const (
	CodeInvalid  = "invalid"   // a bad public key
	CodeNotFound = "not_found" // no such member, or no key
	CodeOwnKey   = "own_key"   // the member holds their own key: they sign
)

// Codes lists every code, for the HTTP layer's table and its test.
func Codes() []string { return []string{CodeInvalid, CodeNotFound, CodeOwnKey} }

// Error is a refusal of this package.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return "memberkeys: " + e.Code + ": " + e.Message }

// The sentinels of Sign (and Key, for ErrNoKey): compare with errors.Is.
var (
	ErrOwnKey = &Error{Code: CodeOwnKey, Message: "the member registered their own key: they sign their promises themselves"}
	ErrNoKey  = &Error{Code: CodeNotFound, Message: "no such member, or the member has no contract key"}
)

// Store is the members' contract keys of one community server.
type Store struct {
	pool    *pgxpool.Pool
	box     *seal.Box // nil without a secret
	now     func() time.Time
	changed func(ctx context.Context, tx pgx.Tx, memberID int64) error
}

// OnChange sets f to run in the transaction that changes a member's public
// key (SetOwn): the server republishes the member's want lists, which carry
// it. Set it once, before use.
func (s *Store) OnChange(f func(ctx context.Context, tx pgx.Tx, memberID int64) error) { s.changed = f }

// New returns the store on pool; secret is the server's sealing secret
// (SXP_FEDERATION_SECRET), "" when none is configured.
func New(pool *pgxpool.Pool, secret string) (*Store, error) {
	s := &Store{pool: pool, now: time.Now}
	if secret != "" {
		box, err := seal.New(secret)
		if err != nil {
			return nil, fmt.Errorf("memberkeys: %w", err)
		}
		s.box = box
	}
	return s, nil
}

// ad binds a sealed private key to its member ("member:" is in no
// federation keyid, which are URLs, so neither opens as the other).
func ad(memberID int64) string { return "member:" + strconv.FormatInt(memberID, 10) }

// Info is what a member (or an admin) may see of a key.
type Info struct {
	Key         ed25519.PublicKey
	Own         bool
	Fingerprint string // Fingerprint(Key)
	UpdatedAt   time.Time
}

// Fingerprint is a short form of a public key to compare by eye: the first
// 16 bytes of its SHA-256, in hex, in groups of four.
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	h := hex.EncodeToString(sum[:16])
	var b bytes.Buffer
	for i := 0; i < len(h); i += 4 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+4])
	}
	return b.String()
}

// Key returns the member's contract public key; own says whether the
// member registered it (and signs themselves). An unknown member is ErrNoKey.
func (s *Store) Key(ctx context.Context, username string) (pub ed25519.PublicKey, own bool, err error) {
	info, err := s.Info(ctx, username)
	if err != nil {
		return nil, false, err
	}
	return info.Key, info.Own, nil
}

// Info returns the member's key with its fingerprint. A member that has
// none yet (made before keys existed, and Ensure has not run) gets one now.
func (s *Store) Info(ctx context.Context, username string) (Info, error) {
	var info Info
	var pub []byte
	var id int64
	err := s.pool.QueryRow(ctx, `
		SELECT m.id, k.public_key, coalesce(k.own, false), coalesce(k.updated_at, now())
		  FROM members m LEFT JOIN member_deal_keys k ON k.member_id = m.id
		 WHERE m.username = $1`, username).Scan(&id, &pub, &info.Own, &info.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Info{}, fmt.Errorf("%w (%s)", ErrNoKey, username)
	}
	if err != nil {
		return Info{}, fmt.Errorf("memberkeys: key of %s: %w", username, err)
	}
	if pub == nil {
		if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return s.Make(ctx, tx, id) }); err != nil {
			return Info{}, err
		}
		return s.Info(ctx, username)
	}
	info.Key = ed25519.PublicKey(pub)
	info.Fingerprint = Fingerprint(info.Key)
	return info, nil
}

// Sign signs msg with the member's server-held key. It answers ErrOwnKey
// when the member holds their own key, ErrNoKey for an unknown member.
func (s *Store) Sign(ctx context.Context, username string, msg []byte) ([]byte, error) {
	var id int64
	var pub, priv []byte
	var sealed, own bool
	err := s.pool.QueryRow(ctx, `
		SELECT m.id, k.public_key, k.private_key, k.sealed, k.own
		  FROM members m JOIN member_deal_keys k ON k.member_id = m.id
		 WHERE m.username = $1`, username).Scan(&id, &pub, &priv, &sealed, &own)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w (%s)", ErrNoKey, username)
	}
	if err != nil {
		return nil, fmt.Errorf("memberkeys: sign for %s: %w", username, err)
	}
	if own {
		return nil, ErrOwnKey
	}
	key, err := s.private(id, pub, priv, sealed)
	if err != nil {
		return nil, err
	}
	return ed25519.Sign(key, msg), nil
}

// private opens a stored private key and checks it against its public key.
func (s *Store) private(id int64, pub, stored []byte, sealed bool) (ed25519.PrivateKey, error) {
	priv := stored
	if sealed {
		if s.box == nil {
			return nil, errors.New("memberkeys: the member's key is sealed: set SXP_FEDERATION_SECRET (--federation-secret)")
		}
		var err error
		if priv, err = s.box.Open(ad(id), stored); err != nil {
			return nil, fmt.Errorf("memberkeys: cannot open the key of member %d (wrong SXP_FEDERATION_SECRET?): %w", id, err)
		}
	}
	if len(priv) != ed25519.PrivateKeySize || !bytes.Equal(ed25519.PrivateKey(priv).Public().(ed25519.PublicKey), pub) {
		return nil, fmt.Errorf("memberkeys: the stored key of member %d does not match its public key", id)
	}
	return ed25519.PrivateKey(priv), nil
}

// ParseOwnKey checks a public key a member registers: 32 bytes, not all
// zero.
func ParseOwnKey(pub []byte) (ed25519.PublicKey, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, &Error{Code: CodeInvalid, Message: fmt.Sprintf("an Ed25519 public key has %d bytes, this one has %d", ed25519.PublicKeySize, len(pub))}
	}
	if bytes.Equal(pub, make([]byte, ed25519.PublicKeySize)) {
		return nil, &Error{Code: CodeInvalid, Message: "the all-zero key is not a public key"}
	}
	return ed25519.PublicKey(bytes.Clone(pub)), nil
}

// SetOwn registers the member's own public key: from now on the member
// signs, and the server's private key is destroyed (overwritten in the same
// row). Registering again replaces it.
func (s *Store) SetOwn(ctx context.Context, username string, pub ed25519.PublicKey) error {
	key, err := ParseOwnKey(pub)
	if err != nil {
		return err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("memberkeys: set own key of %s: %w", username, err)
	}
	defer tx.Rollback(ctx)
	var id int64
	err = tx.QueryRow(ctx, `
		INSERT INTO member_deal_keys (member_id, public_key, private_key, sealed, own, created_at, updated_at)
		SELECT id, $2, NULL, false, true, $3, $3 FROM members WHERE username = $1
		ON CONFLICT ON CONSTRAINT member_deal_keys_pkey DO UPDATE
		   SET public_key = EXCLUDED.public_key, private_key = NULL, sealed = false, own = true,
		       updated_at = EXCLUDED.updated_at
		RETURNING member_id`, username, []byte(key), s.now()).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w (%s)", ErrNoKey, username)
	}
	if err != nil {
		return fmt.Errorf("memberkeys: set own key of %s: %w", username, err)
	}
	if s.changed != nil {
		if err := s.changed(ctx, tx, id); err != nil {
			return fmt.Errorf("memberkeys: set own key of %s: %w", username, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("memberkeys: set own key of %s: %w", username, err)
	}
	return nil
}

// Make gives member id a server-held key in tx when they have none (the
// registration's transaction calls it); a member with a key keeps it.
func (s *Store) Make(ctx context.Context, tx pgx.Tx, id int64) error {
	_, err := s.make(ctx, tx, id)
	return err
}

// make is Make, saying whether it made the key (false: the member had one).
func (s *Store) make(ctx context.Context, tx pgx.Tx, id int64) (bool, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return false, fmt.Errorf("memberkeys: make key: %w", err)
	}
	stored, sealed := []byte(priv), false
	if s.box != nil {
		stored, sealed = s.box.Seal(ad(id), priv), true
	}
	now := s.now()
	tag, err := tx.Exec(ctx, `
		INSERT INTO member_deal_keys (member_id, public_key, private_key, sealed, own, created_at, updated_at)
		VALUES ($1, $2, $3, $4, false, $5, $5)
		ON CONFLICT ON CONSTRAINT member_deal_keys_pkey DO NOTHING`, id, []byte(pub), stored, sealed, now)
	if err != nil {
		return false, fmt.Errorf("memberkeys: make key of member %d: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Ensured says what Ensure did.
type Ensured struct {
	Made   int // keys made for members that had none
	Sealed int // unsealed keys sealed
}

// Ensure, at the server's start, makes a key for every member that has
// none and, with a secret, seals every key stored unsealed (made without a
// secret, or by migration 000011). It is idempotent: run twice, the second
// run does nothing; two servers running it at once do each thing once.
func (s *Store) Ensure(ctx context.Context) (Ensured, error) {
	var done Ensured
	rows, err := s.pool.Query(ctx, `
		SELECT m.id FROM members m
		 WHERE NOT EXISTS (SELECT 1 FROM member_deal_keys k WHERE k.member_id = m.id) ORDER BY m.id`)
	if err != nil {
		return done, fmt.Errorf("memberkeys: ensure: %w", err)
	}
	missing, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return done, fmt.Errorf("memberkeys: ensure: %w", err)
	}
	for _, id := range missing {
		var made bool
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) (err error) {
			made, err = s.make(ctx, tx, id)
			return err
		})
		if err != nil {
			return done, err
		}
		if made {
			done.Made++
		}
	}
	if s.box == nil {
		return done, nil
	}
	rows, err = s.pool.Query(ctx, `SELECT member_id FROM member_deal_keys WHERE NOT sealed AND NOT own ORDER BY member_id`)
	if err != nil {
		return done, fmt.Errorf("memberkeys: ensure: %w", err)
	}
	unsealed, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return done, fmt.Errorf("memberkeys: ensure: %w", err)
	}
	for _, id := range unsealed {
		n, err := s.sealOne(ctx, id)
		if err != nil {
			return done, err
		}
		done.Sealed += n
	}
	return done, nil
}

// sealOne seals member id's key if it is still unsealed (locked: another
// server sealing it at the same time seals it once).
func (s *Store) sealOne(ctx context.Context, id int64) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var pub, priv []byte
		err := tx.QueryRow(ctx, `SELECT public_key, private_key FROM member_deal_keys
			WHERE member_id = $1 AND NOT sealed AND NOT own FOR UPDATE`, id).Scan(&pub, &priv)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // sealed or replaced meanwhile
		}
		if err != nil {
			return err
		}
		key, err := s.private(id, pub, priv, false)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE member_deal_keys SET private_key = $2, sealed = true, updated_at = $3 WHERE member_id = $1`,
			id, s.box.Seal(ad(id), key), s.now()); err != nil {
			return err
		}
		n = 1
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("memberkeys: seal the key of member %d: %w", id, err)
	}
	return n, nil
}
