package federation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sxp-network/sxp/ledger"
)

// Peer states.
const (
	StateRequested = "requested" // the peer asked; our admin has not approved
	StateApproved  = "approved"  // our admin approved; the peer has not yet
	StateActive    = "active"    // both approved
	StateRefused   = "refused"   // our admin refused the peer's request
)

// MaxRequests bounds the peering requests waiting for the admin; more are
// answered 429 until the admin approves or refuses some.
const MaxRequests = 100

// Peer is another community server this one knows.
type Peer struct {
	ID             int64
	BaseURL        string
	CommunityID    string
	Name           string
	Currency       string
	CircleID       string
	State          string
	PushedSeq      int64
	PulledCursor   string
	Failures       int
	FailingSince   *time.Time
	PausedUntil    *time.Time
	LastDeliveryAt *time.Time
	LastError      string
	Keys           []string // pinned keyids
	Backlog        int64    // our events not yet delivered to it (active peers)
}

// Error is a refusal of the federation domain, safe to show.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

func refuse(code, format string, a ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, a...)}
}

const selectPeer = `
	SELECT p.id, p.base_url, p.community_id, p.name, p.currency, coalesce(p.circle_id, ''), p.state,
	       p.pushed_seq, p.pulled_cursor, p.failures, p.failing_since, p.paused_until, p.last_delivery_at,
	       p.last_error,
	       coalesce((SELECT array_agg(k.keyid ORDER BY k.keyid) FROM federation_peer_keys k WHERE k.peer_id = p.id), '{}'),
	       CASE WHEN p.state = 'active' THEN (SELECT count(*) FROM federation_events e WHERE e.seq > p.pushed_seq) ELSE 0 END
	  FROM federation_peers p`

func scanPeer(row pgx.CollectableRow) (Peer, error) {
	var p Peer
	err := row.Scan(&p.ID, &p.BaseURL, &p.CommunityID, &p.Name, &p.Currency, &p.CircleID, &p.State,
		&p.PushedSeq, &p.PulledCursor, &p.Failures, &p.FailingSince, &p.PausedUntil, &p.LastDeliveryAt,
		&p.LastError, &p.Keys, &p.Backlog)
	return p, err
}

// Peers lists every known peer, by base URL.
func (s *Service) Peers(ctx context.Context) ([]Peer, error) {
	rows, err := s.pool.Query(ctx, selectPeer+` ORDER BY p.base_url`)
	if err != nil {
		return nil, fmt.Errorf("federation: peers: %w", err)
	}
	list, err := pgx.CollectRows(rows, scanPeer)
	if err != nil {
		return nil, fmt.Errorf("federation: peers: %w", err)
	}
	return list, nil
}

// Peer returns the peer with base URL base.
func (s *Service) Peer(ctx context.Context, base string) (Peer, error) {
	rows, err := s.pool.Query(ctx, selectPeer+` WHERE p.base_url = $1`, base)
	if err != nil {
		return Peer{}, fmt.Errorf("federation: peer: %w", err)
	}
	list, err := pgx.CollectRows(rows, scanPeer)
	if err != nil {
		return Peer{}, fmt.Errorf("federation: peer: %w", err)
	}
	if len(list) == 0 {
		return Peer{}, refuse(CodeNotFound, "no peer %s", base)
	}
	return list[0], nil
}

// Add approves the server at rawURL as a peer (or approves its request): it
// fetches its /.well-known/sxp, pins its keys, and sends it the signed
// peering request. The peer is active when the other side had approved too.
// A peer that cannot be reached stays approved; Add again to retry.
func (s *Service) Add(ctx context.Context, rawURL string) (Peer, error) {
	base, err := NormalizeURL(rawURL)
	if err != nil {
		return Peer{}, refuse(CodeInvalid, "%v", err)
	}
	if base == s.cfg.BaseURL {
		return Peer{}, refuse(CodeInvalid, "%s is this server", base)
	}
	d, keys, err := s.fetchDiscovery(ctx, base)
	if err != nil {
		return Peer{}, refuse(CodePeerUnreachable, "%v", err)
	}
	if err := s.pin(ctx, d, keys, StateApproved); err != nil {
		return Peer{}, err
	}
	s.wake.notify()
	body, _ := json.Marshal(map[string]string{"base_url": s.cfg.BaseURL})
	status, answer, err := s.call(ctx, http.MethodPost, base+"/federation/v1/peers", body)
	if err != nil {
		p, _ := s.Peer(ctx, base)
		return p, refuse(CodePeerUnreachable, "approved %s, but telling it failed: %v", base, err)
	}
	var st struct {
		State string `json:"state"`
	}
	_ = json.Unmarshal(answer, &st)
	switch {
	case status == http.StatusOK && st.State == StateActive:
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `UPDATE federation_peers SET state = 'active', updated_at = $2 WHERE base_url = $1`, base, s.now()); err != nil {
				return err
			}
			return notifyPeers(ctx, tx)
		})
		if err != nil {
			return Peer{}, fmt.Errorf("federation: add peer: %w", err)
		}
		s.wake.notify()
	case status == http.StatusAccepted:
	default:
		p, _ := s.Peer(ctx, base)
		return p, refuse(CodePeerRefused, "approved %s, but it answered %d: %s", base, status, ledger.Truncate(string(answer), 200))
	}
	return s.Peer(ctx, base)
}

// pin stores d and its keys; a new peer gets state, an existing one moves to
// it unless it is active (then it stays so).
func (s *Service) pin(ctx context.Context, d Discovery, keys map[string]ed25519.PublicKey, state string) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("federation: pin peer: %w", err)
	}
	defer tx.Rollback(ctx)
	var circleID, circleURL *string
	if d.Circle != nil {
		circleID, circleURL = &d.Circle.ID, &d.Circle.URL
	}
	now := s.now()
	var id int64
	err = tx.QueryRow(ctx, `
		INSERT INTO federation_peers (base_url, community_id, name, currency, circle_id, circle_url, state, keys_fetched_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
		ON CONFLICT ON CONSTRAINT federation_peers_base_url_key DO UPDATE
		   SET community_id = EXCLUDED.community_id, name = EXCLUDED.name, currency = EXCLUDED.currency,
		       circle_id = EXCLUDED.circle_id, circle_url = EXCLUDED.circle_url, keys_fetched_at = EXCLUDED.keys_fetched_at,
		       updated_at = EXCLUDED.updated_at, paused_until = NULL,
		       state = CASE WHEN federation_peers.state = 'active' THEN 'active' ELSE EXCLUDED.state END
		RETURNING id`, d.BaseURL, ledger.Truncate(d.ID, 63), ledger.Truncate(d.Name, 200), ledger.Truncate(d.Currency, 12), circleID, circleURL, state, now).Scan(&id)
	if err != nil {
		return fmt.Errorf("federation: pin peer: %w", err)
	}
	if err := replaceKeys(ctx, tx, id, keys); err != nil {
		return err
	}
	if err := notifyPeers(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("federation: pin peer: %w", err)
	}
	return nil
}

// notifyPeers wakes the delivery worker of every process on the database on
// commit (the command line changes peers beside a running server).
func notifyPeers(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SELECT pg_notify('federation_events', '')`); err != nil {
		return fmt.Errorf("federation: notify: %w", err)
	}
	return nil
}

func replaceKeys(ctx context.Context, tx pgx.Tx, peerID int64, keys map[string]ed25519.PublicKey) error {
	if _, err := tx.Exec(ctx, `DELETE FROM federation_peer_keys WHERE peer_id = $1`, peerID); err != nil {
		return fmt.Errorf("federation: pin keys: %w", err)
	}
	for id, k := range keys {
		// A keyid names its server, so it cannot belong to another peer; a
		// stale row of a removed peer is replaced.
		if _, err := tx.Exec(ctx, `INSERT INTO federation_peer_keys (keyid, peer_id, public_key) VALUES ($1, $2, $3)
			ON CONFLICT ON CONSTRAINT federation_peer_keys_pkey DO UPDATE SET peer_id = EXCLUDED.peer_id, public_key = EXCLUDED.public_key, pinned_at = now()`,
			id, peerID, []byte(k)); err != nil {
			return fmt.Errorf("federation: pin keys: %w", err)
		}
	}
	return nil
}

// RefreshKeys refetches an active or approved peer's keys from its
// /.well-known/sxp: new keys are pinned, keys it no longer lists stop verifying.
func (s *Service) RefreshKeys(ctx context.Context, base string) error {
	p, err := s.Peer(ctx, base)
	if err != nil {
		return err
	}
	d, keys, err := s.fetchDiscovery(ctx, base)
	if err != nil {
		return err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("federation: refresh keys: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `UPDATE federation_peers SET keys_fetched_at = $2, name = $3 WHERE id = $1`, p.ID, s.now(), ledger.Truncate(d.Name, 200)); err != nil {
		return fmt.Errorf("federation: refresh keys: %w", err)
	}
	if err := replaceKeys(ctx, tx, p.ID, keys); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// Refuse refuses a peer's request (or stops an approved peer before it answered).
func (s *Service) Refuse(ctx context.Context, rawURL string) (Peer, error) {
	base, err := NormalizeURL(rawURL)
	if err != nil {
		return Peer{}, refuse(CodeInvalid, "%v", err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE federation_peers SET state = 'refused', updated_at = $2 WHERE base_url = $1 AND state <> 'active'`, base, s.now())
	if err != nil {
		return Peer{}, fmt.Errorf("federation: refuse peer: %w", err)
	}
	if tag.RowsAffected() == 0 {
		p, err := s.Peer(ctx, base)
		if err != nil {
			return Peer{}, err
		}
		return p, refuse(CodeConflict, "%s is an active peer: remove it instead", base)
	}
	return s.Peer(ctx, base)
}

// Remove ends peering with the server at rawURL: it tells the peer with a
// signed DELETE /federation/v1/peers (a failure to do so is returned after
// the removal, as told), forgets it, and drops its announcements.
func (s *Service) Remove(ctx context.Context, rawURL string) (told error, err error) {
	base, err := NormalizeURL(rawURL)
	if err != nil {
		return nil, refuse(CodeInvalid, "%v", err)
	}
	p, err := s.Peer(ctx, base)
	if err != nil {
		return nil, err
	}
	if p.State == StateActive || p.State == StateApproved {
		status, answer, cerr := s.call(ctx, http.MethodDelete, base+"/federation/v1/peers", nil)
		if cerr != nil {
			told = cerr
		} else if status != http.StatusOK {
			told = fmt.Errorf("%s answered %d: %s", base, status, ledger.Truncate(string(answer), 200))
		}
	}
	return told, s.forget(ctx, p)
}

// forget deletes a peer with its keys, versions and announcements.
func (s *Service) forget(ctx context.Context, p Peer) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("federation: remove peer: %w", err)
	}
	defer tx.Rollback(ctx)
	for _, q := range []string{
		`DELETE FROM announcements WHERE origin = $1`,
		`DELETE FROM remote_wantlists WHERE origin = $1`,
		`DELETE FROM federation_objects WHERE origin = $1`,
		`DELETE FROM federation_peers WHERE base_url = $1`,
	} {
		if _, err := tx.Exec(ctx, q, p.BaseURL); err != nil {
			return fmt.Errorf("federation: remove peer: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("federation: remove peer: %w", err)
	}
	s.metrics.forget(p.BaseURL)
	return nil
}

// Requested records a verified peering request from the server described by
// d and answers its state: active when our admin had approved it, else
// requested (it waits for our admin).
func (s *Service) Requested(ctx context.Context, d Discovery, keys map[string]ed25519.PublicKey) (string, error) {
	p, err := s.Peer(ctx, d.BaseURL)
	var e *Error
	switch {
	case errors.As(err, &e) && e.Code == CodeNotFound:
		// Anyone with a /.well-known/sxp can ask: bound the requests that
		// wait for the admin, so that a flood cannot fill the table.
		var waiting int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM federation_peers WHERE state = 'requested'`).Scan(&waiting); err != nil {
			return "", fmt.Errorf("federation: peering request: %w", err)
		}
		if waiting >= MaxRequests {
			return "", refuse(CodeTooManyRequests,
				"this server has %d peering requests waiting for its admin; ask again later", waiting)
		}
		if err := s.pin(ctx, d, keys, StateRequested); err != nil {
			return "", err
		}
		s.log.Info("federation: peering request", "peer", d.BaseURL)
		return StateRequested, nil
	case err != nil:
		return "", err
	}
	if p.State == StateApproved || p.State == StateActive {
		if err := s.pin(ctx, d, keys, StateActive); err != nil {
			return "", err
		}
		if _, err := s.pool.Exec(ctx, `UPDATE federation_peers SET state = 'active', updated_at = $2 WHERE id = $1`, p.ID, s.now()); err != nil {
			return "", fmt.Errorf("federation: peering request: %w", err)
		}
		s.wake.notify()
		return StateActive, nil
	}
	return StateRequested, nil
}

// Removed forgets a peer that ended peering with us.
func (s *Service) Removed(ctx context.Context, p Peer) error {
	s.log.Info("federation: peer removed us", "peer", p.BaseURL)
	return s.forget(ctx, p)
}

// call sends a signed request to a peer and reads at most maxResponseBody of
// its answer. A transport failure or an oversized answer is an error.
func (s *Service) call(ctx context.Context, method, target string, body []byte) (int, []byte, error) {
	signer, err := s.signer(ctx)
	if err != nil {
		return 0, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if err := signer.Sign(req, body); err != nil {
		return 0, nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	if err != nil {
		return 0, nil, fmt.Errorf("reading the answer of %s: %w", target, err)
	}
	if len(answer) > maxResponseBody {
		return 0, nil, fmt.Errorf("the answer of %s is larger than %d bytes", target, maxResponseBody)
	}
	return resp.StatusCode, answer, nil
}

// decodeJSON decodes exactly one JSON value.
func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed JSON: %v", err)
	}
	if dec.More() {
		return errors.New("malformed JSON: more than one value")
	}
	return nil
}
