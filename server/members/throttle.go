package members

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Throttle is the brute-force slowdown of log-ins: after PerUsername failed
// attempts for one username, or PerIP from one address, within Window,
// further attempts are refused until enough failures age out of the window.
type Throttle struct {
	PerUsername int
	PerIP       int
	Window      time.Duration
}

func (t Throttle) withDefaults() Throttle {
	if t.PerUsername <= 0 {
		t.PerUsername = 5
	}
	if t.PerIP <= 0 {
		t.PerIP = 20
	}
	if t.Window <= 0 {
		t.Window = 15 * time.Minute
	}
	return t
}

// retryAt is when fewer than limit failures remain in the window: the
// limit-th most recent failure leaves it at its time plus the window.
// failures are sorted newest first.
func (t Throttle) retryAt(failures []time.Time, limit int) (time.Time, bool) {
	if len(failures) < limit {
		return time.Time{}, false
	}
	return failures[limit-1].Add(t.Window), true
}

// checkThrottle refuses with CodeTooManyAttempts when the username or the
// address has failed too often recently.
func (s *Service) checkThrottle(ctx context.Context, username, ip string, now time.Time) error {
	t := s.opts.Throttle
	since := now.Add(-t.Window)
	var latest time.Time
	for _, q := range []struct {
		column, value string
		limit         int
	}{{"username", username, t.PerUsername}, {"ip", ip, t.PerIP}} {
		if q.value == "" {
			continue
		}
		rows, err := s.pool.Query(ctx, `SELECT at FROM member_login_failures WHERE `+q.column+` = $1 AND at > $2 ORDER BY at DESC LIMIT $3`, q.value, since, q.limit)
		if err != nil {
			return fmt.Errorf("members: throttle: %w", err)
		}
		times, err := pgx.CollectRows(rows, pgx.RowTo[time.Time])
		if err != nil {
			return fmt.Errorf("members: throttle: %w", err)
		}
		if at, over := t.retryAt(times, q.limit); over && at.After(latest) {
			latest = at
		}
	}
	if latest.After(now) {
		wait := latest.Sub(now).Round(time.Second)
		if wait < time.Second {
			wait = time.Second
		}
		return &Error{Code: CodeTooManyAttempts, RetryAfter: wait,
			Message: fmt.Sprintf("too many failed log-ins; try again in %s", wait)}
	}
	return nil
}

// Unlock forgets every failed log-in for username, from any address, so
// that a member locked out by the throttle can log in at once (admins only;
// the caller checks).
func (s *Service) Unlock(ctx context.Context, username string) error {
	m, err := s.ByUsername(ctx, username)
	if err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM member_login_failures WHERE username = $1`, m.Username); err != nil {
		return fmt.Errorf("members: unlock: %w", err)
	}
	return nil
}
