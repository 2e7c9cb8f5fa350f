package mail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/ledger/jobs"
)

// Kind is a kind of notice a member can turn off.
type Kind string

const (
	KindPayment  Kind = "payment"  // a payment received
	KindBill     Kind = "bill"     // a bill (payment request) received
	KindProposal Kind = "proposal" // a deal proposal to sign
	KindExpiry   Kind = "expiry"   // an offer or want about to expire
)

// Kinds lists the notices in the order the settings page shows them.
func Kinds() []Kind { return []Kind{KindPayment, KindBill, KindProposal, KindExpiry} }

// Label describes a kind of notice to members.
func (k Kind) Label() string {
	switch k {
	case KindPayment:
		return "A payment to me"
	case KindBill:
		return "A bill for me to pay"
	case KindProposal:
		return "A deal proposal for me to sign"
	case KindExpiry:
		return "One of my offers or wants is about to expire"
	}
	return string(k)
}

// Notice is one kind of notice and whether the member gets it.
type Notice struct {
	Kind Kind
	On   bool
}

// Notices returns the member's notice settings (every kind, on unless turned off).
func (s *Service) Notices(ctx context.Context, memberID int64) ([]Notice, error) {
	rows, err := s.pool.Query(ctx, `SELECT kind FROM member_notices_off WHERE member_id = $1`, memberID)
	if err != nil {
		return nil, fmt.Errorf("mail: notices: %w", err)
	}
	off, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("mail: notices: %w", err)
	}
	out := make([]Notice, 0, len(Kinds()))
	for _, k := range Kinds() {
		n := Notice{Kind: k, On: true}
		for _, o := range off {
			if o == string(k) {
				n.On = false
			}
		}
		out = append(out, n)
	}
	return out, nil
}

// SetNotices turns on the kinds in on and off every other kind.
func (s *Service) SetNotices(ctx context.Context, memberID int64, on []Kind) error {
	want := map[Kind]bool{}
	for _, k := range on {
		known := false
		for _, kk := range Kinds() {
			known = known || k == kk
		}
		if !known {
			return invalid("notices", "%q is not a kind of notice (payment, bill, proposal, expiry)", k)
		}
		want[k] = true
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("mail: notices: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `DELETE FROM member_notices_off WHERE member_id = $1`, memberID); err != nil {
		return fmt.Errorf("mail: notices: %w", err)
	}
	for _, k := range Kinds() {
		if want[k] {
			continue
		}
		if _, err := tx.Exec(ctx, `INSERT INTO member_notices_off (member_id, kind) VALUES ($1, $2)`, memberID, string(k)); err != nil {
			return fmt.Errorf("mail: notices: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("mail: notices: %w", err)
	}
	return nil
}

// Jobs are the service's background jobs: mail_notices (notices due into
// the outbox, sweeps for proposals and expiring offers, pruning) and
// mail_send (the outbox through SMTP). With e-mail off, mail_notices only
// discards notices due (left by a time when it was on).
func (s *Service) Jobs() []jobs.Job {
	notices := jobs.Job{Name: "mail_notices", Every: s.cfg.Every, Jitter: s.cfg.Every / 10, Now: true, Retries: 2, Backoff: time.Second, Run: s.Compose}
	if s.smtp == nil {
		notices.Run = s.discard
		return []jobs.Job{notices}
	}
	return []jobs.Job{notices,
		{Name: "mail_send", Every: s.cfg.Every, Jitter: s.cfg.Every / 10, Now: true, Run: s.Drain}}
}

func (s *Service) discard(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM mail_notices_due`)
	if err != nil {
		return 0, fmt.Errorf("mail: discard notices: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Compose writes the notices that are due into the outbox: payments and
// bills (left by the database's triggers), proposals to sign and offers
// about to expire (found by sweeps, written once each by their dedup key),
// and prunes old sent messages and used tokens. It returns how many
// messages it wrote.
func (s *Service) Compose(ctx context.Context) (int64, error) {
	if s.smtp == nil {
		return s.discard(ctx)
	}
	var n int64
	for _, step := range []func(context.Context) (int64, error){s.composeDue, s.sweepProposals, s.sweepExpiring, s.prune} {
		k, err := step(ctx)
		if err != nil {
			return n, err
		}
		n += k
	}
	return n, nil
}

// maxPerCompose bounds the notices due handled in one transaction.
const maxPerCompose = 200

// composeDue turns notices due into messages and deletes them, in one
// transaction.
func (s *Service) composeDue(ctx context.Context) (int64, error) {
	now := s.cfg.Now()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("mail: notices: %w", err)
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, `
		SELECT d.id, d.member_id, d.kind, d.ref, coalesce(e.address, ''), e.verified_at IS NOT NULL,
		       EXISTS (SELECT 1 FROM member_notices_off o WHERE o.member_id = d.member_id AND o.kind = d.kind),
		       m.display_name
		FROM mail_notices_due d JOIN members m ON m.id = d.member_id
		LEFT JOIN member_emails e ON e.member_id = d.member_id
		ORDER BY d.id LIMIT $1 FOR UPDATE OF d SKIP LOCKED`, maxPerCompose)
	if err != nil {
		return 0, fmt.Errorf("mail: notices: %w", err)
	}
	type due struct {
		id, member, ref int64
		kind, address   string
		verified, off   bool
		name            string
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (due, error) {
		var d due
		return d, r.Scan(&d.id, &d.member, &d.kind, &d.ref, &d.address, &d.verified, &d.off, &d.name)
	})
	if err != nil {
		return 0, fmt.Errorf("mail: notices: %w", err)
	}
	var n int64
	cur := s.cfg.Currency
	for _, d := range list {
		if _, err := tx.Exec(ctx, `DELETE FROM mail_notices_due WHERE id = $1`, d.id); err != nil {
			return 0, fmt.Errorf("mail: notices: %w", err)
		}
		if !d.verified || d.off {
			continue
		}
		m := outMessage{member: d.member, kind: d.kind, to: d.address, dedup: fmt.Sprintf("%s:%d:%d", d.kind, d.ref, d.member)}
		switch d.kind {
		case string(KindPayment):
			var amount int64
			var desc, payer string
			err := tx.QueryRow(ctx, `
				SELECT t.amount, t.description, coalesce(p.username, t.metadata->>'payer', '')
				FROM ledger_transfers t LEFT JOIN members p ON p.account_id = t.debit_account_id WHERE t.id = $1`, d.ref).Scan(&amount, &desc, &payer)
			if err != nil {
				return 0, fmt.Errorf("mail: notices: payment %d: %w", d.ref, err)
			}
			from := ""
			if payer != "" {
				from = " from " + payer
			}
			m.subject = fmt.Sprintf("You received %s %s%s", cur.Format(amount), cur.Code, from)
			m.body = fmt.Sprintf("Hello %s,\n\nyou received %s %s%s at %s.\n%s\nYour statement: %s\n%s",
				d.name, cur.Format(amount), cur.Code, from, s.cfg.Community, quoted("Description", desc), s.page("/statement"), s.footer())
		case string(KindBill):
			var amount int64
			var desc, payee string
			err := tx.QueryRow(ctx, `
				SELECT r.amount, r.description, p.username FROM payment_requests r JOIN members p ON p.id = r.payee_id
				WHERE r.id = $1`, d.ref).Scan(&amount, &desc, &payee)
			if err != nil {
				return 0, fmt.Errorf("mail: notices: bill %d: %w", d.ref, err)
			}
			m.subject = fmt.Sprintf("%s sent you a bill of %s %s", payee, cur.Format(amount), cur.Code)
			m.body = fmt.Sprintf("Hello %s,\n\n%s asks you to pay %s %s at %s.\n%s\nPay or reject it here: %s\n%s",
				d.name, payee, cur.Format(amount), cur.Code, s.cfg.Community, quoted("Description", desc), s.page("/requests"), s.footer())
		default:
			continue
		}
		if err := s.enqueue(ctx, tx, m, now); err != nil {
			return 0, err
		}
		n++
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("mail: notices: %w", err)
	}
	return n, nil
}

// sweepProposals writes a notice to each local party of a proposal made in
// the last two days that is still open and that they have not answered.
func (s *Service) sweepProposals(ctx context.Context) (int64, error) {
	now := s.cfg.Now()
	rows, err := s.pool.Query(ctx, `
		SELECT h, contract, deadline FROM deal_proposals
		WHERE state = 'proposed' AND created_at > $1 AND deadline > $2 ORDER BY created_at`, now.Add(-48*time.Hour), now)
	if err != nil {
		return 0, fmt.Errorf("mail: proposals: %w", err)
	}
	type proposal struct {
		h        string
		contract []byte
		deadline time.Time
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (proposal, error) {
		var p proposal
		return p, r.Scan(&p.h, &p.contract, &p.deadline)
	})
	if err != nil {
		return 0, fmt.Errorf("mail: proposals: %w", err)
	}
	var n int64
	for _, p := range list {
		var c struct {
			Parties []struct {
				Member string `json:"member"`
			} `json:"parties"`
			Legs []struct {
				From  int    `json:"from"`
				To    int    `json:"to"`
				Title string `json:"title"`
			} `json:"legs"`
		}
		if err := json.Unmarshal(p.contract, &c); err != nil {
			s.log.Warn("mail: proposal with a contract that does not parse", "h", p.h, "err", err)
			continue
		}
		var lines []string
		for _, l := range c.Legs {
			if l.From < len(c.Parties) && l.To < len(c.Parties) {
				lines = append(lines, fmt.Sprintf("  %s gives %q to %s", c.Parties[l.From].Member, l.Title, c.Parties[l.To].Member))
			}
		}
		for _, party := range c.Parties {
			user, ok := strings.CutSuffix(party.Member, "@"+s.cfg.CommunityID)
			if !ok {
				continue
			}
			k, err := s.writeNotice(ctx, user, KindProposal, "proposal:"+p.h+":"+user, func(name string) (string, string) {
				return "A deal for you to sign at " + s.cfg.Community,
					fmt.Sprintf("Hello %s,\n\na deal that includes you was found:\n\n%s\n\nAccept or decline it before %s: %s\n%s",
						name, strings.Join(lines, "\n"), p.deadline.UTC().Format("2006-01-02 15:04 UTC"), s.page("/proposals"), s.footer())
			}, `NOT EXISTS (SELECT 1 FROM deal_proposal_answers a WHERE a.h = $3 AND a.member = $4)`, p.h, party.Member)
			if err != nil {
				return n, err
			}
			n += k
		}
	}
	return n, nil
}

// sweepExpiring writes a notice to the author of each active local
// announcement that expires within ExpiryWarning (once per expiry time).
func (s *Service) sweepExpiring(ctx context.Context) (int64, error) {
	now := s.cfg.Now()
	rows, err := s.pool.Query(ctx, `
		SELECT a.id, a.kind, a.title, a.expires_at, m.username FROM announcements a JOIN members m ON m.id = a.member_id
		JOIN member_emails e ON e.member_id = m.id AND e.verified_at IS NOT NULL
		WHERE a.origin = 'local' AND a.status = 'active' AND a.expires_at > $1 AND a.expires_at <= $2
		ORDER BY a.expires_at, a.id LIMIT 500`, now, now.Add(s.cfg.ExpiryWarning))
	if err != nil {
		return 0, fmt.Errorf("mail: expiring: %w", err)
	}
	type ann struct {
		id                    int64
		kind, title, username string
		expires               time.Time
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ann, error) {
		var a ann
		return a, r.Scan(&a.id, &a.kind, &a.title, &a.expires, &a.username)
	})
	if err != nil {
		return 0, fmt.Errorf("mail: expiring: %w", err)
	}
	var n int64
	for _, a := range list {
		key := fmt.Sprintf("expiry:%d:%d", a.id, a.expires.Unix())
		k, err := s.writeNotice(ctx, a.username, KindExpiry, key, func(name string) (string, string) {
			return fmt.Sprintf("Your %s %q expires soon", a.kind, a.title),
				fmt.Sprintf("Hello %s,\n\nyour %s %q at %s expires on %s.\nTo keep it, open it and give it a later expiry date: %s\n%s",
					name, a.kind, a.title, s.cfg.Community, a.expires.UTC().Format("2006-01-02 15:04 UTC"),
					s.page(fmt.Sprintf("/offers/%d/edit", a.id)), s.footer())
		}, `true`)
		if err != nil {
			return n, err
		}
		n += k
	}
	return n, nil
}

// writeNotice writes one notice of kind to the member username when they
// have a verified address, have not turned kind off, and cond (SQL over
// $3, $4… = condArgs) holds; text makes the subject and body from their
// display name. dedup makes it written once.
func (s *Service) writeNotice(ctx context.Context, username string, kind Kind, dedup string, text func(name string) (string, string), cond string, condArgs ...any) (int64, error) {
	var id int64
	var addr, name string
	args := append([]any{username, string(kind)}, condArgs...)
	err := s.pool.QueryRow(ctx, `
		SELECT m.id, e.address, m.display_name FROM members m JOIN member_emails e ON e.member_id = m.id
		WHERE m.username = $1 AND m.status = 'active' AND e.verified_at IS NOT NULL
		  AND NOT EXISTS (SELECT 1 FROM member_notices_off o WHERE o.member_id = m.id AND o.kind = $2)
		  AND `+cond, args...).Scan(&id, &addr, &name)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("mail: notice: %w", err)
	}
	subject, body := text(name)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("mail: notice: %w", err)
	}
	defer tx.Rollback(ctx)
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM mail_outbox WHERE dedup_key = $1)`, dedup).Scan(&exists); err != nil || exists {
		return 0, err
	}
	if err := s.enqueue(ctx, tx, outMessage{member: id, kind: string(kind), to: addr, subject: subject, body: body, dedup: dedup}, s.cfg.Now()); err != nil {
		return 0, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("mail: notice: %w", err)
	}
	return 1, nil
}

// prune deletes sent messages older than 30 days and tokens that expired
// more than 7 days ago.
func (s *Service) prune(ctx context.Context) (int64, error) {
	now := s.cfg.Now()
	if _, err := s.pool.Exec(ctx, `DELETE FROM mail_outbox WHERE state = 'sent' AND sent_at < $1`, now.AddDate(0, 0, -30)); err != nil {
		return 0, fmt.Errorf("mail: prune: %w", err)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM mail_tokens WHERE expires_at < $1`, now.AddDate(0, 0, -7)); err != nil {
		return 0, fmt.Errorf("mail: prune: %w", err)
	}
	return 0, nil
}

func (s *Service) page(path string) string { return strings.TrimRight(s.cfg.BaseURL, "/") + path }

func (s *Service) footer() string {
	return "\n-- \n" + s.cfg.Community + ". To choose which e-mails you get: " + s.page("/settings") + "\n"
}

func quoted(label, v string) string {
	if strings.TrimSpace(v) == "" {
		return ""
	}
	return label + ": " + v + "\n"
}
