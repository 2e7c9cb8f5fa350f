package members

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// defaultLimits are the configured default limits (SXP_DEFAULT_MIN/MAX).
func (s *Service) defaultLimits() Limits {
	return Limits{Min: s.opts.DefaultMin, Max: s.opts.DefaultMax}
}

// NewcomerLimits are the limits a member who registers now gets, and
// whether they are a stage of their own (newcomers' limits that differ from
// the default ones): an admin's setting (community_settings) if there is
// one, else Options.Newcomer. false means new members get the default
// limits at once.
func (s *Service) NewcomerLimits(ctx context.Context) (Limits, bool, error) {
	var min, max *int64
	err := s.pool.QueryRow(ctx, `SELECT newcomer_min, newcomer_max FROM community_settings WHERE id = 1`).Scan(&min, &max)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return Limits{}, false, fmt.Errorf("members: newcomer limits: %w", err)
	}
	l := s.opts.Newcomer
	if min != nil && max != nil {
		l = &Limits{Min: *min, Max: *max}
	}
	if l == nil || *l == s.defaultLimits() {
		return s.defaultLimits(), false, nil
	}
	return *l, true, nil
}

// SetNewcomerLimits sets the newcomers' limits on the web, overriding the
// configured ones; nil goes back to the configured ones. Members who are
// newcomers already keep their limits. actor is audited.
func (s *Service) SetNewcomerLimits(ctx context.Context, actor string, l *Limits) error {
	var min, max *int64
	detail := "back to the configured newcomers' limits"
	if l != nil {
		if l.Min > 0 {
			return invalid("newcomer_min", "the newcomers' lower limit must be zero or negative")
		}
		if l.Max < 0 {
			return invalid("newcomer_max", "the newcomers' upper limit must be zero or positive")
		}
		min, max = &l.Min, &l.Max
		detail = fmt.Sprintf("min %d max %d (minor units)", l.Min, l.Max)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("members: newcomer limits: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `INSERT INTO community_settings (id, newcomer_min, newcomer_max, updated_by, updated_at)
		VALUES (1, $1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET newcomer_min = $1, newcomer_max = $2, updated_by = $3, updated_at = $4`,
		min, max, actor, s.opts.Now()); err != nil {
		return fmt.Errorf("members: newcomer limits: %w", err)
	}
	if err := audit(ctx, tx, s.opts.Now(), actor, "", "newcomer_limits", detail); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// AuditEntry is one admin action on a member.
type AuditEntry struct {
	At     time.Time
	Actor  string // the admin's username
	Member string // "" for a community setting
	Action string // approve, block, unblock, unlock, limits, role, password, newcomer_limits
	Detail string
}

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Audit records that actor did action to member.
func (s *Service) Audit(ctx context.Context, actor, member, action, detail string) error {
	return audit(ctx, s.pool, s.opts.Now(), actor, member, action, detail)
}

func audit(ctx context.Context, db execer, at time.Time, actor, member, action, detail string) error {
	if _, err := db.Exec(ctx, `INSERT INTO member_audit (at, actor, member, action, detail) VALUES ($1, $2, $3, $4, $5)`,
		at, actor, member, action, detail); err != nil {
		return fmt.Errorf("members: audit %s %s: %w", action, member, err)
	}
	return nil
}

// AuditLog is the last limit admin actions on member, newest first.
func (s *Service) AuditLog(ctx context.Context, member string, limit int) ([]AuditEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT at, actor, member, action, detail FROM member_audit
		WHERE member = $1 ORDER BY id DESC LIMIT $2`, member, limit)
	if err != nil {
		return nil, fmt.Errorf("members: audit log: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		err := r.Scan(&e.At, &e.Actor, &e.Member, &e.Action, &e.Detail)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("members: audit log: %w", err)
	}
	return out, nil
}

// tempAlphabet leaves out look-alikes (0/O, 1/l/I), for passwords read aloud.
const tempAlphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// ResetPassword sets a member's password to password, or to a new random
// temporary one when password is "", ends their sessions, forgets their
// failed log-ins (so that they can log in at once), and returns the
// password set: shown once to the admin, never stored in clear.
func (s *Service) ResetPassword(ctx context.Context, username, password string) (string, error) {
	if password == "" {
		var sb strings.Builder
		b := make([]byte, 1)
		for sb.Len() < 16 {
			if _, err := rand.Read(b); err != nil {
				return "", fmt.Errorf("members: temporary password: %w", err)
			}
			if int(b[0]) < 256/len(tempAlphabet)*len(tempAlphabet) { // no modulo bias
				sb.WriteByte(tempAlphabet[int(b[0])%len(tempAlphabet)])
			}
		}
		password = sb.String()
	}
	if err := s.SetPassword(ctx, username, password); err != nil {
		return "", err
	}
	if _, err := s.Unlock(ctx, username); err != nil {
		return "", err
	}
	return password, nil
}
