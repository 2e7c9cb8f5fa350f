package members

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ResetPasswordByLink gives member id the password next without the current
// one (a password-reset link): in one transaction it runs use (which
// consumes the link's token and refuses a used or expired one), stores the
// new password, ends every session of the member and lifts any log-in lock.
func (s *Service) ResetPasswordByLink(ctx context.Context, id int64, next string, use func(context.Context, pgx.Tx) error) error {
	if err := validPassword(next); err != nil {
		err.(*Error).Field = "new_password"
		return err
	}
	hash, err := s.hashPassword(ctx, next)
	if err != nil {
		return err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("members: reset password: %w", err)
	}
	defer tx.Rollback(ctx)
	if err := use(ctx, tx); err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, `UPDATE members SET password_hash = $2, updated_at = now() WHERE id = $1 AND status = 'active'`, id, hash)
	if err != nil {
		return fmt.Errorf("members: reset password: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return refuse(CodeNotFound, "no active member %d", id)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM member_sessions WHERE member_id = $1`, id); err != nil {
		return fmt.Errorf("members: reset password: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM member_login_failures WHERE username = (SELECT username FROM members WHERE id = $1)`, id); err != nil {
		return fmt.Errorf("members: reset password: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("members: reset password: %w", err)
	}
	return nil
}
