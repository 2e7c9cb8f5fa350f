package members

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"
)

// Throttle is the brute-force slowdown of log-ins. It counts failures by
// account and source: after PerUsername failed attempts for one username
// from one address, or PerIP from one address (any usernames), within
// Window, further attempts from that address are refused until enough
// failures age out of the window. Failures from one address never lock a
// member out from another, so a stranger cannot lock anyone out; an admin
// can lift a lock (Unlock), and a password reset lifts it too. An address
// is an IPv4 address or an IPv6 /64 (sourceOf).
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

// sourceOf is the source a log-in attempt is counted under: an IPv4
// address as is, an IPv6 address as its /64 (one host or household
// usually has a whole /64, and could rotate through it), anything else
// (no or an unparsable address) as given.
func sourceOf(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	if addr.Is4() {
		return addr.String()
	}
	return netip.PrefixFrom(addr, 64).Masked().String()
}

// throttleLockClass is the first key of the advisory locks that serialise
// the attempts from one address (pg_advisory_xact_lock(int, int)).
const throttleLockClass = 0x5850_4c47 // "SXPLG"

// reserveAttempt counts a log-in attempt as a failure before its password
// is checked, or refuses with CodeTooManyAttempts when the username from
// this address, or the address, has failed too often recently. Counting
// and recording happen in one transaction under a lock on the address, so
// concurrent attempts cannot all pass the check before any is recorded; a
// successful log-in then forgets the failures (forgive).
// It returns the id of the recorded attempt.
func (s *Service) reserveAttempt(ctx context.Context, username, ip string, now time.Time) (int64, error) {
	t := s.opts.Throttle
	since := now.Add(-t.Window)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("members: throttle: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, throttleLockClass, ip); err != nil {
		return 0, fmt.Errorf("members: throttle: %w", err)
	}
	var latest time.Time
	for _, q := range []struct {
		where string
		args  []any
		limit int
		skip  bool
	}{
		{`username = $3 AND ip = $4`, []any{username, ip}, t.PerUsername, false},
		{`ip = $3`, []any{ip}, t.PerIP, ip == ""}, // no address: only the username counts
	} {
		if q.skip {
			continue
		}
		rows, err := tx.Query(ctx, `SELECT at FROM member_login_failures WHERE at > $1 AND `+q.where+` ORDER BY at DESC LIMIT $2`,
			append([]any{since, q.limit}, q.args...)...)
		if err != nil {
			return 0, fmt.Errorf("members: throttle: %w", err)
		}
		times, err := pgx.CollectRows(rows, pgx.RowTo[time.Time])
		if err != nil {
			return 0, fmt.Errorf("members: throttle: %w", err)
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
		return 0, &Error{Code: CodeTooManyAttempts, RetryAfter: wait,
			Message: fmt.Sprintf("too many failed log-ins; try again in %s", wait)}
	}
	var id int64
	if err := tx.QueryRow(ctx, `
		WITH pruned AS (DELETE FROM member_login_failures WHERE at < $4)
		INSERT INTO member_login_failures (username, ip, at) VALUES ($1, $2, $3) RETURNING id`,
		username, ip, now, since).Scan(&id); err != nil {
		return 0, fmt.Errorf("members: throttle: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("members: throttle: %w", err)
	}
	return id, nil
}

// unreserve forgets an attempt whose password was not checked.
func (s *Service) unreserve(ctx context.Context, attempt int64) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM member_login_failures WHERE id = $1`, attempt); err != nil {
		return fmt.Errorf("members: throttle: %w", err)
	}
	return nil
}

// forgive forgets the failures of username from ip, the attempt that just
// succeeded included.
func (s *Service) forgive(ctx context.Context, username, ip string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM member_login_failures WHERE username = $1 AND ip = $2`, username, ip); err != nil {
		return fmt.Errorf("members: login: %w", err)
	}
	return nil
}

// Unlock forgets every failed log-in for username, from any address, so
// that a member locked out by the throttle can log in at once (admins only;
// the caller checks).
func (s *Service) Unlock(ctx context.Context, username string) (Member, error) {
	m, err := s.ByUsername(ctx, username)
	if err != nil {
		return Member{}, err
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM member_login_failures WHERE username = $1`, m.Username); err != nil {
		return Member{}, fmt.Errorf("members: unlock: %w", err)
	}
	return m, nil
}

// Failures counts username's failed log-ins within the throttle's window:
// the admins' member page shows them next to Unlock.
func (s *Service) Failures(ctx context.Context, username string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM member_login_failures WHERE username = $1 AND at > $2`,
		username, s.opts.Now().Add(-s.opts.Throttle.Window)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("members: failures: %w", err)
	}
	return n, nil
}
