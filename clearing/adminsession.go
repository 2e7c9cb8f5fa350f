package clearing

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Admin page sessions: logging in to the admin pages with an admin token
// opens a session whose random id is the cookie, so the long-lived token
// never sits in a browser. The database keeps the id's SHA-256 and an
// expiry; closing the session deletes it; revoking the token the session
// was opened with ends it too.

// OpenAdminSession opens a session for actor (as AdminActor named it) that
// lasts ttl, and returns its id (shown once: the cookie).
func (h *House) OpenAdminSession(ctx context.Context, actor string, ttl time.Duration) (string, error) {
	id, err := newKey()
	if err != nil {
		return "", err
	}
	var tokenName *string
	if name, ok := strings.CutPrefix(actor, "token:"); ok {
		tokenName = &name
	}
	now := h.now()
	sum := sha256.Sum256([]byte(id))
	_, err = h.pool.Exec(ctx, `
		WITH pruned AS (DELETE FROM clearing_admin_sessions WHERE expires_at <= $4)
		INSERT INTO clearing_admin_sessions (id_hash, actor, token_name, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		sum[:], actor, tokenName, now, now.Add(ttl))
	if err != nil {
		return "", fmt.Errorf("clearing: open admin session: %w", err)
	}
	return id, nil
}

// AdminSession returns the actor of an open, unexpired session whose token
// (if it was opened with a stored one) is not revoked; ok=false otherwise.
func (h *House) AdminSession(ctx context.Context, id string) (actor string, ok bool, err error) {
	if id == "" {
		return "", false, nil
	}
	sum := sha256.Sum256([]byte(id))
	err = h.pool.QueryRow(ctx, `SELECT s.actor FROM clearing_admin_sessions s
		LEFT JOIN clearing_admin_tokens t ON t.name = s.token_name
		WHERE s.id_hash = $1 AND s.expires_at > $2 AND (s.token_name IS NULL OR (t.id IS NOT NULL AND t.revoked_at IS NULL))`,
		sum[:], h.now()).Scan(&actor)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("clearing: admin session: %w", err)
	}
	return actor, true, nil
}

// CloseAdminSession deletes a session (logging out); an unknown id is no error.
func (h *House) CloseAdminSession(ctx context.Context, id string) error {
	sum := sha256.Sum256([]byte(id))
	if _, err := h.pool.Exec(ctx, `DELETE FROM clearing_admin_sessions WHERE id_hash = $1`, sum[:]); err != nil {
		return fmt.Errorf("clearing: close admin session: %w", err)
	}
	return nil
}
