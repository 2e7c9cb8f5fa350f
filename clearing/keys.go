package clearing

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/clearing/cxp"
)

// A community's key is an HMAC secret. Verifying a signature and signing a
// relay both need the secret itself, so it cannot be stored hashed: it is
// sealed with AES-256-GCM under the server secret (SXP_CLEARING_SECRET) and
// bound to its community id as additional data, so a sealed key copied to
// another community's row does not open.

// newKey makes a fresh key: 32 random bytes, base64url without padding.
// Its UTF-8 bytes are the HMAC key.
func newKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("clearing: new key: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func fingerprint(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:8])
}

func (h *House) seal(communityID, key string) ([]byte, error) {
	if h.aead == nil {
		return nil, errNoSecret
	}
	nonce := make([]byte, h.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("clearing: seal key: %w", err)
	}
	return h.aead.Seal(nonce, nonce, []byte(key), []byte(communityID)), nil
}

func (h *House) open(communityID string, sealed []byte) ([]byte, error) {
	if h.aead == nil {
		return nil, errNoSecret
	}
	n := h.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("clearing: sealed key too short")
	}
	key, err := h.aead.Open(nil, sealed[:n], sealed[n:], []byte(communityID))
	if err != nil {
		return nil, fmt.Errorf("clearing: cannot open the key of %s (wrong SXP_CLEARING_SECRET?)", communityID)
	}
	return key, nil
}

func (h *House) insertKey(ctx context.Context, q querier, communityID, key string, now time.Time) error {
	sealed, err := h.seal(communityID, key)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `INSERT INTO clearing_keys (community_id, sealed, fingerprint, created_at) VALUES ($1, $2, $3, $4)`,
		communityID, sealed, fingerprint(key), now)
	if err != nil {
		return fmt.Errorf("clearing: store key: %w", err)
	}
	return nil
}

// KeyInfo describes one stored key without the secret.
type KeyInfo struct {
	ID          int64      `json:"id"`
	Fingerprint string     `json:"fingerprint"`
	CreatedAt   time.Time  `json:"created_at"`
	RetiresAt   *time.Time `json:"retires_at,omitempty"`
}

// RotateKey issues a new key for a community. The current key keeps
// verifying for overlap (older retired keys are cut to the same deadline at
// the latest), so the community can switch without a gap.
func (h *House) RotateKey(ctx context.Context, actor, id string, overlap time.Duration) (string, error) {
	defer h.changed()
	if overlap < 0 {
		return "", invalid("overlap", "must not be negative")
	}
	if err := h.CheckSecret(ctx); err != nil {
		return "", err
	}
	key, err := newKey()
	if err != nil {
		return "", err
	}
	err = h.ledger.InTx(ctx, func(tx *ledgerTx) error {
		if _, err := h.lockCommunity(ctx, tx, id); err != nil {
			return err
		}
		q := tx.Conn()
		now := h.now()
		retire := now.Add(overlap)
		before, err := h.keyInfos(ctx, q, id)
		if err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `UPDATE clearing_keys SET retires_at = $2
			WHERE community_id = $1 AND (retires_at IS NULL OR retires_at > $2)`, id, retire); err != nil {
			return fmt.Errorf("clearing: rotate key: %w", err)
		}
		if err := h.insertKey(ctx, q, id, key, now); err != nil {
			return err
		}
		after, err := h.keyInfos(ctx, q, id)
		if err != nil {
			return err
		}
		return audit(ctx, q, now, actor, "community.key_rotate", id, before, after)
	})
	if err != nil {
		return "", err
	}
	return key, nil
}

// Keys lists a community's keys that still verify, current first.
func (h *House) Keys(ctx context.Context, id string) ([]KeyInfo, error) {
	return h.keyInfos(ctx, h.pool, id)
}

func (h *House) keyInfos(ctx context.Context, q querier, id string) ([]KeyInfo, error) {
	rows, err := q.Query(ctx, `SELECT id, fingerprint, created_at, retires_at FROM clearing_keys
		WHERE community_id = $1 AND (retires_at IS NULL OR retires_at > $2) ORDER BY id DESC`, id, h.now())
	if err != nil {
		return nil, fmt.Errorf("clearing: keys: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (KeyInfo, error) {
		var k KeyInfo
		err := r.Scan(&k.ID, &k.Fingerprint, &k.CreatedAt, &k.RetiresAt)
		return k, err
	})
}

// keys returns a community's secrets that verify now, current first.
func (h *House) keys(ctx context.Context, q querier, id string) ([][]byte, error) {
	rows, err := q.Query(ctx, `SELECT sealed FROM clearing_keys
		WHERE community_id = $1 AND (retires_at IS NULL OR retires_at > $2) ORDER BY id DESC`, id, h.now())
	if err != nil {
		return nil, fmt.Errorf("clearing: keys: %w", err)
	}
	sealed, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("clearing: keys: %w", err)
	}
	out := make([][]byte, 0, len(sealed))
	for _, s := range sealed {
		k, err := h.open(id, s)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// currentKey is the key the clearing house signs relays to a community with.
func (h *House) currentKey(ctx context.Context, id string) ([]byte, error) {
	keys, err := h.verifyKeys(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("clearing: community %s has no key", id)
	}
	return keys[0], nil
}

// verifyKeys are a community's secrets that verify now, current first
// (from the cache), or an ErrNotFound *Error for an unknown community.
func (h *House) verifyKeys(ctx context.Context, id string) ([][]byte, error) {
	if h.aead == nil {
		if _, err := h.communityEntry(ctx, id); err != nil {
			return nil, err
		}
		return h.keys(ctx, h.pool, id) // says why no key opens
	}
	e, err := h.communityEntry(ctx, id)
	if err != nil {
		return nil, err
	}
	return e.secrets(h.now()), nil
}

// KeyStore is the httpsig.KeyStore of the clearing house: the key id of a
// request is the community id. Unknown communities are refused with code
// 16. A blocked community's keys still verify, so that its block is told
// (CheckCaller) only to a caller who proved to be it.
type KeyStore struct{ h *House }

// KeyStore returns the house's key store.
func (h *House) KeyStore() KeyStore { return KeyStore{h} }

// VerifyKeys returns the community's keys that verify now, current first.
func (s KeyStore) VerifyKeys(ctx context.Context, keyID string) ([][]byte, error) {
	if p := s.h.parent; p != nil && keyID == p.CircleID {
		return [][]byte{[]byte(p.Key)}, nil // relays from the parent circle
	}
	// Every CXP request starts here: a change committed before it holds.
	if err := s.h.fresh(ctx); err != nil {
		return nil, err
	}
	keys, err := s.h.verifyKeys(ctx, keyID)
	if errIsNotFound(err) {
		return nil, cxp.NewError(cxp.CodeNotPermitted, map[string]string{"keyid": keyID})
	}
	return keys, err
}

// CheckCaller is called once a request's signature verified: a blocked
// community is refused with code 16 and its block reason, and the attempt is
// recorded for monitoring. The parent circle (nesting) is always let in.
func (h *House) CheckCaller(ctx context.Context, keyID, route string) error {
	if h.parent != nil && keyID == h.parent.CircleID {
		return nil
	}
	e, err := h.communityEntry(ctx, keyID)
	if errIsNotFound(err) {
		return cxp.NewError(cxp.CodeNotPermitted, map[string]string{"keyid": keyID})
	}
	if err != nil {
		return fmt.Errorf("clearing: caller: %w", err)
	}
	if e.row.Status != StatusTrading {
		h.recordEvent(ctx, keyID, "blocked", cxp.CodeNotPermitted, route)
		return cxp.NewError(cxp.CodeNotPermitted, map[string]string{"keyid": keyID, "reason": e.row.BlockReason})
	}
	return nil
}

// NonceStore is the httpsig.NonceStore of the clearing house: nonces are kept in
// PostgreSQL until their window ends, so a replay is caught across restarts
// and across several clearing processes on one database.
type NonceStore struct{ h *House }

// NonceStore returns the house's nonce store.
func (h *House) NonceStore() NonceStore { return NonceStore{h} }

// Remember records nonce for keyID until the given time and reports whether
// it was fresh (not seen in an unexpired window).
func (s NonceStore) Remember(ctx context.Context, keyID, nonce string, until time.Time) (bool, error) {
	fresh := false
	err := s.h.nonces.InTx(ctx, func(ctx context.Context, tx *ledgerTx) error {
		var one int
		err := tx.Conn().QueryRow(ctx, `INSERT INTO clearing_nonces (key_id, nonce, until) VALUES ($1, $2, $3)
			ON CONFLICT ON CONSTRAINT clearing_nonces_pkey DO UPDATE SET until = EXCLUDED.until
			WHERE clearing_nonces.until < $4
			RETURNING 1`, keyID, nonce, until, s.h.now()).Scan(&one)
		fresh = err == nil
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("clearing: nonce: %w", err)
	}
	return fresh, nil
}

// PruneNonces deletes nonces whose window has ended.
func (h *House) PruneNonces(ctx context.Context) (int64, error) {
	tag, err := h.pool.Exec(ctx, `DELETE FROM clearing_nonces WHERE until < $1`, h.now())
	if err != nil {
		return 0, fmt.Errorf("clearing: prune nonces: %w", err)
	}
	return tag.RowsAffected(), nil
}

// PruneEvents deletes monitoring events older than keep.
func (h *House) PruneEvents(ctx context.Context, keep time.Duration) (int64, error) {
	tag, err := h.pool.Exec(ctx, `DELETE FROM clearing_events WHERE created_at < $1`, h.now().Add(-keep))
	if err != nil {
		return 0, fmt.Errorf("clearing: prune events: %w", err)
	}
	return tag.RowsAffected(), nil
}

// recordEvent notes a refusal or a blocked attempt for monitoring. It never
// fails the request: an error is logged.
func (h *House) recordEvent(ctx context.Context, communityID, kind string, code cxp.Code, route string) {
	var cid any
	if communityID != "" {
		cid = communityID
	}
	_, err := h.pool.Exec(ctx, `INSERT INTO clearing_events (community_id, kind, code, route, created_at) VALUES ($1, $2, $3, $4, $5)`,
		cid, kind, int(code), route, h.now())
	if err != nil {
		h.log.WarnContext(ctx, "clearing: record event", "err", err)
	}
}

// RecordReject notes a refused CXP request (for the reject-spike monitor).
func (h *House) RecordReject(ctx context.Context, communityID string, code cxp.Code, route string) {
	h.recordEvent(ctx, communityID, "reject", code, route)
}

// CheckSecret reports whether the house's secret opens the stored keys (it
// tries the oldest one), so that a wrong SXP_CLEARING_SECRET is caught
// before a key is sealed with it (AddCommunity and RotateKey call it). With
// no key stored any secret will do; with keys stored, no secret is an error.
func (h *House) CheckSecret(ctx context.Context) error {
	var id string
	var sealed []byte
	err := h.pool.QueryRow(ctx, `SELECT community_id, sealed FROM clearing_keys ORDER BY id LIMIT 1`).Scan(&id, &sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("clearing: check secret: %w", err)
	}
	if _, err := h.open(id, sealed); err != nil {
		return fmt.Errorf("clearing: the secret does not open the stored keys: %w", err)
	}
	return nil
}
