package contracts

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/ledger/money"
	"github.com/sxp-network/sxp/server/announce"
	"github.com/sxp-network/sxp/server/intertrade"
	"github.com/sxp-network/sxp/server/members"
	"github.com/sxp-network/sxp/server/payments"
)

// Leg states.
const (
	LegPending   = "pending"
	LegPaid      = "paid"
	LegRefused   = "refused"
	LegConfirmed = "confirmed"
)

// IdempotencyKey is the key a money leg is paid with: h:<leg index>.
func IdempotencyKey(h string, leg int) string { return h + ":" + strconv.Itoa(leg) }

// settle opens the settlement of every contract signed here and not yet
// opened (a leg row for each money leg a local member pays and each item
// leg a local member receives; the local givers' offers closed), then pays
// every pending money leg that is due.
func (s *Service) settle(ctx context.Context) (int64, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT DISTINCT ON (c.h) c.h, c.contract FROM contracts c
		 WHERE c.state = 'signed' AND NOT c.opened ORDER BY c.h`)
	if err != nil {
		return 0, fmt.Errorf("contracts: settle: %w", err)
	}
	type signed struct {
		H   string
		Raw string
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[signed])
	if err != nil {
		return 0, fmt.Errorf("contracts: settle: %w", err)
	}
	var n int64
	for _, c := range list {
		if err := s.open(ctx, c.H, []byte(c.Raw)); err != nil {
			return n, err
		}
		n++
	}
	paid, err := s.payDue(ctx)
	return n + paid, err
}

// open writes the legs this server settles and closes its givers' offers.
func (s *Service) open(ctx context.Context, h string, raw []byte) error {
	p, err := s.parse(h, raw)
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("contracts: settle: %w", err)
	}
	defer tx.Rollback(ctx)
	var offers []int64
	for i, l := range p.Legs {
		_, giverLocal := s.local(p.Parties[l.From])
		_, receiverLocal := s.local(p.Parties[l.To])
		kind := ""
		switch {
		case l.Money != nil && giverLocal:
			kind = "money"
		case l.Money == nil && receiverLocal:
			kind = "item"
		}
		if kind != "" {
			if _, err := tx.Exec(ctx, `INSERT INTO contract_legs (h, leg, kind, next_at, updated_at) VALUES ($1, $2, $3, $4, $4)
				ON CONFLICT ON CONSTRAINT contract_legs_pkey DO NOTHING`, h, i, kind, now); err != nil {
				return fmt.Errorf("contracts: settle: %w", err)
			}
		}
		if id, ok := strings.CutPrefix(l.Offer, s.cfg.BaseURL+"/announcements/"); ok && giverLocal {
			if v, err := strconv.ParseInt(id, 10, 64); err == nil {
				offers = append(offers, v)
			}
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE contracts SET opened = true WHERE h = $1`, h); err != nil {
		return fmt.Errorf("contracts: settle: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("contracts: settle: %w", err)
	}
	// The offers given are traded: closed (their peers see them deleted).
	for _, id := range offers {
		if s.cfg.Announcements == nil {
			break
		}
		if _, err := s.cfg.Announcements.Close(ctx, announce.Actor{Admin: true, Username: "contract"}, id); err != nil {
			s.cfg.Logger.Warn("contracts: closing a traded offer failed", "h", h, "offer", id, "err", err)
		}
	}
	return nil
}

// payDue pays every pending money leg that is due. A payment the ledger,
// the payee's community or the circle refuses (the payer's limit, above
// all) is recorded as refused and shown, never retried; a failure to reach
// the circle is retried, backing off up to a minute. The idempotency key
// h:<leg> makes every attempt the same payment: it is paid once.
func (s *Service) payDue(ctx context.Context) (int64, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT l.h, l.leg, l.attempts, (SELECT c.contract FROM contracts c WHERE c.h = l.h LIMIT 1)
		  FROM contract_legs l WHERE l.kind = 'money' AND l.state = 'pending' AND l.next_at <= $1 ORDER BY l.h, l.leg`, s.cfg.Now())
	if err != nil {
		return 0, fmt.Errorf("contracts: pay: %w", err)
	}
	type due struct {
		H        string
		Leg      int
		Attempts int
		Raw      string
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[due])
	if err != nil {
		return 0, fmt.Errorf("contracts: pay: %w", err)
	}
	var n int64
	for _, d := range list {
		p, err := s.parse(d.H, []byte(d.Raw))
		if err != nil {
			return n, err
		}
		state, msg, err := s.pay(ctx, p, d.Leg)
		now := s.cfg.Now()
		if err != nil {
			if ctx.Err() != nil {
				return n, ctx.Err()
			}
			wait := min(time.Duration(1<<min(d.Attempts, 6))*time.Second/2, time.Minute)
			_, uerr := s.pool.Exec(ctx, `UPDATE contract_legs SET attempts = attempts + 1, next_at = $3, message = $4, updated_at = $5
				WHERE h = $1 AND leg = $2 AND state = 'pending'`, d.H, d.Leg, now.Add(wait), ledger.Truncate("retrying: "+err.Error(), 300), now)
			if uerr != nil {
				return n, fmt.Errorf("contracts: pay: %w", uerr)
			}
			continue
		}
		if state == LegPending { // the circle has not answered yet: ask again soon
			_, err = s.pool.Exec(ctx, `UPDATE contract_legs SET attempts = attempts + 1, next_at = $3, message = $4, updated_at = $5
				WHERE h = $1 AND leg = $2 AND state = 'pending'`, d.H, d.Leg, now.Add(time.Second), msg, now)
		} else {
			_, err = s.pool.Exec(ctx, `UPDATE contract_legs SET state = $3, message = $4, attempts = attempts + 1, updated_at = $5
				WHERE h = $1 AND leg = $2 AND state = 'pending'`, d.H, d.Leg, state, msg, now)
		}
		if err != nil {
			return n, fmt.Errorf("contracts: pay: %w", err)
		}
		n++
	}
	return n, nil
}

// pay pays money leg i of p once: locally, or to member@community through
// the circle. It returns the leg's new state (paid, refused, or pending
// while the circle has not answered) and a message; an error means try
// again.
func (s *Service) pay(ctx context.Context, p *contract.Parsed, i int) (string, string, error) {
	l := p.Legs[i]
	payer, _ := s.local(p.Parties[l.From])
	if l.Money.Currency != s.cfg.Currency {
		return LegRefused, fmt.Sprintf("the leg is in %s; %s pays in %s", l.Money.Currency, p.Parties[l.From].Member, s.cfg.Currency), nil
	}
	amount, err := money.Parse(l.Money.Value, s.cfg.Divisions)
	if err != nil || amount <= 0 {
		return LegRefused, fmt.Sprintf("the amount %q is not an amount of %s", l.Money.Value, s.cfg.Currency), nil
	}
	if s.cfg.Members == nil || s.cfg.Payments == nil {
		return "", "", errors.New("no payments service")
	}
	m, err := s.cfg.Members.ByUsername(ctx, payer)
	if members.CodeOf(err) == members.CodeNotFound {
		return LegRefused, fmt.Sprintf("there is no member %q to pay it", payer), nil
	}
	if err != nil {
		return "", "", err
	}
	key := IdempotencyKey(p.Hash(), i)
	desc := ledger.Truncate(fmt.Sprintf("contract %s leg %d: %s", p.Hash()[:12], i, l.Title), payments.MaxDescription-4)
	if payee, ok := s.local(p.Parties[l.To]); ok {
		pay, err := s.cfg.Payments.Pay(ctx, payments.PayRequest{Payer: m, To: payee, Amount: amount, Description: desc, IdempotencyKey: key})
		var pe *payments.Error
		if errors.As(err, &pe) {
			return LegRefused, pe.Message, nil
		}
		if err != nil {
			return "", "", err
		}
		return LegPaid, fmt.Sprintf("paid: transfer %d", pay.TransferID), nil
	}
	if s.cfg.Intertrade == nil {
		return LegRefused, "this community is in no circle: it cannot pay " + p.Parties[l.To].Member, nil
	}
	pay, err := s.cfg.Intertrade.Pay(ctx, intertrade.PayRequest{PayerAccount: m.Account, PayerUsername: m.Username,
		To: p.Parties[l.To].Member, Amount: amount, Description: desc, IdempotencyKey: key})
	var ie *intertrade.Error
	if errors.As(err, &ie) {
		if ie.Code == intertrade.ErrRefused || ie.Code == intertrade.ErrInvalid || ie.Code == intertrade.ErrNotFound || ie.Code == intertrade.ErrConflict {
			return LegRefused, ie.Message, nil
		}
		return "", "", err
	}
	var pe *payments.Error
	if errors.As(err, &pe) {
		return LegRefused, pe.Message, nil
	}
	if err != nil {
		return "", "", err
	}
	switch pay.State {
	case intertrade.StateCompleted:
		return LegPaid, fmt.Sprintf("paid through the circle: intertrade %d", pay.ID), nil
	case intertrade.StateFailed:
		return LegRefused, pay.Reason, nil
	}
	return LegPending, "the circle has not answered yet", nil
}

// ConfirmItem records that username, the receiver of item leg i of h,
// has the item.
func (s *Service) ConfirmItem(ctx context.Context, username, h string, i int) error {
	p, _, err := s.memberRow(ctx, username, h)
	if err != nil {
		return err
	}
	if i < 0 || i >= len(p.Legs) || p.Legs[i].Money != nil {
		return refuse(CodeNotFound, "contract %s has no item leg %d", h, i)
	}
	if u, ok := s.local(p.Parties[p.Legs[i].To]); !ok || u != username {
		return refuse(CodeForbidden, "leg %d goes to %s: only its receiver confirms it", i, p.Parties[p.Legs[i].To].Member)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE contract_legs SET state = 'confirmed', message = 'received', updated_at = $3
		WHERE h = $1 AND leg = $2 AND kind = 'item' AND state = 'pending'`, h, i, s.cfg.Now())
	if err != nil {
		return fmt.Errorf("contracts: confirm: %w", err)
	}
	if tag.RowsAffected() == 0 {
		var state string
		err := s.pool.QueryRow(ctx, `SELECT state FROM contract_legs WHERE h = $1 AND leg = $2`, h, i).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) {
			return refuse(CodeConflict, "contract %s is not signed: there is nothing to confirm yet", h)
		}
		if err != nil {
			return fmt.Errorf("contracts: confirm: %w", err)
		}
		if state != LegConfirmed {
			return refuse(CodeConflict, "leg %d is %s", i, state)
		}
	}
	return nil
}
