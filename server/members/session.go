package members

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Session is a logged-in member. Token is only known when the session is
// created (the database keeps its SHA-256); CSRF is the token that pages'
// forms must echo.
type Session struct {
	Token     string
	CSRF      string
	ExpiresAt time.Time
	Member    Member
}

// LoginRequest is a log-in attempt from a client address.
type LoginRequest struct {
	Username string
	Password string
	IP       string
}

// dummyHash is checked against when the username is unknown, so that a
// log-in takes as long for unknown names as for wrong passwords.
var dummyHash, _ = HashPassword("not a password of anyone")

// Login checks a username and password and opens a session. Repeated
// failures for a username or from an address are refused for a while with
// CodeTooManyAttempts (see Throttle).
func (s *Service) Login(ctx context.Context, r LoginRequest) (Session, error) {
	now := s.opts.Now()
	r.Username = strings.ToLower(strings.TrimSpace(r.Username)) // phones capitalise the first letter
	r.IP = sourceOf(r.IP)
	if name, community, ok := strings.Cut(r.Username, "@"); ok {
		// The circle writes members as member@community (deploy/run prints
		// alice@leaf): this community's address is its member.
		if community != s.opts.Community || s.opts.Community == "" {
			return Session{}, refuse(CodeBadCredentials, "%s is an address in the community %q: log in on that community's site, or here without @%s", r.Username, community, community)
		}
		r.Username = name
	}
	attempt, err := s.reserveAttempt(ctx, r.Username, r.IP, now)
	if err != nil {
		return Session{}, err
	}
	var (
		id   int64
		hash string
	)
	err = s.pool.QueryRow(ctx, `SELECT id, password_hash FROM members WHERE username = $1`, r.Username).Scan(&id, &hash)
	known := err == nil
	if errors.Is(err, pgx.ErrNoRows) {
		hash = dummyHash // an unknown name costs a hash too, within the same bound
	} else if err != nil {
		return Session{}, fmt.Errorf("members: login: %w", err)
	}
	ok, err := s.checkPassword(ctx, hash, r.Password)
	if CodeOf(err) == CodeBusy {
		// Not checked, so not a failure.
		return Session{}, errors.Join(err, s.unreserve(ctx, attempt))
	}
	if err != nil {
		return Session{}, err
	}
	if !ok || !known {
		return Session{}, badCredentials()
	}
	m, err := s.ByID(ctx, id)
	if err != nil {
		return Session{}, err
	}
	switch m.Status {
	case StatusPending:
		return Session{}, refuse(CodeNotApproved, "your registration waits for an admin's approval")
	case StatusBlocked:
		return Session{}, refuse(CodeBlocked, "your membership is blocked; ask the community's admins")
	}
	if err := s.forgive(ctx, r.Username, r.IP); err != nil {
		return Session{}, err
	}
	return s.newSession(ctx, m, now)
}

// badCredentials refuses a wrong password or an unknown username alike;
// the attempt was already counted as a failure (reserveAttempt).
func badCredentials() error { return refuse(CodeBadCredentials, "wrong username or password") }

func (s *Service) newSession(ctx context.Context, m Member, now time.Time) (Session, error) {
	token, err := randomToken()
	if err != nil {
		return Session{}, err
	}
	csrf, err := randomToken()
	if err != nil {
		return Session{}, err
	}
	sess := Session{Token: token, CSRF: csrf, ExpiresAt: now.Add(s.opts.SessionTTL), Member: m}
	_, err = s.pool.Exec(ctx, `
		INSERT INTO member_sessions (token_hash, member_id, csrf_token, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5)`, hashToken(token), m.ID, csrf, now, sess.ExpiresAt)
	if err != nil {
		return Session{}, fmt.Errorf("members: session: %w", err)
	}
	return sess, nil
}

// Authenticate returns the session of a token (without its Token), or
// CodeUnauthenticated when it is unknown, expired, or its member is no
// longer active.
func (s *Service) Authenticate(ctx context.Context, token string) (Session, error) {
	if token == "" {
		return Session{}, refuse(CodeUnauthenticated, "log in first")
	}
	var sess Session
	var id int64
	err := s.pool.QueryRow(ctx, `
		SELECT member_id, csrf_token, expires_at FROM member_sessions
		WHERE token_hash = $1 AND expires_at > $2`, hashToken(token), s.opts.Now()).Scan(&id, &sess.CSRF, &sess.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, refuse(CodeUnauthenticated, "your session is unknown or has expired; log in again")
	}
	if err != nil {
		return Session{}, fmt.Errorf("members: authenticate: %w", err)
	}
	m, err := s.ByID(ctx, id)
	if err != nil {
		return Session{}, err
	}
	if m.Status != StatusActive {
		return Session{}, refuse(CodeUnauthenticated, "your membership is %s", m.Status)
	}
	sess.Member = m
	return sess, nil
}

// Logout ends the session of a token. Ending an unknown session is not an error.
func (s *Service) Logout(ctx context.Context, token string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM member_sessions WHERE token_hash = $1`, hashToken(token)); err != nil {
		return fmt.Errorf("members: logout: %w", err)
	}
	return nil
}

// PruneSessions deletes expired sessions and returns how many.
func (s *Service) PruneSessions(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM member_sessions WHERE expires_at <= $1`, s.opts.Now())
	if err != nil {
		return 0, fmt.Errorf("members: prune sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("members: token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}
