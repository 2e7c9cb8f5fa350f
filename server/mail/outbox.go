package mail

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sxp-network/sxp/ledger"
)

// outMessage is one message to write to the outbox.
type outMessage struct {
	member  int64
	kind    string
	to      string
	subject string
	body    string
	dedup   string // "" for none; a second message with the same key is not written
}

// enqueue writes m to the outbox in tx; it is sent by the next drain.
func (s *Service) enqueue(ctx context.Context, tx pgx.Tx, m outMessage, now time.Time) error {
	var dedup *string
	if m.dedup != "" {
		dedup = &m.dedup
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO mail_outbox (member_id, kind, recipient, subject, body, dedup_key, next_attempt_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (dedup_key) DO NOTHING`,
		m.member, m.kind, m.to, m.subject, m.body, dedup, now)
	if err != nil {
		return fmt.Errorf("mail: outbox: %w", err)
	}
	return nil
}

// maxPerDrain bounds the messages one run of mail_send sends.
const maxPerDrain = 100

// Drain sends the outbox's due messages, one transaction each (the row is
// locked while it is sent, so two servers on one database never send it
// twice). A failed message is retried after RetryBase, doubling, and
// failed after MaxAttempts. It returns how many it sent, and an error when
// any attempt failed (counted by the job's metrics).
func (s *Service) Drain(ctx context.Context) (int64, error) {
	if s.smtp == nil {
		return 0, nil
	}
	var sent, failed int64
	for range maxPerDrain {
		ok, err := s.sendOne(ctx)
		if errors.Is(err, errEmpty) {
			break
		}
		if err != nil {
			return sent, err
		}
		if ok {
			sent++
		} else if failed++; failed >= 3 && sent == 0 {
			break // the mail server is likely down: the rest wait for their next attempt
		}
	}
	if failed > 0 {
		return sent, fmt.Errorf("mail: %d sending attempts failed (see the outbox on the admin page)", failed)
	}
	return sent, nil
}

var errEmpty = errors.New("mail: no message due")

// sendOne sends the next due message; ok reports whether it went out.
func (s *Service) sendOne(ctx context.Context) (bool, error) {
	now := s.cfg.Now()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("mail: drain: %w", err)
	}
	defer tx.Rollback(ctx)
	var (
		id                      int64
		kind, to, subject, body string
		attempts                int
	)
	err = tx.QueryRow(ctx, `
		SELECT id, kind, recipient, subject, body, attempts FROM mail_outbox
		WHERE state = 'pending' AND next_attempt_at <= $1
		ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`, now).Scan(&id, &kind, &to, &subject, &body, &attempts)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, errEmpty
	}
	if err != nil {
		return false, fmt.Errorf("mail: drain: %w", err)
	}
	msg := formatMessage(s.from, to, subject, body, now)
	sendErr := s.smtp.send(ctx, helo(s.cfg.BaseURL), s.from.Address, to, msg, s.cfg.SendTimeout)
	if ctx.Err() != nil {
		return false, ctx.Err() // stopping: the row stays pending
	}
	attempts++
	if sendErr == nil {
		s.sent.WithLabelValues("ok").Inc()
		// A link's token is kept only hashed: its message's text goes once sent.
		_, err = tx.Exec(ctx, `
			UPDATE mail_outbox SET state = 'sent', sent_at = $2, attempts = $3, last_error = '',
				body = CASE WHEN kind IN ('verify', 'reset') THEN '' ELSE body END
			WHERE id = $1`, id, now, attempts)
	} else {
		s.sent.WithLabelValues("error").Inc()
		state, next := "pending", now.Add(s.cfg.RetryBase<<min(attempts-1, 16))
		if attempts >= s.cfg.MaxAttempts || permanent(sendErr) {
			state = "failed"
		}
		s.log.Warn("mail not sent", "id", id, "kind", kind, "attempt", attempts, "state", state, "err", sendErr)
		_, err = tx.Exec(ctx, `UPDATE mail_outbox SET state = $2, attempts = $3, next_attempt_at = $4, last_error = $5 WHERE id = $1`,
			id, state, attempts, next, ledger.Truncate(sendErr.Error(), 500))
	}
	if err != nil {
		return false, fmt.Errorf("mail: drain: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("mail: drain: %w", err)
	}
	return sendErr == nil, nil
}

// Retry makes failed messages pending again, due now (the admin's button
// after fixing the SMTP settings). It returns how many.
func (s *Service) Retry(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE mail_outbox SET state = 'pending', attempts = 0, next_attempt_at = $1 WHERE state = 'failed'`, s.cfg.Now())
	if err != nil {
		return 0, fmt.Errorf("mail: retry: %w", err)
	}
	return tag.RowsAffected(), nil
}

// permanent reports whether the mail server refused a message for good
// (a 5xx reply, such as an unknown recipient): it is not retried. A
// refusal of the log-in is 5xx too; the admin retries after fixing it.
func permanent(err error) bool {
	var te *textproto.Error
	return errors.As(err, &te) && te.Code >= 500 && te.Code < 600
}

// helo is the name the server gives itself in EHLO: its public host, or
// an address literal ([127.0.0.1]) when that is an IP address.
func helo(baseURL string) string {
	u, err := url.Parse(baseURL)
	if err != nil || u.Hostname() == "" {
		return "localhost"
	}
	h := u.Hostname()
	if ip := net.ParseIP(h); ip != nil {
		if ip.To4() != nil {
			return "[" + h + "]"
		}
		return "[IPv6:" + h + "]"
	}
	return h
}

// Outbox is what the admins see of the outbox.
type Outbox struct {
	Enabled  bool
	Pending  int64
	Sent     int64
	Failed   int64
	Oldest   *time.Time // the oldest pending message's creation
	Failures []Failure  // the latest failed or retrying messages, newest first
}

// Failure is a message that failed at least once.
type Failure struct {
	ID        int64
	Kind      string
	Recipient string
	State     string
	Attempts  int
	LastError string
	CreatedAt time.Time
	NextAt    time.Time
}

// Outbox counts the outbox's messages by state and lists the latest 20
// failures.
func (s *Service) Outbox(ctx context.Context) (Outbox, error) {
	o := Outbox{Enabled: s.Enabled()}
	err := s.pool.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'sent'),
		       count(*) FILTER (WHERE state = 'failed'), min(created_at) FILTER (WHERE state = 'pending')
		FROM mail_outbox`).Scan(&o.Pending, &o.Sent, &o.Failed, &o.Oldest)
	if err != nil {
		return Outbox{}, fmt.Errorf("mail: outbox: %w", err)
	}
	rows, err := s.pool.Query(ctx, `
		SELECT id, kind, recipient, state, attempts, last_error, created_at, next_attempt_at FROM mail_outbox
		WHERE last_error <> '' ORDER BY id DESC LIMIT 20`)
	if err != nil {
		return Outbox{}, fmt.Errorf("mail: outbox: %w", err)
	}
	o.Failures, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Failure, error) {
		var f Failure
		return f, r.Scan(&f.ID, &f.Kind, &f.Recipient, &f.State, &f.Attempts, &f.LastError, &f.CreatedAt, &f.NextAt)
	})
	if err != nil {
		return Outbox{}, fmt.Errorf("mail: outbox: %w", err)
	}
	return o, nil
}

// outboxCollector exports the outbox at each scrape:
//
//	sxp_mail_outbox_messages{state}   messages in the outbox, by state (pending, sent, failed)
type outboxCollector struct{ s *Service }

var outboxDesc = prometheus.NewDesc("sxp_mail_outbox_messages",
	"E-mail messages in the outbox, by state (pending: to send or retry; sent; failed: gave up).", []string{"state"}, nil)

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) { ch <- outboxDesc }

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var pending, sent, failed int64
	err := c.s.pool.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'sent'), count(*) FILTER (WHERE state = 'failed')
		FROM mail_outbox`).Scan(&pending, &sent, &failed)
	if err != nil {
		c.s.log.Warn("mail metrics", "err", err)
		return
	}
	for _, v := range []struct {
		state string
		n     int64
	}{{"pending", pending}, {"sent", sent}, {"failed", failed}} {
		ch <- prometheus.MustNewConstMetric(outboxDesc, prometheus.GaugeValue, float64(v.n), v.state)
	}
}
