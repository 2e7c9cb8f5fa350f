package clearing

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Admin tokens authenticate the admin HTTP API (Authorization: Bearer TOKEN).
// A bearer token is only compared, never used as a key, so it is stored as
// its SHA-256. The server's own SXP_ADMIN_TOKEN is accepted too (actor
// "admin").

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// AddAdminToken creates a named admin token and returns it (shown once).
func (h *House) AddAdminToken(ctx context.Context, actor, name string) (string, error) {
	if !idPattern.MatchString(name) {
		return "", invalid("name", "%q: use letters, digits, '.', '_' or '-'", name)
	}
	key, err := newKey()
	if err != nil {
		return "", err
	}
	token := "sxpa_" + key
	err = h.ledger.InTx(ctx, func(tx *ledgerTx) error {
		_, err := tx.Conn().Exec(ctx, `INSERT INTO clearing_admin_tokens (name, token_hash, created_at) VALUES ($1, $2, $3)`,
			name, tokenHash(token), h.now())
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" {
			return conflict("name", "a token named %s exists already", name)
		}
		if err != nil {
			return fmt.Errorf("clearing: add token: %w", err)
		}
		return audit(ctx, tx.Conn(), h.now(), actor, "admin_token.add", name, nil, map[string]string{"name": name})
	})
	return token, err
}

// RevokeAdminToken stops a named token from working.
func (h *House) RevokeAdminToken(ctx context.Context, actor, name string) error {
	return h.ledger.InTx(ctx, func(tx *ledgerTx) error {
		tag, err := tx.Conn().Exec(ctx, `UPDATE clearing_admin_tokens SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL`, name, h.now())
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound("no active token %s", name)
		}
		return audit(ctx, tx.Conn(), h.now(), actor, "admin_token.revoke", name, map[string]string{"name": name}, nil)
	})
}

// AdminActor returns who a bearer token belongs to: "admin" for the server's
// token, "token:NAME" for a stored one; ok=false for anything else.
func (h *House) AdminActor(ctx context.Context, token, serverToken string) (string, bool, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return "", false, nil
	}
	if serverToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(serverToken)) == 1 {
		return "admin", true, nil
	}
	var name string
	err := h.pool.QueryRow(ctx, `SELECT name FROM clearing_admin_tokens WHERE token_hash = $1 AND revoked_at IS NULL`,
		tokenHash(token)).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("clearing: admin token: %w", err)
	}
	return "token:" + name, true, nil
}
