package messages

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/ledger/jobs"
	"github.com/sxp-network/sxp/server/federation"
)

// Messages to and from members of peered communities go over the
// federation channel as the sxp-fed/1 extension
//
//	POST /federation/v1/messages {"id": uuid, "from": "gwen@leaf", "to": "bob@acorn",
//	                              "body", "offer": event id or absent, "sent_at"}
//
// signed by the sender's server. An outgoing message is kept with its
// delivery state (the outbox) and sent by the message_deliveries job,
// with the deals' retry rules: backoff from RetryBase to RetryMax, at once
// when the federation outbox reached that peer again, and a refusal is
// final.

// Defaults of the delivery of messages to peers.
const (
	DefaultRetryBase = 2 * time.Second
	DefaultRetryMax  = 5 * time.Minute
	JobDeliveries    = "message_deliveries"
	maxDeliveries    = 500
)

// Wire is a message on the federation channel.
type Wire struct {
	ID     string    `json:"id"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Body   string    `json:"body"`
	Offer  string    `json:"offer,omitempty"`
	SentAt time.Time `json:"sent_at"`
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// newUUID is a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

var remoteRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}@[A-Za-z0-9._-]{1,100}$`)

// validRemote reports whether s is spelled member@community.
func validRemote(s string) bool { return remoteRE.MatchString(s) }

// checkRate refuses (CodeTooMany) when the sender selected by where ($1 =
// who) has sent Rate messages in the last Window.
func (s *Service) checkRate(ctx context.Context, tx pgx.Tx, where string, who any, now time.Time, subject string) error {
	var sent int
	var oldest *time.Time
	err := tx.QueryRow(ctx, `SELECT count(*), min(created_at) FROM messages WHERE `+where+` AND created_at > $2`,
		who, now.Add(-s.cfg.Window)).Scan(&sent, &oldest)
	if err != nil {
		return fmt.Errorf("messages: count: %w", err)
	}
	if sent >= s.cfg.Rate {
		retry := time.Second
		if oldest != nil {
			retry = max(retry, oldest.Add(s.cfg.Window).Sub(now).Round(time.Second))
		}
		return &Error{Code: CodeTooMany, RetryAfter: retry,
			Message: fmt.Sprintf("%s sent %d messages in the last %s, the most allowed; try again in %s", subject, sent, s.cfg.Window, retry)}
	}
	return nil
}

// Peer is a peered community a member may write to.
type Peer struct{ BaseURL, Name string }

// RemotePeer finds the active peer of member@community, or refuses
// (CodeRemote).
func (s *Service) RemotePeer(ctx context.Context, addr string) (Peer, error) {
	if !validRemote(addr) {
		return Peer{}, &Error{Code: CodeInvalid, Field: "to", Message: quote(addr) + " is not a member of a community: write member@community"}
	}
	return s.remotePeer(ctx, s.pool, addr)
}

func (s *Service) remotePeer(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, addr string) (Peer, error) {
	_, community, _ := strings.Cut(addr, "@")
	var p Peer
	err := q.QueryRow(ctx, `SELECT base_url, name FROM federation_peers WHERE community_id = $1 AND state = 'active'
		ORDER BY id LIMIT 1`, community).Scan(&p.BaseURL, &p.Name)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && s.cfg.Send == nil) {
		return Peer{}, &Error{Code: CodeRemote, Field: "to", Message: "messages to " + quote(addr) +
			" are not available: " + quote(community) + " is not a community this one is peered with"}
	}
	if err != nil {
		return Peer{}, fmt.Errorf("messages: peer: %w", err)
	}
	return p, nil
}

func (s *Service) sendRemote(ctx context.Context, tx pgx.Tx, fromID int64, from string, d Draft, now time.Time) (Message, error) {
	p, err := s.remotePeer(ctx, tx, d.To)
	if err != nil {
		return Message{}, err
	}
	if err := s.checkRate(ctx, tx, `sender_id = $1`, fromID, now, "you have"); err != nil {
		return Message{}, err
	}
	var about *int64
	var offer *string
	m := Message{From: from, To: d.To, ToName: d.To, Body: d.Body, CreatedAt: now, Delivery: "pending"}
	if p.Name != "" {
		m.ToName += " (" + p.Name + ")"
	}
	if d.AnnouncementID > 0 {
		var origin string
		var originID *string
		err := tx.QueryRow(ctx, `SELECT origin, origin_id, title FROM announcements WHERE id = $1`, d.AnnouncementID).
			Scan(&origin, &originID, &m.AnnouncementTitle)
		if errors.Is(err, pgx.ErrNoRows) {
			return Message{}, &Error{Code: CodeInvalid, Field: "announcement_id", Message: fmt.Sprintf("there is no announcement %d", d.AnnouncementID)}
		}
		if err != nil {
			return Message{}, fmt.Errorf("messages: announcement: %w", err)
		}
		id := s.cfg.BaseURL + "/announcements/" + strconv.FormatInt(d.AnnouncementID, 10)
		if origin != "local" && originID != nil {
			id = *originID
		}
		about, offer, m.AnnouncementID = &d.AnnouncementID, &id, d.AnnouncementID
	}
	err = tx.QueryRow(ctx, `INSERT INTO messages (sender_id, remote, peer, uid, announcement_id, offer, body, created_at, delivery, next_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $8) RETURNING id`,
		fromID, d.To, p.BaseURL, newUUID(), about, offer, d.Body, now).Scan(&m.ID)
	if err != nil {
		return Message{}, fmt.Errorf("messages: insert: %w", err)
	}
	if err := tx.QueryRow(ctx, `SELECT display_name FROM members WHERE id = $1`, fromID).Scan(&m.FromName); err != nil {
		return Message{}, fmt.Errorf("messages: sender: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return Message{}, fmt.Errorf("messages: commit: %w", err)
	}
	return m, nil
}

// CheckWire checks a message a peer sent, a pure rule: peerCommunity is
// the community id of the verified sending server, own this community's.
func CheckWire(w Wire, peerCommunity, own string) (Wire, string, error) {
	bad := func(field, msg string) (Wire, string, error) {
		return w, "", &Error{Code: CodeInvalid, Field: field, Message: msg}
	}
	if !uuidRE.MatchString(w.ID) {
		return bad("id", "id must be a UUID")
	}
	w.ID = strings.ToLower(w.ID)
	fromUser, fromCommunity, _ := strings.Cut(w.From, "@")
	toUser, toCommunity, _ := strings.Cut(w.To, "@")
	switch {
	case !validRemote(w.From) || fromUser == "":
		return bad("from", "from must be member@community")
	case fromCommunity != peerCommunity:
		return bad("from", "from must be a member of the sending community ("+peerCommunity+"): no relaying in sxp-fed/1")
	case !validRemote(w.To) || toCommunity != own:
		return bad("to", "to must be a member of this community, member@"+own)
	case w.SentAt.IsZero():
		return bad("sent_at", "sent_at is required")
	case len(w.Offer) > 1000:
		return bad("offer", "offer is too long")
	}
	d, err := CheckDraft(w.From, Draft{To: toUser, Body: w.Body})
	if err != nil {
		return w, "", err
	}
	w.Body = d.Body
	if utf8.RuneCountInString(w.Body) > MaxBody {
		return bad("body", "the message is too long")
	}
	return w, toUser, nil
}

// Receive stores a message a peer (peerBase, community peerCommunity)
// sent. A message whose id was stored before is not stored again: stored
// is false. The sending member may send Rate messages per Window here.
func (s *Service) Receive(ctx context.Context, peerBase, peerCommunity string, w Wire) (stored bool, err error) {
	w, to, err := CheckWire(w, peerCommunity, s.cfg.CommunityID)
	if err != nil {
		return false, err
	}
	now := s.cfg.Now().UTC()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("messages: begin: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('messages:' || $1::text, 0))`, w.From); err != nil {
		return false, fmt.Errorf("messages: lock: %w", err)
	}
	var seen bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM messages WHERE uid = $1)`, w.ID).Scan(&seen); err != nil {
		return false, fmt.Errorf("messages: received: %w", err)
	}
	if seen {
		return false, nil
	}
	if err := s.checkRate(ctx, tx, `remote = $1 AND sender_id IS NULL`, w.From, now, w.From+" has"); err != nil {
		return false, err
	}
	var toID int64
	err = tx.QueryRow(ctx, `SELECT id FROM members WHERE username = $1 AND status = 'active'`, to).Scan(&toID)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, &Error{Code: CodeUnknownMember, Field: "to", Message: "there is no member " + quote(to) + " here"}
	}
	if err != nil {
		return false, fmt.Errorf("messages: recipient: %w", err)
	}
	// A message about one of our own offers links to it.
	var about *int64
	if id, ok := strings.CutPrefix(w.Offer, s.cfg.BaseURL+"/announcements/"); ok {
		if n, err := strconv.ParseInt(id, 10, 64); err == nil {
			err := tx.QueryRow(ctx, `SELECT id FROM announcements WHERE id = $1 AND origin = 'local'`, n).Scan(&n)
			if err == nil {
				about = &n
			}
		}
	} else if w.Offer != "" {
		var n int64
		if err := tx.QueryRow(ctx, `SELECT id FROM announcements WHERE origin_id = $1`, w.Offer).Scan(&n); err == nil {
			about = &n
		}
	}
	_, err = tx.Exec(ctx, `INSERT INTO messages (recipient_id, remote, peer, uid, announcement_id, offer, body, created_at)
		VALUES ($1, $2, $3, $4, $5, nullif($6, ''), $7, $8)`, toID, w.From, peerBase, w.ID, about, w.Offer, w.Body, now)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.ConstraintName == "messages_uid_key" {
			return false, nil // the same message, stored by a request in parallel
		}
		return false, fmt.Errorf("messages: insert: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("messages: commit: %w", err)
	}
	return true, nil
}

// Jobs is the delivery of messages to members of peers.
func (s *Service) Jobs() []jobs.Job {
	return []jobs.Job{{Name: JobDeliveries, Every: s.cfg.RetryBase, Jitter: s.cfg.RetryBase / 4, Run: s.Deliver}}
}

// deliverLockKey is the PostgreSQL advisory lock a Deliver pass holds.
const deliverLockKey = 0x5850_0d_e55a

type outgoing struct {
	id       int64
	peer     string
	attempts int
	due      bool
	wire     Wire
}

// Deliver sends the messages to members of peers that are due, oldest
// first for each peer, as deals deliver proposals: due at first, then
// after each failure with exponential backoff, and at once when the
// federation outbox has delivered to that peer since the message last
// failed. Messages to a peer no longer active wait (peering may come
// back). A peer that fails is not tried again in the same pass. A refusal
// (400, 404, 409, 410, 413, 422) is final. It returns how many it
// delivered (the message_deliveries job).
func (s *Service) Deliver(ctx context.Context) (int64, error) {
	if s.cfg.Send == nil {
		return 0, nil
	}
	unlock, mine, err := ledger.TryLock(ctx, s.pool, deliverLockKey)
	if err != nil {
		return 0, fmt.Errorf("messages: deliveries: %w", err)
	}
	if !mine {
		return 0, nil
	}
	defer unlock()
	now := s.cfg.Now()
	rows, err := s.pool.Query(ctx, `
		SELECT m.id, m.peer, m.attempts, m.next_at <= $1 OR coalesce(fp.last_delivery_at > m.last_try_at, false),
		       m.uid::text, s.username, m.remote, m.body, coalesce(m.offer, ''), m.created_at
		  FROM messages m JOIN members s ON s.id = m.sender_id
		  JOIN federation_peers fp ON fp.base_url = m.peer AND fp.state = 'active'
		 WHERE m.delivery = 'pending'
		 ORDER BY m.peer, m.id LIMIT $2`, now, maxDeliveries)
	if err != nil {
		return 0, fmt.Errorf("messages: deliveries: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (outgoing, error) {
		var o outgoing
		err := r.Scan(&o.id, &o.peer, &o.attempts, &o.due, &o.wire.ID, &o.wire.From, &o.wire.To, &o.wire.Body, &o.wire.Offer, &o.wire.SentAt)
		o.wire.From += "@" + s.cfg.CommunityID
		o.wire.SentAt = o.wire.SentAt.UTC()
		return o, err
	})
	if err != nil {
		return 0, fmt.Errorf("messages: deliveries: %w", err)
	}
	var delivered int64
	down := map[string]bool{}
	for _, o := range list {
		if down[o.peer] || !o.due {
			continue
		}
		body, err := json.Marshal(o.wire)
		if err != nil {
			return delivered, fmt.Errorf("messages: deliveries: %w", err)
		}
		err = s.cfg.Send(ctx, o.peer+"/federation/v1/messages", body)
		if ctx.Err() != nil {
			return delivered, ctx.Err()
		}
		now := s.cfg.Now()
		switch {
		case err == nil:
			_, err = s.pool.Exec(ctx, `UPDATE messages SET delivery = 'delivered', attempts = attempts + 1,
				last_try_at = $2, delivered_at = $2, last_error = '' WHERE id = $1`, o.id, now)
			delivered++
		case federation.Refused(err):
			s.cfg.Logger.Warn("messages: a peer refused a message", "peer", o.peer, "id", o.wire.ID, "err", err)
			_, err = s.pool.Exec(ctx, `UPDATE messages SET delivery = 'refused', attempts = attempts + 1,
				last_try_at = $2, last_error = $3 WHERE id = $1`, o.id, now, ledger.Truncate(err.Error(), 500))
		default:
			down[o.peer] = true
			s.cfg.Logger.Info("messages: sending failed, will retry", "peer", o.peer, "attempts", o.attempts+1, "err", err)
			_, err = s.pool.Exec(ctx, `UPDATE messages SET attempts = attempts + 1, last_try_at = $2,
				next_at = $3, last_error = $4 WHERE id = $1`, o.id, now, now.Add(federation.RetryAfter(s.cfg.RetryBase, s.cfg.RetryMax, o.attempts+1)), ledger.Truncate(err.Error(), 500))
		}
		if err != nil {
			return delivered, fmt.Errorf("messages: deliveries: %w", err)
		}
	}
	return delivered, nil
}
