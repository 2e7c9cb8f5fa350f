// Package messages holds the messages members write to each other (to the
// author of an offer, say), kept on the server: conversations between two
// local members, read marks and unread counts, and a per-member limit on
// how many messages one may send.
package messages

import (
	"context"
	"errors"
	"fmt"
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
	CodeRemote        = "not_available"  // member@community: not available yet
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
	return &Service{pool: pool, cfg: cfg}
}

// Message is one message.
type Message struct {
	ID                int64
	From, To          string // usernames
	FromName, ToName  string // display names
	AnnouncementID    int64  // the offer or want it is about; 0 for none
	AnnouncementTitle string
	Body              string
	CreatedAt         time.Time
	ReadAt            *time.Time
}

// Draft is a message to send.
type Draft struct {
	To             string // a local username
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
	case strings.Contains(d.To, "@"):
		return d, &Error{Code: CodeRemote, Field: "to", Message: "messages to members of other communities (" + d.To +
			") are not available yet: contact them in their own community"}
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
	var toID int64
	var toName string
	err = tx.QueryRow(ctx, `SELECT id, display_name FROM members WHERE username = $1 AND status = 'active'`, d.To).Scan(&toID, &toName)
	if errors.Is(err, pgx.ErrNoRows) {
		return Message{}, &Error{Code: CodeUnknownMember, Field: "to", Message: "there is no member " + quote(d.To) + " here"}
	}
	if err != nil {
		return Message{}, fmt.Errorf("messages: recipient: %w", err)
	}
	var sent int
	var oldest *time.Time
	err = tx.QueryRow(ctx, `SELECT count(*), min(created_at) FROM messages WHERE sender_id = $1 AND created_at > $2`,
		fromID, now.Add(-s.cfg.Window)).Scan(&sent, &oldest)
	if err != nil {
		return Message{}, fmt.Errorf("messages: count: %w", err)
	}
	if sent >= s.cfg.Rate {
		retry := time.Second
		if oldest != nil {
			retry = max(retry, oldest.Add(s.cfg.Window).Sub(now).Round(time.Second))
		}
		return Message{}, &Error{Code: CodeTooMany, RetryAfter: retry,
			Message: fmt.Sprintf("you have sent %d messages in the last %s, the most allowed; try again in %s", sent, s.cfg.Window, retry)}
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
	With, WithName string
	Last           Message
	Unread         int // messages from With not read yet
	Count          int
}

// Conversations lists memberID's conversations, the latest first.
func (s *Service) Conversations(ctx context.Context, memberID int64) ([]Conversation, error) {
	rows, err := s.pool.Query(ctx, `
		WITH mine AS (
			SELECT m.*, CASE WHEN m.sender_id = $1 THEN m.recipient_id ELSE m.sender_id END AS other
			  FROM messages m WHERE m.sender_id = $1 OR m.recipient_id = $1),
		last AS (
			SELECT DISTINCT ON (other) * FROM mine ORDER BY other, id DESC)
		SELECT o.username, o.display_name, l.id, s.username, r.username, l.body, l.created_at, l.read_at,
		       (SELECT count(*) FROM mine x WHERE x.other = l.other AND x.recipient_id = $1 AND x.read_at IS NULL),
		       (SELECT count(*) FROM mine x WHERE x.other = l.other)
		  FROM last l JOIN members o ON o.id = l.other
		  JOIN members s ON s.id = l.sender_id JOIN members r ON r.id = l.recipient_id
		 ORDER BY l.id DESC`, memberID)
	if err != nil {
		return nil, fmt.Errorf("messages: conversations: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Conversation, error) {
		var c Conversation
		err := r.Scan(&c.With, &c.WithName, &c.Last.ID, &c.Last.From, &c.Last.To, &c.Last.Body, &c.Last.CreatedAt, &c.Last.ReadAt, &c.Unread, &c.Count)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("messages: conversations: %w", err)
	}
	return out, nil
}

// Thread returns the messages between memberID and the member with,
// oldest first: the last limit of them, or those before the id before.
func (s *Service) Thread(ctx context.Context, memberID int64, with string, before int64, limit int) ([]Message, error) {
	if limit < 1 || limit > MaxPage {
		return nil, &Error{Code: CodeInvalid, Field: "limit", Message: fmt.Sprintf("limit must be from 1 to %d", MaxPage)}
	}
	otherID, err := s.other(ctx, with)
	if err != nil {
		return nil, err
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.pool.Query(ctx, `
		SELECT * FROM (
			SELECT m.id, s.username, r.username, s.display_name, r.display_name, coalesce(m.announcement_id, 0),
			       coalesce(a.title, ''), m.body, m.created_at, m.read_at
			  FROM messages m JOIN members s ON s.id = m.sender_id JOIN members r ON r.id = m.recipient_id
			  LEFT JOIN announcements a ON a.id = m.announcement_id
			 WHERE ((m.sender_id = $1 AND m.recipient_id = $2) OR (m.sender_id = $2 AND m.recipient_id = $1)) AND m.id < $3
			 ORDER BY m.id DESC LIMIT $4) t
		 ORDER BY id`, memberID, otherID, before, limit)
	if err != nil {
		return nil, fmt.Errorf("messages: thread: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Message, error) {
		var m Message
		err := r.Scan(&m.ID, &m.From, &m.To, &m.FromName, &m.ToName, &m.AnnouncementID, &m.AnnouncementTitle, &m.Body, &m.CreatedAt, &m.ReadAt)
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
	otherID, err := s.other(ctx, with)
	if err != nil {
		return 0, err
	}
	tag, err := s.pool.Exec(ctx, `UPDATE messages SET read_at = $3 WHERE recipient_id = $1 AND sender_id = $2 AND read_at IS NULL`,
		memberID, otherID, s.cfg.Now().UTC())
	if err != nil {
		return 0, fmt.Errorf("messages: mark read: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// other finds a local member by username, of any status (a conversation
// with a member since blocked stays readable).
func (s *Service) other(ctx context.Context, username string) (int64, error) {
	if strings.Contains(username, "@") {
		return 0, &Error{Code: CodeRemote, Field: "with", Message: "conversations with members of other communities are not available yet"}
	}
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT id FROM members WHERE username = $1`, username).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, &Error{Code: CodeUnknownMember, Field: "with", Message: "there is no member " + quote(username) + " here"}
	}
	if err != nil {
		return 0, fmt.Errorf("messages: member: %w", err)
	}
	return id, nil
}
