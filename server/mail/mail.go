// Package mail is the community server's optional e-mail: members'
// addresses (verified by a link), password reset by e-mail, and notices of
// payments and bills received, proposals to sign and offers about to
// expire, each of which a member can turn off.
//
// Nothing waits on SMTP: every message is a row of the outbox (mail_outbox),
// written in a transaction, and the job mail_send drains it with retries.
// Notices of payments and bills are written by database triggers in the
// payment's or bill's own transaction (mail_notices_due), so a crash loses
// none; the job mail_notices turns them into messages, and also sweeps for
// proposals to sign and offers about to expire.
//
// Without SMTP settings (SXP_SMTP_URL) the service is off: Enabled is
// false, every e-mail operation is refused with CodeOff, and pages hide
// e-mail features.
package mail

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sxp-network/sxp/ledger/ratelimit"
	"github.com/sxp-network/sxp/server/members"
	"github.com/sxp-network/sxp/server/payments"
)

// Config configures the service. Zero durations take the defaults below.
type Config struct {
	// SMTPURL is SXP_SMTP_URL (see SMTP); empty turns e-mail off.
	SMTPURL string
	// From is the sender (SXP_SMTP_FROM), e.g. "Leaf Valley <leaf@example.org>";
	// required with SMTPURL.
	From string
	// BaseURL is the server's public URL, the start of every link.
	BaseURL string
	// Community is the community's name (in subjects) and CommunityID its
	// id (the @suffix of its members in proposals).
	Community   string
	CommunityID string
	Currency    payments.Currency

	Logger     *slog.Logger
	Registerer prometheus.Registerer // nil: no metrics
	Now        func() time.Time

	// SendTimeout bounds one SMTP conversation (30 s).
	SendTimeout time.Duration
	// Every is how often the jobs run (10 s).
	Every time.Duration
	// RetryBase is the wait after a message's first failed attempt,
	// doubling each time (1 min); after MaxAttempts (8) it is failed.
	RetryBase   time.Duration
	MaxAttempts int
	// ExpiryWarning is how long before an offer expires its author is told (3 days).
	ExpiryWarning time.Duration
	// VerifyTTL and ResetTTL are how long links stay valid (48 h, 1 h).
	VerifyTTL, ResetTTL time.Duration
}

// Service is the community's e-mail.
type Service struct {
	pool    *pgxpool.Pool
	members *members.Service
	cfg     Config
	smtp    *SMTP // nil: e-mail is off
	from    mail.Address
	log     *slog.Logger
	// resetLimit bounds password-reset requests per client address.
	resetLimit *ratelimit.Limiter
	sent       *prometheus.CounterVec
	// wake asks Run to drain the outbox now (a link a member waits for).
	wake chan struct{}
}

// Per client IP, 5 reset requests at once and one more every 3 minutes;
// per member, at most resetsPerHour reset mails and verifyPerHour
// verification mails an hour.
const (
	resetBurst    = 5
	resetRate     = 1.0 / 180
	resetsPerHour = 3
	verifyPerHour = 5
)

// New returns the service; it is off (Enabled false) when cfg.SMTPURL is
// empty. A bad URL or sender is an error naming the setting.
func New(pool *pgxpool.Pool, ms *members.Service, cfg Config) (*Service, error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.SendTimeout, 30*time.Second)
	def(&cfg.Every, 10*time.Second)
	def(&cfg.RetryBase, time.Minute)
	def(&cfg.ExpiryWarning, 3*24*time.Hour)
	def(&cfg.VerifyTTL, 48*time.Hour)
	def(&cfg.ResetTTL, time.Hour)
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Service{pool: pool, members: ms, cfg: cfg, log: cfg.Logger.With("area", "mail"), wake: make(chan struct{}, 1),
		resetLimit: ratelimit.New(resetRate, resetBurst),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sxp_mail_sent_total",
			Help: "Attempts to send an e-mail from the outbox, by result (ok, error).",
		}, []string{"result"}),
	}
	s.sent.WithLabelValues("ok")
	s.sent.WithLabelValues("error")
	if cfg.SMTPURL != "" {
		st, err := ParseSMTPURL(cfg.SMTPURL)
		if err != nil {
			return nil, fmt.Errorf("setting SXP_SMTP_URL (--smtp-url): %v", err)
		}
		from, err := mail.ParseAddress(cfg.From)
		if err != nil {
			return nil, fmt.Errorf("setting SXP_SMTP_FROM (--smtp-from): %q must be an address such as \"Leaf Valley <leaf@example.org>\" (%v)", cfg.From, err)
		}
		s.smtp, s.from = &st, *from
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(s.sent, &outboxCollector{s: s})
	}
	return s, nil
}

// Enabled reports whether e-mail is on (SMTP settings given).
func (s *Service) Enabled() bool { return s.smtp != nil }

func (s *Service) on() error {
	if s.smtp == nil {
		return refuse(CodeOff, "e-mail is off in this community (no SMTP settings)")
	}
	return nil
}

// Address is a member's e-mail address.
type Address struct {
	Address  string
	Verified bool
}

// Address returns the member's address; none is the zero Address.
func (s *Service) Address(ctx context.Context, memberID int64) (Address, error) {
	var a Address
	var verified *time.Time
	err := s.pool.QueryRow(ctx, `SELECT address, verified_at FROM member_emails WHERE member_id = $1`, memberID).Scan(&a.Address, &verified)
	if errors.Is(err, pgx.ErrNoRows) {
		return Address{}, nil
	}
	if err != nil {
		return Address{}, fmt.Errorf("mail: address: %w", err)
	}
	a.Verified = verified != nil
	return a, nil
}

// ParseAddress checks a bare e-mail address (no name, no angle brackets).
func ParseAddress(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	bad := invalid("email", "%q is not an e-mail address such as alice@example.org", raw)
	a, err := mail.ParseAddress(raw)
	if err != nil || a.Address != raw || len(raw) > 254 {
		return "", bad
	}
	if domain := raw[strings.LastIndexByte(raw, '@')+1:]; !strings.Contains(domain, ".") {
		return "", bad // a domain of the internet, not a local name
	}
	return raw, nil
}

// SetAddress gives member m the address raw, unverified, and sends a
// verification link to it. The same address again, still unverified,
// sends a new link.
func (s *Service) SetAddress(ctx context.Context, m members.Member, raw string) error {
	if err := s.on(); err != nil {
		return err
	}
	addr, err := ParseAddress(raw)
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("mail: set address: %w", err)
	}
	defer tx.Rollback(ctx)
	var recent int
	var confirmed bool
	if err := tx.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM mail_tokens WHERE member_id = $1 AND purpose = 'verify' AND created_at > $2),
		       EXISTS (SELECT 1 FROM member_emails WHERE member_id = $1 AND lower(address) = lower($3) AND verified_at IS NOT NULL)`,
		m.ID, now.Add(-time.Hour), addr).Scan(&recent, &confirmed); err != nil {
		return fmt.Errorf("mail: set address: %w", err)
	}
	if confirmed {
		return invalid("email", "%s is your confirmed address already", addr)
	}
	if recent >= verifyPerHour {
		return &Error{Code: CodeTooMany, Message: "too many verification mails in the last hour; try again later", RetryAfter: time.Hour}
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO member_emails (member_id, address, verified_at, updated_at) VALUES ($1, $2, NULL, $3)
		ON CONFLICT (member_id) DO UPDATE SET address = $2, verified_at = NULL, updated_at = $3`, m.ID, addr, now); err != nil {
		return fmt.Errorf("mail: set address: %w", err)
	}
	token, err := s.newToken(ctx, tx, m.ID, "verify", addr, now, s.cfg.VerifyTTL)
	if err != nil {
		return err
	}
	body := fmt.Sprintf("Hello %s,\n\nplease confirm that %s is your e-mail address at %s by opening this link:\n\n%s\n\n"+
		"The link works once, for %s. If you did not ask for this, ignore this message.\n",
		m.DisplayName, addr, s.cfg.Community, s.link("/email/verify", token), hours(s.cfg.VerifyTTL))
	if err := s.enqueue(ctx, tx, outMessage{member: m.ID, kind: "verify", to: addr, subject: "Confirm your e-mail address at " + s.cfg.Community, body: body}, now); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("mail: set address: %w", err)
	}
	s.Wake()
	return nil
}

// RemoveAddress forgets the member's address (and so stops every mail to them).
func (s *Service) RemoveAddress(ctx context.Context, memberID int64) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM member_emails WHERE member_id = $1`, memberID); err != nil {
		return fmt.Errorf("mail: remove address: %w", err)
	}
	return nil
}

// Verify uses a verification token: the address it was sent to becomes the
// member's verified address. It returns the member's username.
func (s *Service) Verify(ctx context.Context, token string) (string, error) {
	now := s.cfg.Now()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return "", fmt.Errorf("mail: verify: %w", err)
	}
	defer tx.Rollback(ctx)
	id, addr, err := useToken(ctx, tx, token, "verify", now)
	if err != nil {
		return "", err
	}
	tag, err := tx.Exec(ctx, `UPDATE member_emails SET verified_at = $3, updated_at = $3 WHERE member_id = $1 AND address = $2`, id, addr, now)
	if err != nil {
		return "", fmt.Errorf("mail: verify: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return "", refuse(CodeBadToken, "this link is for an address that is no longer yours; ask for a new one on your settings page")
	}
	var username string
	if err := tx.QueryRow(ctx, `SELECT username FROM members WHERE id = $1`, id).Scan(&username); err != nil {
		return "", fmt.Errorf("mail: verify: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return "", fmt.Errorf("mail: verify: %w", err)
	}
	return username, nil
}

// RequestReset sends a password-reset link to every active member whose
// verified address is addr. Its answer is the same whether or not such a
// member exists (nil); only a malformed address, a client over its rate
// limit (CodeTooMany) or e-mail being off are refused. A member gets at
// most resetsPerHour reset mails an hour; more requests send nothing.
func (s *Service) RequestReset(ctx context.Context, addr, clientIP string) error {
	if err := s.on(); err != nil {
		return err
	}
	now := s.cfg.Now()
	if ok, wait := s.resetLimit.Allow("ip:"+clientIP, now); !ok {
		return &Error{Code: CodeTooMany, Message: "too many password reset requests; try again later", RetryAfter: wait}
	}
	addr, err := ParseAddress(addr)
	if err != nil {
		return err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("mail: reset: %w", err)
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, `
		SELECT m.id, m.username, m.display_name, e.address FROM member_emails e JOIN members m ON m.id = e.member_id
		WHERE lower(e.address) = lower($1) AND e.verified_at IS NOT NULL AND m.status = 'active'
		  AND (SELECT count(*) FROM mail_tokens t WHERE t.member_id = m.id AND t.purpose = 'reset' AND t.created_at > $2) < $3
		ORDER BY m.id FOR UPDATE OF e`, addr, now.Add(-time.Hour), resetsPerHour)
	if err != nil {
		return fmt.Errorf("mail: reset: %w", err)
	}
	type who struct {
		id             int64
		username, name string
		address        string
	}
	found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (who, error) {
		var w who
		return w, r.Scan(&w.id, &w.username, &w.name, &w.address)
	})
	if err != nil {
		return fmt.Errorf("mail: reset: %w", err)
	}
	for _, w := range found {
		token, err := s.newToken(ctx, tx, w.id, "reset", w.address, now, s.cfg.ResetTTL)
		if err != nil {
			return err
		}
		body := fmt.Sprintf("Hello %s,\n\nsomeone (we hope you) asked to reset the password of your account %q at %s.\n"+
			"To choose a new password, open this link:\n\n%s\n\nThe link works once, for %s. If you did not ask for this, ignore this message: your password stays as it is.\n",
			w.name, w.username, s.cfg.Community, s.link("/password/reset", token), hours(s.cfg.ResetTTL))
		if err := s.enqueue(ctx, tx, outMessage{member: w.id, kind: "reset", to: w.address, subject: "Reset your password at " + s.cfg.Community, body: body}, now); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("mail: reset: %w", err)
	}
	if len(found) > 0 {
		s.Wake()
	}
	return nil
}

// Wake asks Run to send the outbox now rather than at the next run of
// mail_send; it never blocks.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run sends the outbox whenever Wake is called, until ctx ends (the
// server runs it beside its jobs; mail_send still sweeps every interval).
func (s *Service) Run(ctx context.Context) {
	if s.smtp == nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
			if n, err := s.Drain(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("mail: sending on wake", "err", err)
			} else if n > 0 {
				s.log.Info("mail sent", "count", n)
			}
		}
	}
}

// CheckReset returns the username a reset token is for, without using it
// (to show the form), or CodeBadToken.
func (s *Service) CheckReset(ctx context.Context, token string) (string, error) {
	var username string
	err := s.pool.QueryRow(ctx, `
		SELECT m.username FROM mail_tokens t JOIN members m ON m.id = t.member_id
		WHERE t.token_hash = $1 AND t.purpose = 'reset' AND t.used_at IS NULL AND t.expires_at > $2`,
		hashToken(token), s.cfg.Now()).Scan(&username)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", badToken()
	}
	if err != nil {
		return "", fmt.Errorf("mail: reset: %w", err)
	}
	return username, nil
}

// ResetPassword uses a reset token to give its member the password next;
// their sessions end. It returns the username.
func (s *Service) ResetPassword(ctx context.Context, token, next string) (string, error) {
	username, err := s.CheckReset(ctx, token)
	if err != nil {
		return "", err
	}
	m, err := s.members.ByUsername(ctx, username)
	if err != nil {
		return "", err
	}
	err = s.members.ResetPasswordByLink(ctx, m.ID, next, func(ctx context.Context, tx pgx.Tx) error {
		id, _, err := useToken(ctx, tx, token, "reset", s.cfg.Now())
		if err == nil && id != m.ID {
			err = badToken()
		}
		return err
	})
	if err != nil {
		return "", err
	}
	return username, nil
}

// newToken stores a new token's hash and returns the token.
func (s *Service) newToken(ctx context.Context, tx pgx.Tx, memberID int64, purpose, addr string, now time.Time, ttl time.Duration) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("mail: token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	if _, err := tx.Exec(ctx, `
		INSERT INTO mail_tokens (token_hash, member_id, purpose, address, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, hashToken(token), memberID, purpose, addr, now, now.Add(ttl)); err != nil {
		return "", fmt.Errorf("mail: token: %w", err)
	}
	return token, nil
}

// useToken marks a valid, unused token of purpose used and returns its
// member and address; anything else is CodeBadToken.
func useToken(ctx context.Context, tx pgx.Tx, token, purpose string, now time.Time) (int64, string, error) {
	var id int64
	var addr string
	err := tx.QueryRow(ctx, `
		UPDATE mail_tokens SET used_at = $3
		WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3
		RETURNING member_id, address`, hashToken(token), purpose, now).Scan(&id, &addr)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", badToken()
	}
	if err != nil {
		return 0, "", fmt.Errorf("mail: token: %w", err)
	}
	return id, addr, nil
}

func badToken() error {
	return refuse(CodeBadToken, "this link is unknown, was used already or has expired; ask for a new one")
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func (s *Service) link(path, token string) string {
	return strings.TrimRight(s.cfg.BaseURL, "/") + path + "?token=" + token
}

func hours(d time.Duration) string {
	if d%time.Hour == 0 {
		if d == time.Hour {
			return "1 hour"
		}
		return fmt.Sprintf("%d hours", d/time.Hour)
	}
	return d.String()
}
