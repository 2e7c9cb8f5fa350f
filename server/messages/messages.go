// Package messages holds the messages members write to each other (to the
// author of an offer, say), kept on the server: conversations between two
// members (local, or one of them a member of a peered community, as
// bob@acorn: remote.go), read marks and unread counts, and a per-member limit on
// how many messages one may send.
package messages

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Limits.
const (
	MaxBody = 4000 // characters of a message
	// DefaultRate and DefaultWindow: a member may send at most DefaultRate
	// messages in any DefaultWindow.
	DefaultRate   = 30
	DefaultWindow = 10 * time.Minute
	MaxPage       = 200
)

// Error codes, safe to show to a client; the HTTP layer maps each to a status.
const (
	CodeInvalid       = "invalid"        // bad input; Field names it
	CodeUnknownMember = "unknown_member" // no active local member of that name
	CodeRemote        = "not_available"  // member@community of no active peer
	CodeTooMany       = "too_many_messages"
)

// Codes lists every code, for the HTTP layer's code → status table and its test.
func Codes() []string { return []string{CodeInvalid, CodeUnknownMember, CodeRemote, CodeTooMany} }

// Error is a refusal; nothing was stored when an operation returns one.
type Error struct {
	Code       string
	Field      string
	Message    string
	RetryAfter time.Duration // CodeTooMany
}

func (e *Error) Error() string { return "messages: " + e.Code + ": " + e.Message }

// CodeOf returns the code of a messages refusal in err's chain, or "".
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Config configures a Service.
type Config struct {
	// Rate messages per Window per sender; DefaultRate and DefaultWindow when 0.
	Rate   int
	Window time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// CommunityID and BaseURL name this community to peers (gwen@leaf).
	CommunityID, BaseURL string
	// Send sends a signed POST to a peer (federation's Post); remote
	// messages are refused (not_available) without it.
	Send func(ctx context.Context, target string, body []byte) error
	// RetryBase and RetryMax: the backoff of deliveries to a peer that
	// failed (DefaultRetryBase, DefaultRetryMax when 0).
	RetryBase, RetryMax time.Duration
	Logger              *slog.Logger
}

// Service is the messages of one community.
type Service struct {
	pool *pgxpool.Pool
	cfg  Config
}

// New returns the messages service on pool.
func New(pool *pgxpool.Pool, cfg Config) *Service {
	if cfg.Rate <= 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.RetryBase = cmp.Or(cfg.RetryBase, DefaultRetryBase)
	cfg.RetryMax = cmp.Or(cfg.RetryMax, DefaultRetryMax)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{pool: pool, cfg: cfg}
}

// Message is one message.
type Message struct {
	ID                int64
	From, To          string // usernames; member@community for a member of a peer
	FromName, ToName  string // display names
	AnnouncementID    int64  // the offer or want it is about; 0 for none
	AnnouncementTitle string
	Body              string
	CreatedAt         time.Time
	ReadAt            *time.Time
	Delivery          string // to a member of a peer: pending, delivered or refused
}

// Draft is a message to send.
type Draft struct {
	To             string // a local username, or member@community of a peer
	Body           string
	AnnouncementID int64 // optional
}

// CheckDraft checks what can be checked without the database: a pure rule.
func CheckDraft(from string, d Draft) (Draft, error) {
	d.To = strings.TrimSpace(d.To)
	d.Body = strings.TrimSpace(d.Body)
	switch {
	case d.To == "":
		return d, &Error{Code: CodeInvalid, Field: "to", Message: "say whom the message is for"}
	case strings.Contains(d.To, "@") && !validRemote(d.To):
		return d, &Error{Code: CodeInvalid, Field: "to", Message: quote(d.To) + " is not a member of a community: write member@community"}
	case d.To == from:
		return d, &Error{Code: CodeInvalid, Field: "to", Message: "you cannot send a message to yourself"}
	case !utf8.ValidString(d.Body):
		return d, &Error{Code: CodeInvalid, Field: "body", Message: "the message is not valid UTF-8 text"}
	case d.Body == "":
		return d, &Error{Code: CodeInvalid, Field: "body", Message: "the message is empty: write something"}
	case utf8.RuneCountInString(d.Body) > MaxBody:
		return d, &Error{Code: CodeInvalid, Field: "body", Message: fmt.Sprintf("the message has %d characters; at most %d are allowed",
			utf8.RuneCountInString(d.Body), MaxBody)}
	case strings.ContainsRune(d.Body, 0):
		return d, &Error{Code: CodeInvalid, Field: "body", Message: "the message contains a NUL character"}
	case d.AnnouncementID < 0:
		return d, &Error{Code: CodeInvalid, Field: "announcement_id", Message: "announcement_id must be a positive id"}
	}
	return d, nil
}

// Send stores a message from the member fromID (username from) to d.To,
// a local active member, unless the sender has sent Rate messages in the
// last Window.
func (s *Service) Send(ctx context.Context, fromID int64, from string, d Draft) (Message, error) {
	d, err := CheckDraft(from, d)
	if err != nil {
		return Message{}, err
	}
	now := s.cfg.Now().UTC()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return Message{}, fmt.Errorf("messages: begin: %w", err)
	}
	defer tx.Rollback(ctx)
	// One sender's messages are counted one at a time, so that parallel
	// sends cannot pass the limit together.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('messages:' || $1::bigint, 0))`, fromID); err != nil {
		return Message{}, fmt.Errorf("messages: lock: %w", err)
	}
	if user, community, ok := strings.Cut(d.To, "@"); ok {
		if community != s.cfg.CommunityID {
			return s.sendRemote(ctx, tx, fromID, from, d, now)
		}
		d.To = user
		if d.To == from {
			return Message{}, &Error{Code: CodeInvalid, Field: "to", Message: "you cannot send a message to yourself"}
		}
	}
	var toID int64
	var toName string
	err = tx.QueryRow(ctx, `SELECT id, display_name FROM members WHERE username = $1 AND status = 'active'`, d.To).Scan(&toID, &toName)
	if errors.Is(err, pgx.ErrNoRows) {
		return Message{}, &Error{Code: CodeUnknownMember, Field: "to", Message: "there is no member " + quote(d.To) + " here"}
	}
	if err != nil {
		return Message{}, fmt.Errorf("messages: recipient: %w", err)
	}
	if err := s.checkRate(ctx, tx, `sender_id = $1`, fromID, now, "you have"); err != nil {
		return Message{}, err
	}
	var about *int64
	if d.AnnouncementID > 0 {
		about = &d.AnnouncementID
	}
	m := Message{From: from, To: d.To, ToName: toName, AnnouncementID: d.AnnouncementID, Body: d.Body, CreatedAt: now}
	err = tx.QueryRow(ctx, `INSERT INTO messages (sender_id, recipient_id, announcement_id, body, created_at)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`, fromID, toID, about, d.Body, now).Scan(&m.ID)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.ConstraintName == "messages_announcement_fkey" {
			return Message{}, &Error{Code: CodeInvalid, Field: "announcement_id", Message: fmt.Sprintf("there is no announcement %d", d.AnnouncementID)}
		}
		return Message{}, fmt.Errorf("messages: insert: %w", err)
	}
	if about != nil {
		if err := tx.QueryRow(ctx, `SELECT title FROM announcements WHERE id = $1`, *about).Scan(&m.AnnouncementTitle); err != nil {
			return Message{}, fmt.Errorf("messages: announcement: %w", err)
		}
	}
	if err := tx.QueryRow(ctx, `SELECT display_name FROM members WHERE id = $1`, fromID).Scan(&m.FromName); err != nil {
		return Message{}, fmt.Errorf("messages: sender: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return Message{}, fmt.Errorf("messages: commit: %w", err)
	}
	return m, nil
}

func quote(s string) string { return `"` + s + `"` }

// Unread counts the messages to memberID not yet read.
func (s *Service) Unread(ctx context.Context, memberID int64) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE recipient_id = $1 AND read_at IS NULL`, memberID).Scan(&n); err != nil {
		return 0, fmt.Errorf("messages: unread: %w", err)
	}
	return n, nil
}

// Conversation is the messages between a member and one other member.
type Conversation struct {
	With, WithName string // member@community and the community's name for a member of a peer
	Last           Message
	Unread         int // messages from With not read yet
	Count          int
}

// Each message of a member, with the other side named: a local username,
// or member@community; and that side's display name (for a member of a
// peer: member@community (the community's name)).
const mineSQL = `
	SELECT m.*, coalesce(m.remote, CASE WHEN m.sender_id = $1 THEN r.username ELSE s.username END) AS other,
	       CASE WHEN m.remote IS NULL THEN CASE WHEN m.sender_id = $1 THEN r.display_name ELSE s.display_name END
	            ELSE m.remote || coalesce(' (' || nullif(fp.name, '') || ')', '') END AS other_name,
	       coalesce(s.username, m.remote) AS from_user, coalesce(r.username, m.remote) AS to_user,
	       CASE WHEN s.id IS NULL THEN m.remote || coalesce(' (' || nullif(fp.name, '') || ')', '') ELSE s.display_name END AS from_name,
	       CASE WHEN r.id IS NULL THEN m.remote || coalesce(' (' || nullif(fp.name, '') || ')', '') ELSE r.display_name END AS to_name
	  FROM messages m LEFT JOIN members s ON s.id = m.sender_id LEFT JOIN members r ON r.id = m.recipient_id
	  LEFT JOIN federation_peers fp ON fp.base_url = m.peer
	 WHERE (m.sender_id = $1 OR m.recipient_id = $1)`

// Conversations lists memberID's conversations, the latest first.
func (s *Service) Conversations(ctx context.Context, memberID int64) ([]Conversation, error) {
	rows, err := s.pool.Query(ctx, `
		WITH mine AS (`+mineSQL+`),
		last AS (
			SELECT DISTINCT ON (other) * FROM mine ORDER BY other, id DESC)
		SELECT l.other, l.other_name, l.id, l.from_user, l.to_user, l.body, l.created_at, l.read_at, coalesce(l.delivery, ''),
		       (SELECT count(*) FROM mine x WHERE x.other = l.other AND x.recipient_id = $1 AND x.read_at IS NULL),
		       (SELECT count(*) FROM mine x WHERE x.other = l.other)
		  FROM last l
		 ORDER BY l.id DESC`, memberID)
	if err != nil {
		return nil, fmt.Errorf("messages: conversations: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Conversation, error) {
		var c Conversation
		err := r.Scan(&c.With, &c.WithName, &c.Last.ID, &c.Last.From, &c.Last.To, &c.Last.Body, &c.Last.CreatedAt, &c.Last.ReadAt,
			&c.Last.Delivery, &c.Unread, &c.Count)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("messages: conversations: %w", err)
	}
	return out, nil
}

// Thread returns the messages between memberID and the member with (a
// local username or member@community), oldest first: the last limit of
// them, or those before the id before.
func (s *Service) Thread(ctx context.Context, memberID int64, with string, before int64, limit int) ([]Message, error) {
	if limit < 1 || limit > MaxPage {
		return nil, &Error{Code: CodeInvalid, Field: "limit", Message: fmt.Sprintf("limit must be from 1 to %d", MaxPage)}
	}
	other, err := s.other(ctx, with)
	if err != nil {
		return nil, err
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.pool.Query(ctx, `
		SELECT * FROM (
			SELECT m.id, m.from_user, m.to_user, m.from_name, m.to_name, coalesce(m.announcement_id, 0),
			       coalesce(a.title, ''), m.body, m.created_at, m.read_at, coalesce(m.delivery, '')
			  FROM (`+mineSQL+`) m
			  LEFT JOIN announcements a ON a.id = m.announcement_id
			 WHERE m.other = $2 AND m.id < $3
			 ORDER BY m.id DESC LIMIT $4) t
		 ORDER BY id`, memberID, other, before, limit)
	if err != nil {
		return nil, fmt.Errorf("messages: thread: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Message, error) {
		var m Message
		err := r.Scan(&m.ID, &m.From, &m.To, &m.FromName, &m.ToName, &m.AnnouncementID, &m.AnnouncementTitle, &m.Body, &m.CreatedAt, &m.ReadAt, &m.Delivery)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("messages: thread: %w", err)
	}
	if out == nil {
		out = []Message{}
	}
	return out, nil
}

// MarkRead marks every message from with to memberID read and says how many were unread.
func (s *Service) MarkRead(ctx context.Context, memberID int64, with string) (int, error) {
	other, err := s.other(ctx, with)
	if err != nil {
		return 0, err
	}
	tag, err := s.pool.Exec(ctx, `UPDATE messages m SET read_at = $3 WHERE recipient_id = $1 AND read_at IS NULL
		AND (m.remote = $2 OR (m.remote IS NULL AND m.sender_id = (SELECT id FROM members WHERE username = $2)))`,
		memberID, other, s.cfg.Now().UTC())
	if err != nil {
		return 0, fmt.Errorf("messages: mark read: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// other checks the other side of a conversation: a local member of any
// status (a conversation with a member since blocked stays readable), or
// member@community (of a peer, or once of a peer), and returns its name as
// conversations name it.
func (s *Service) other(ctx context.Context, name string) (string, error) {
	if user, community, ok := strings.Cut(name, "@"); ok {
		if community != s.cfg.CommunityID {
			if !validRemote(name) {
				return "", &Error{Code: CodeInvalid, Field: "with", Message: quote(name) + " is not a member of a community: write member@community"}
			}
			return name, nil
		}
		name = user
	}
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT id FROM members WHERE username = $1`, name).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", &Error{Code: CodeUnknownMember, Field: "with", Message: "there is no member " + quote(name) + " here"}
	}
	if err != nil {
		return "", fmt.Errorf("messages: member: %w", err)
	}
	return name, nil
}
