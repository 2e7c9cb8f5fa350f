package federation

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
)

// The refusal codes of the federation domain; their HTTP statuses are in the
// server's error table (sxp-fed/1 fixes 401 for a missing or bad signature,
// 403 for a non-peer).
const (
	CodeBadSignature    = "bad_signature"
	CodeNotPeer         = "not_a_peer"
	CodeInvalid         = "invalid"
	CodeNotFound        = "not_found"
	CodeConflict        = "conflict"
	CodeForeignOrigin   = "foreign_origin"
	CodePeerUnreachable = "peer_unreachable"
	CodePeerRefused     = "peer_refused"
	CodeTooManyRequests = "too_many_requests"
)

// Codes lists every refusal code of the federation domain.
func Codes() []string {
	return []string{CodeBadSignature, CodeNotPeer, CodeInvalid, CodeNotFound, CodeConflict,
		CodeForeignOrigin, CodePeerUnreachable, CodePeerRefused, CodeTooManyRequests}
}

// Authenticate verifies a signed request from an active peer and returns the
// peer. body is the exact body read. Refusals are *Error: no or malformed
// signature → 401; a keyid whose server is not an active peer → 403, before
// anything else is checked; a signature that does not verify with the peer's
// pinned keys, created more than 300 s off, or a replayed nonce → 401.
// A keyid the peer's pinned keys do not hold makes it refetch the peer's
// /.well-known/sxp once (at most every 30 s) before refusing.
func (s *Service) Authenticate(ctx context.Context, req *http.Request, body []byte) (Peer, error) {
	base, _, err := signerOf(req)
	if err != nil {
		return Peer{}, err
	}
	p, err := s.Peer(ctx, base)
	var e *Error
	if errors.As(err, &e) && e.Code == CodeNotFound || err == nil && p.State != StateActive {
		return Peer{}, refuse(CodeNotPeer, "%s is not an active peer of this server", base)
	}
	if err != nil {
		return Peer{}, err
	}
	v := s.verifier(peerKeys{s: s, peer: p})
	if _, err := v.Verify(ctx, req, body); err != nil {
		return Peer{}, signatureError(err)
	}
	return p, nil
}

// AuthenticatePeering verifies the signed peering request
// (POST /federation/v1/peers) against the sender's own /.well-known/sxp:
// the sender need not be a peer yet.
func (s *Service) AuthenticatePeering(ctx context.Context, req *http.Request, body []byte) (Discovery, map[string]ed25519.PublicKey, error) {
	base, _, err := signerOf(req)
	if err != nil {
		return Discovery{}, nil, err
	}
	if base == s.cfg.BaseURL {
		return Discovery{}, nil, refuse(CodeNotPeer, "a server does not peer with itself")
	}
	d, keys, err := s.fetchDiscovery(ctx, base)
	if err != nil {
		return Discovery{}, nil, refuse(CodeBadSignature, "cannot verify the signature: %v", err)
	}
	v := s.verifier(httpsig.StaticPublicKeys(keys))
	if _, err := v.Verify(ctx, req, body); err != nil {
		return Discovery{}, nil, signatureError(err)
	}
	return d, keys, nil
}

// signerOf reads the keyid of the sxp signature and the server it names.
func signerOf(req *http.Request) (base, keyID string, err error) {
	keyID, err = httpsig.SignatureKeyID(req, Label)
	if err != nil {
		return "", "", signatureError(err)
	}
	b, _, ok := strings.Cut(keyID, "#")
	if !ok {
		return "", "", refuse(CodeBadSignature, "keyid %q must be <base_url>#<key name>", keyID)
	}
	base, nerr := NormalizeURL(b)
	if nerr != nil {
		return "", "", refuse(CodeBadSignature, "keyid %q must be <base_url>#<key name>", keyID)
	}
	return base, keyID, nil
}

func (s *Service) verifier(keys httpsig.PublicKeyStore) httpsig.Verifier {
	return httpsig.Verifier{PublicKeys: keys, Nonces: nonceStore{s}, Now: s.now, Window: httpsig.DefaultWindow,
		BaseURL: s.cfg.BaseURL, Label: Label}
}

// signatureError turns a verifier's refusal into a 401 (sxp-fed/1: malformed,
// stale, unknown key, mismatch and replay alike); other errors pass.
func signatureError(err error) error {
	var he *httpsig.Error
	if !errors.As(err, &he) {
		return err
	}
	msg := "the request's signature does not verify"
	switch he.Kind {
	case httpsig.KindMalformed:
		if he.Reason != "" {
			msg = "bad signature data: " + he.Reason
		}
	case httpsig.KindStale:
		msg = "the signature's created is outside the window"
	case httpsig.KindReplayed:
		msg = "the signature's nonce was seen before"
	case httpsig.KindUnknownKey:
		msg = "the signature names a key this server does not know"
	}
	return refuse(CodeBadSignature, "%s", msg)
}

// peerKeys is the PublicKeyStore of one active peer: its pinned keys.
type peerKeys struct {
	s    *Service
	peer Peer
}

// unknownKeys remembers keyids that a refetch of their server's
// /.well-known/sxp did not list, so that a stream of made-up keyids does not
// make this server fetch it again and again: each unknown keyid is fetched
// for once per unknownKeyTTL, and at most maxUnknownKeys are remembered
// (beyond that, unknown keyids are refused without a fetch).
type unknownKeys struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

const (
	unknownKeyTTL  = 5 * time.Minute
	maxUnknownKeys = 1000
)

// shouldFetch reports whether keyID may trigger a refetch now.
func (u *unknownKeys) shouldFetch(keyID string, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.seen == nil {
		u.seen = map[string]time.Time{}
	}
	for k, t := range u.seen {
		if now.Sub(t) > unknownKeyTTL {
			delete(u.seen, k)
		}
	}
	if _, ok := u.seen[keyID]; ok || len(u.seen) >= maxUnknownKeys {
		return false
	}
	return true
}

func (u *unknownKeys) remember(keyID string, now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.seen[keyID] = now
}

func (k peerKeys) PublicKey(ctx context.Context, keyID string) (ed25519.PublicKey, error) {
	pub, err := k.lookup(ctx, keyID)
	if err != nil || pub != nil {
		return pub, err
	}
	now := k.s.now()
	if k.s.unknown.shouldFetch(keyID, now) {
		if err := k.s.RefreshKeys(ctx, k.peer.BaseURL); err != nil {
			k.s.log.Warn("federation: refreshing a peer's keys", "peer", k.peer.BaseURL, "err", err)
		} else if pub, err = k.lookup(ctx, keyID); err != nil || pub != nil {
			return pub, err
		}
		k.s.unknown.remember(keyID, now)
	}
	return nil, &httpsig.Error{Kind: httpsig.KindUnknownKey, Reason: "unknown keyid " + keyID}
}

func (k peerKeys) lookup(ctx context.Context, keyID string) (ed25519.PublicKey, error) {
	var pub []byte
	err := k.s.pool.QueryRow(ctx, `SELECT public_key FROM federation_peer_keys WHERE keyid = $1 AND peer_id = $2`, keyID, k.peer.ID).Scan(&pub)
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil
		}
		return nil, fmt.Errorf("federation: peer keys: %w", err)
	}
	return pub, nil
}

// nonceStore keeps the nonces of federation requests in PostgreSQL.
type nonceStore struct{ s *Service }

func (n nonceStore) Remember(ctx context.Context, keyID, nonce string, until time.Time) (bool, error) {
	tag, err := n.s.pool.Exec(ctx, `INSERT INTO federation_nonces (keyid, nonce, until) VALUES ($1, $2, $3)
		ON CONFLICT ON CONSTRAINT federation_nonces_pkey DO UPDATE SET until = EXCLUDED.until
		WHERE federation_nonces.until < $4`, keyID, nonce, until, n.s.now())
	if err != nil {
		return false, fmt.Errorf("federation: nonce: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// PruneNonces deletes nonces whose window has ended.
func (s *Service) PruneNonces(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM federation_nonces WHERE until < $1`, s.now())
	return err
}
