package clearing

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sxp-network/sxp/ledger"
)

type ledgerTx = ledger.Tx

// querier is a pool or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// AuditEntry is one governing-body change.
type AuditEntry struct {
	ID        int64           `json:"id"`
	Actor     string          `json:"actor"`
	Action    string          `json:"action"`
	Subject   string          `json:"subject"`
	Before    json.RawMessage `json:"before"`
	After     json.RawMessage `json:"after"`
	CreatedAt time.Time       `json:"created_at"`
}

// audit records a change in the same transaction as the change itself.
func audit(ctx context.Context, q querier, now time.Time, actor, action, subject string, before, after any) error {
	enc := func(v any) ([]byte, error) {
		if v == nil {
			return nil, nil
		}
		return json.Marshal(v)
	}
	b, err := enc(before)
	if err != nil {
		return fmt.Errorf("clearing: audit: %w", err)
	}
	a, err := enc(after)
	if err != nil {
		return fmt.Errorf("clearing: audit: %w", err)
	}
	if actor == "" {
		actor = "unknown"
	}
	_, err = q.Exec(ctx, `INSERT INTO clearing_audit (actor, action, subject, before, after, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, actor, action, subject, b, a, now)
	if err != nil {
		return fmt.Errorf("clearing: audit: %w", err)
	}
	return nil
}

// Audit lists the audit log, newest first: at most limit entries (100 by
// default) with an id below before (0 for the newest).
func (h *House) Audit(ctx context.Context, before int64, limit int) ([]AuditEntry, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := h.pool.Query(ctx, `SELECT id, actor, action, subject, coalesce(before, 'null'::jsonb), coalesce(after, 'null'::jsonb), created_at
		FROM clearing_audit WHERE id < $1 ORDER BY id DESC LIMIT $2`, before, limit)
	if err != nil {
		return nil, fmt.Errorf("clearing: audit: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		var b, a []byte
		err := r.Scan(&e.ID, &e.Actor, &e.Action, &e.Subject, &b, &a, &e.CreatedAt)
		e.Before, e.After = b, a
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("clearing: audit: %w", err)
	}
	return out, nil
}
