package federation

// What joining an intertrading circle needs of the federation service
// (intertrade.Joiner): the server's Ed25519 key signs the request to join
// and its polls (the same key, also after a rotation, while it is listed), the server's secret seals what the circle sends at rest,
// and once joined the discovery document names the circle.

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
)

// circleState is the circle learned while serving (JoinedCircle), which
// takes the place of Config's CircleID and CircleURL.
type circleState struct {
	mu       sync.Mutex
	id, url  string
	hasValue bool
}

// JoinedCircle records that the server joined circle id at url while
// serving: CircleID and the discovery document name it from now on.
func (s *Service) JoinedCircle(id, url string) {
	s.circle.mu.Lock()
	defer s.circle.mu.Unlock()
	s.circle.id, s.circle.url, s.circle.hasValue = id, url, true
}

// circleOf is the server's circle: the one joined while serving, else the configured one.
func (s *Service) circleOf() (id, url string) {
	s.circle.mu.Lock()
	defer s.circle.mu.Unlock()
	if s.circle.hasValue {
		return s.circle.id, s.circle.url
	}
	return s.cfg.CircleID, s.cfg.CircleURL
}

// CurrentKey is the server's current key.
func (s *Service) CurrentKey(ctx context.Context) (Key, error) {
	keys, err := s.Keys(ctx)
	if err != nil {
		return Key{}, err
	}
	if len(keys) == 0 || keys[0].RetiresAt != nil {
		return Key{}, errors.New("federation: the server has no current key (start the server once)")
	}
	return keys[0], nil
}

// SignAs signs req (with its exact body) with the server's key keyID, the
// current one or one still listed in its rotation overlap.
func (s *Service) SignAs(ctx context.Context, keyID string, req *http.Request, body []byte) error {
	var priv []byte
	var sealed bool
	err := s.pool.QueryRow(ctx, `SELECT private_key, sealed FROM federation_keys
		WHERE keyid = $1 AND (retires_at IS NULL OR retires_at > $2)`, keyID, s.now()).Scan(&priv, &sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("federation: the server no longer has the key %s", keyID)
	}
	if err != nil {
		return fmt.Errorf("federation: signing key: %w", err)
	}
	if sealed {
		if priv, err = s.open(keyID, priv); err != nil {
			return err
		}
	}
	return httpsig.Signer{KeyID: keyID, Alg: httpsig.AlgEd25519, Ed25519Key: ed25519.PrivateKey(priv), Label: Label, Now: s.now}.Sign(req, body)
}

// SealSecret seals plain under the server's secret (SXP_FEDERATION_SECRET),
// bound to ad, as the server's private keys are; without a secret it is
// kept as is (sealed false), as they are.
func (s *Service) SealSecret(ad string, plain []byte) (out []byte, sealed bool) {
	if s.box == nil {
		return plain, false
	}
	return s.box.Seal(ad, plain), true
}

// OpenSecret opens what SealSecret returned.
func (s *Service) OpenSecret(ad string, b []byte, sealed bool) ([]byte, error) {
	if !sealed {
		return b, nil
	}
	if s.box == nil {
		return nil, errors.New("federation: a secret is sealed: set SXP_FEDERATION_SECRET (--federation-secret)")
	}
	plain, err := s.box.Open(ad, b)
	if err != nil {
		return nil, errors.New("federation: cannot open a sealed secret (wrong SXP_FEDERATION_SECRET?)")
	}
	return plain, nil
}
