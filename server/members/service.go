package members

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/ledger"
)

// Options configures a Service.
type Options struct {
	Currency string // the community currency code of members' accounts
	// Community is this community's id in the circle (SXP_COMMUNITY_ID):
	// a log-in as member@Community is a log-in as member.
	Community string
	// DefaultMin and DefaultMax are new accounts' limits in minor units.
	DefaultMin, DefaultMax int64
	// Newcomer, when set, are the limits of a member who registered
	// (SXP_NEWCOMER_MIN/MAX) until an admin approves them (Approve moves
	// them to the default limits); an admin's setting on the web
	// (SetNewcomerLimits) overrides it. nil: new members get the defaults.
	Newcomer *Limits
	// Approval makes new registrations wait for an admin (SXP_REGISTRATION=approval).
	Approval bool
	// SessionTTL is how long a session lives; 7 days by default.
	SessionTTL time.Duration
	// Throttle is the brute-force slowdown of log-ins; defaults below.
	Throttle Throttle
	// MaxHashing bounds the argon2 password hashes computed at once
	// (GOMAXPROCS by default); HashWait is how long one waits for a turn
	// before it is refused with CodeBusy (2 s by default).
	MaxHashing int
	HashWait   time.Duration
	// Now is the clock; time.Now by default.
	Now func() time.Time
	// Created, when set, runs in the transaction that creates a member, with
	// its id (the server makes the member's contract key there).
	Created func(ctx context.Context, tx pgx.Tx, id int64) error
}

// Service is the members of one community.
type Service struct {
	pool    *pgxpool.Pool
	ledger  *ledger.Ledger
	opts    Options
	hashing hashGate
}

// New returns the members service on pool, creating accounts in led.
func New(pool *pgxpool.Pool, led *ledger.Ledger, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 7 * 24 * time.Hour
	}
	opts.Throttle = opts.Throttle.withDefaults()
	return &Service{pool: pool, ledger: led, opts: opts, hashing: newHashGate(opts.MaxHashing, opts.HashWait)}
}

// DefaultLimits are new members' limits, in minor units.
func (s *Service) DefaultLimits() (min, max int64) {
	return s.opts.DefaultMin, s.opts.DefaultMax
}

// Registration is a request to become a member.
type Registration struct {
	Username    string
	Password    string
	DisplayName string
}

// Register creates a member and their account. With approval mode on, the
// member is pending until an admin approves them.
func (s *Service) Register(ctx context.Context, r Registration) (Member, error) {
	status := StatusActive
	if s.opts.Approval {
		status = StatusPending
	}
	limits, newcomer, err := s.NewcomerLimits(ctx)
	if err != nil {
		return Member{}, err
	}
	if !newcomer {
		limits = s.defaultLimits()
	}
	return s.create(ctx, r, RoleMember, status, limits, newcomer)
}

// Add creates an active member with the given role directly (admin CLI,
// demo seeding), whatever the registration mode.
func (s *Service) Add(ctx context.Context, r Registration, role Role) (Member, error) {
	if role != RoleMember && role != RoleAdmin {
		return Member{}, invalid("role", "role must be member or admin")
	}
	return s.create(ctx, r, role, StatusActive, s.defaultLimits(), false)
}

const maxDisplayName = 100

func (s *Service) create(ctx context.Context, r Registration, role Role, status Status, limits Limits, newcomer bool) (Member, error) {
	if err := ValidUsername(r.Username); err != nil {
		return Member{}, err
	}
	if err := validPassword(r.Password); err != nil {
		return Member{}, err
	}
	name := strings.TrimSpace(r.DisplayName)
	if name == "" {
		name = r.Username
	}
	if err := validText("display_name", name, maxDisplayName); err != nil {
		return Member{}, err
	}
	if _, err := s.ByUsername(ctx, r.Username); err == nil {
		return Member{}, refuse(CodeUsernameTaken, "the username %q is taken", r.Username)
	} else if CodeOf(err) != CodeNotFound {
		return Member{}, err
	}
	hash, err := s.hashPassword(ctx, r.Password)
	if err != nil {
		return Member{}, err
	}
	var m Member
	err = s.ledger.InTx(ctx, func(tx *ledger.Tx) error {
		acc, err := tx.CreateAccount(ctx, ledger.NewAccount{
			Code: AccountCode(r.Username), Currency: s.opts.Currency,
			Min: limits.Min, Max: limits.Max,
			Metadata: map[string]string{"kind": "member", "username": r.Username},
		})
		if err != nil {
			return err
		}
		row := tx.Conn().QueryRow(ctx, `
			INSERT INTO members (username, password_hash, display_name, role, status, account_id, created_at, updated_at, newcomer)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)
			RETURNING `+memberColumns, r.Username, hash, name, role, status, acc.ID, s.opts.Now(), newcomer)
		if m, err = scanMember(row); err != nil || s.opts.Created == nil {
			return err
		}
		return s.opts.Created(ctx, tx.Conn(), m.ID)
	})
	if err != nil {
		if isUnique(err, "members_username_key") || ledger.CodeOf(err) == ledger.CodeDuplicateAccount {
			return Member{}, refuse(CodeUsernameTaken, "the username %q is taken", r.Username)
		}
		return Member{}, fmt.Errorf("members: register: %w", err)
	}
	return m, nil
}

const memberColumns = `id, username, display_name, bio, contact, role, status, account_id, public_key, created_at, newcomer`

func scanMember(row pgx.Row) (Member, error) {
	var m Member
	var acc int64
	err := row.Scan(&m.ID, &m.Username, &m.DisplayName, &m.Bio, &m.Contact, &m.Role, &m.Status, &acc, &m.PublicKey, &m.CreatedAt, &m.Newcomer)
	m.Account = ledger.AccountID(acc)
	return m, err
}

// scanOne scans the member in row; no row is CodeNotFound naming arg, and
// any other error is wrapped as the members operation op.
func scanOne(row pgx.Row, op string, arg any) (Member, error) {
	m, err := scanMember(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return Member{}, refuse(CodeNotFound, "no member %v", arg)
	}
	if err != nil {
		return Member{}, fmt.Errorf("members: %s: %w", op, err)
	}
	return m, nil
}

func (s *Service) one(ctx context.Context, where string, arg any) (Member, error) {
	return scanOne(s.pool.QueryRow(ctx, `SELECT `+memberColumns+` FROM members WHERE `+where, arg), "read", arg)
}

// ByUsername returns the member with that username, or CodeNotFound.
func (s *Service) ByUsername(ctx context.Context, username string) (Member, error) {
	return s.one(ctx, `username = $1`, username)
}

// ByID returns the member with that id, or CodeNotFound.
func (s *Service) ByID(ctx context.Context, id int64) (Member, error) {
	return s.one(ctx, `id = $1`, id)
}

// ByAccount returns the member owning a ledger account, or CodeNotFound.
func (s *Service) ByAccount(ctx context.Context, account ledger.AccountID) (Member, error) {
	return s.one(ctx, `account_id = $1`, int64(account))
}

// AccountByUsername returns the ledger account and the status of a member,
// or CodeNotFound. The intertrade service uses it to find relay payees.
func (s *Service) AccountByUsername(ctx context.Context, username string) (ledger.AccountID, Status, error) {
	m, err := s.ByUsername(ctx, username)
	if err != nil {
		return 0, "", err
	}
	return m.Account, m.Status, nil
}

// Usernames maps ledger account ids to their members' usernames (accounts
// that are not members' are left out).
func (s *Service) Usernames(ctx context.Context, accounts []ledger.AccountID) (map[ledger.AccountID]string, error) {
	ids := make([]int64, len(accounts))
	for i, a := range accounts {
		ids[i] = int64(a)
	}
	rows, err := s.pool.Query(ctx, `SELECT account_id, username FROM members WHERE account_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("members: usernames: %w", err)
	}
	out := make(map[ledger.AccountID]string, len(accounts))
	var id int64
	var name string
	_, err = pgx.ForEachRow(rows, []any{&id, &name}, func() error {
		out[ledger.AccountID(id)] = name
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("members: usernames: %w", err)
	}
	return out, nil
}

// List returns members by username; status "" lists all.
func (s *Service) List(ctx context.Context, status Status) ([]Member, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+memberColumns+` FROM members WHERE $1 = '' OR status = $1 ORDER BY username`, string(status))
	if err != nil {
		return nil, fmt.Errorf("members: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Member, error) { return scanMember(r) })
	if err != nil {
		return nil, fmt.Errorf("members: list: %w", err)
	}
	return out, nil
}

// CheckCurrency reports an error when existing members' accounts are in
// another currency than the service's (a changed currency setting would
// make every payment fail).
func (s *Service) CheckCurrency(ctx context.Context) error {
	var acc int64
	err := s.pool.QueryRow(ctx, `SELECT account_id FROM members ORDER BY id LIMIT 1`).Scan(&acc)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("members: check currency: %w", err)
	}
	a, err := s.ledger.Account(ctx, ledger.AccountID(acc))
	if err != nil {
		return fmt.Errorf("members: check currency: %w", err)
	}
	if a.Currency != s.opts.Currency {
		return fmt.Errorf("the members' accounts are in %s, not %s", a.Currency, s.opts.Currency)
	}
	return nil
}

// Directory lists active members whose username or display name contains
// q (case-insensitive; "" for all), by username, at most limit (1-500).
func (s *Service) Directory(ctx context.Context, q string, limit int) ([]Member, error) {
	if limit < 1 || limit > 500 {
		return nil, invalid("limit", "limit must be from 1 to 500")
	}
	if err := validText("q", q, 100); err != nil {
		return nil, err
	}
	pattern := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.TrimSpace(q)) + "%"
	rows, err := s.pool.Query(ctx, `SELECT `+memberColumns+` FROM members
		WHERE status = 'active' AND (username ILIKE $1 OR display_name ILIKE $1)
		ORDER BY username LIMIT $2`, pattern, limit)
	if err != nil {
		return nil, fmt.Errorf("members: directory: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Member, error) { return scanMember(r) })
	if err != nil {
		return nil, fmt.Errorf("members: directory: %w", err)
	}
	return out, nil
}

// Profile is the editable part of a member.
type Profile struct {
	DisplayName string
	Bio         string
	Contact     string
}

const (
	maxBio     = 2000
	maxContact = 500
)

// UpdateProfile replaces a member's display name, bio and contact.
func (s *Service) UpdateProfile(ctx context.Context, id int64, p Profile) (Member, error) {
	p.DisplayName = strings.TrimSpace(p.DisplayName)
	if p.DisplayName == "" {
		return Member{}, invalid("display_name", "display name must not be empty")
	}
	for _, f := range []struct {
		field, v string
		max      int
	}{{"display_name", p.DisplayName, maxDisplayName}, {"bio", p.Bio, maxBio}, {"contact", p.Contact, maxContact}} {
		if err := validText(f.field, f.v, f.max); err != nil {
			return Member{}, err
		}
	}
	return s.update(ctx, id, `display_name = $2, bio = $3, contact = $4`, p.DisplayName, p.Bio, p.Contact)
}

// ParsePublicKey decodes a base64 (standard or URL, padded or not) Ed25519
// public key of exactly 32 bytes.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != ed25519.PublicKeySize {
				return nil, invalid("public_key", "an Ed25519 public key has %d bytes, this one has %d", ed25519.PublicKeySize, len(b))
			}
			return ed25519.PublicKey(b), nil
		}
	}
	return nil, invalid("public_key", "public key must be base64")
}

// SetPublicKey records the member's Ed25519 public key (base64); an empty
// string removes it.
func (s *Service) SetPublicKey(ctx context.Context, id int64, key string) (Member, error) {
	if strings.TrimSpace(key) == "" {
		return s.update(ctx, id, `public_key = NULL`)
	}
	k, err := ParsePublicKey(key)
	if err != nil {
		return Member{}, err
	}
	return s.update(ctx, id, `public_key = $2`, []byte(k))
}

func (s *Service) update(ctx context.Context, id int64, set string, args ...any) (Member, error) {
	args = append([]any{id}, args...)
	return scanOne(s.pool.QueryRow(ctx, `UPDATE members SET `+set+`, updated_at = now() WHERE id = $1 RETURNING `+memberColumns, args...), "update", id)
}

// Approve approves what a member waits for: a pending member becomes
// active, and a newcomer (see Options.Newcomer) gets the default limits.
// Both happen in one transaction; a member waiting for neither is
// CodeInvalid.
func (s *Service) Approve(ctx context.Context, username string) (Member, error) {
	m, err := s.ByUsername(ctx, username)
	if err != nil {
		return Member{}, err
	}
	if m.Status != StatusPending && !m.Newcomer {
		return Member{}, invalid("status", "%s is %s and has the default limits: there is nothing to approve", username, m.Status)
	}
	if m.Status == StatusBlocked {
		return Member{}, invalid("status", "%s is blocked: unblock them first", username)
	}
	def := s.defaultLimits()
	var out Member
	err = s.ledger.InTx(ctx, func(tx *ledger.Tx) error {
		if m.Newcomer {
			if _, err := tx.SetLimits(ctx, m.Account, def.Min, def.Max); err != nil {
				return err
			}
		}
		row := tx.Conn().QueryRow(ctx, `UPDATE members SET status = 'active', newcomer = false, updated_at = now()
			WHERE id = $1 RETURNING `+memberColumns, m.ID)
		var err error
		out, err = scanOne(row, "approve", username)
		return err
	})
	if err != nil {
		return Member{}, fmt.Errorf("members: approve %s: %w", username, err)
	}
	return out, nil
}

// Block blocks a member: their sessions end and their account is frozen
// (it can neither pay nor be paid).
func (s *Service) Block(ctx context.Context, username string) (Member, error) {
	return s.setBlocked(ctx, username, true)
}

// Unblock makes a blocked member active again and unfreezes their account.
func (s *Service) Unblock(ctx context.Context, username string) (Member, error) {
	return s.setBlocked(ctx, username, false)
}

func (s *Service) setBlocked(ctx context.Context, username string, block bool) (Member, error) {
	m, err := s.ByUsername(ctx, username)
	if err != nil {
		return Member{}, err
	}
	status, accStatus := StatusActive, ledger.StatusActive
	if block {
		status, accStatus = StatusBlocked, ledger.StatusFrozen
	} else if m.Status != StatusBlocked {
		return Member{}, invalid("status", "%s is %s, not blocked", username, m.Status)
	}
	err = s.ledger.InTx(ctx, func(tx *ledger.Tx) error {
		if _, err := tx.SetStatus(ctx, m.Account, accStatus); err != nil {
			return err
		}
		c := tx.Conn()
		if _, err := c.Exec(ctx, `UPDATE members SET status = $2, updated_at = now() WHERE id = $1`, m.ID, status); err != nil {
			return err
		}
		if block {
			_, err := c.Exec(ctx, `DELETE FROM member_sessions WHERE member_id = $1`, m.ID)
			return err
		}
		return nil
	})
	if err != nil {
		return Member{}, fmt.Errorf("members: block: %w", err)
	}
	return s.ByID(ctx, m.ID)
}

// SetRole makes a member an admin or a plain member.
func (s *Service) SetRole(ctx context.Context, username string, role Role) (Member, error) {
	if role != RoleMember && role != RoleAdmin {
		return Member{}, invalid("role", "role must be member or admin")
	}
	m, err := s.ByUsername(ctx, username)
	if err != nil {
		return Member{}, err
	}
	return s.update(ctx, m.ID, `role = $2`, role)
}

// SetPassword replaces a member's password and ends their sessions.
func (s *Service) SetPassword(ctx context.Context, username, password string) error {
	if err := validPassword(password); err != nil {
		return err
	}
	m, err := s.ByUsername(ctx, username)
	if err != nil {
		return err
	}
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return err
	}
	return s.storePassword(ctx, m.ID, hash, ``)
}

// storePassword sets member id's password hash and, in the same
// transaction, ends their sessions: all of them when only is "", else those
// that also meet the SQL condition only (e.g. ` AND token_hash <> $2`,
// its arguments numbered from $2).
func (s *Service) storePassword(ctx context.Context, id int64, hash, only string, onlyArgs ...any) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("members: password: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `UPDATE members SET password_hash = $2, updated_at = now() WHERE id = $1`, id, hash); err != nil {
		return fmt.Errorf("members: password: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM member_sessions WHERE member_id = $1`+only, append([]any{id}, onlyArgs...)...); err != nil {
		return fmt.Errorf("members: password: %w", err)
	}
	// A new password lifts any log-in lock on the account.
	if _, err := tx.Exec(ctx, `DELETE FROM member_login_failures WHERE username = (SELECT username FROM members WHERE id = $1)`, id); err != nil {
		return fmt.Errorf("members: password: %w", err)
	}
	return tx.Commit(ctx)
}

// ChangePassword replaces a member's own password after checking the
// current one, and ends their other sessions (keepToken's stays).
func (s *Service) ChangePassword(ctx context.Context, id int64, current, next, keepToken string) error {
	var hash string
	err := s.pool.QueryRow(ctx, `SELECT password_hash FROM members WHERE id = $1`, id).Scan(&hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return refuse(CodeNotFound, "no member %d", id)
	}
	if err != nil {
		return fmt.Errorf("members: password: %w", err)
	}
	ok, err := s.checkPassword(ctx, hash, current)
	if err != nil {
		return err
	}
	if !ok {
		return &Error{Code: CodeInvalid, Field: "current_password", Message: "the current password is wrong"}
	}
	if err := validPassword(next); err != nil {
		err.(*Error).Field = "new_password"
		return err
	}
	newHash, err := s.hashPassword(ctx, next)
	if err != nil {
		return err
	}
	return s.storePassword(ctx, id, newHash, ` AND token_hash <> $2`, hashToken(keepToken))
}

func validText(field, v string, max int) error {
	if !utf8.ValidString(v) {
		return invalid(field, "%s must be UTF-8 text", field)
	}
	if utf8.RuneCountInString(v) > max {
		return invalid(field, "%s must have at most %d characters", field, max)
	}
	if strings.ContainsRune(v, 0) {
		return invalid(field, "%s must not contain NUL characters", field)
	}
	return nil
}

func isUnique(err error, constraint string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == constraint
}
