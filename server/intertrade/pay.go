package intertrade

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/server/payments"
)

// PayRequest is a member's payment to member@community through the circle.
type PayRequest struct {
	PayerAccount   ledger.AccountID
	PayerUsername  string
	To             string // "bob@acorn": a member of another community of the circle
	Amount         int64  // minor units of our currency
	Description    string
	IdempotencyKey string // same key → same result, no second payment; "" for none
}

// Payment is an outgoing intertrade as its payer sees it.
type Payment struct {
	ID             int64
	State          State
	To             string
	Amount         int64       // minor units of our currency
	Currency       string      // our currency's code
	Quantity       cxp.Decimal // base units the circle moved
	Ticks          cxp.Decimal // our rate used
	PayeeTicks     cxp.Decimal // the payee's rate the circle used ("" when it did not say)
	Description    string
	IdempotencyKey string
	TempID         string
	CXP            cxp.Code // the circle's answer code (0 when it confirmed or did not answer)
	Message        string   // the circle's message, as received
	Reason         string   // the outcome in plain words
	CreatedAt      time.Time
}

// Pay pays r.Amount from the payer's account to r.To through the circle:
// it converts the amount to base units at our rate in force, checks the
// circle's last spend limit, records the payment and holds the amount
// (payer → import/export) in one commit, tries with really=true, and posts
// the hold when the circle confirms or voids it when it refuses.
//
// A refusal returns the failed Payment and an *Error ErrRefused whose
// Message is the reason in plain words. When the circle does not answer the
// final try, the Payment stays pending (amount held, nil error) and Run
// settles it by repeating the try with the same temp_id. Bad input is
// ErrInvalid, an unknown community ErrNotFound, a key reused for another
// payment ErrConflict; nothing is recorded for those.
func (s *Service) Pay(ctx context.Context, r PayRequest) (Payment, error) {
	member, community, err := s.parseAddress(r.To)
	if err != nil {
		return Payment{}, err
	}
	if r.PayerAccount <= 0 || r.PayerUsername == "" {
		return Payment{}, invalid("from", "the paying member is unknown")
	}
	if r.Amount <= 0 {
		return Payment{}, invalid("amount", "the amount must be greater than zero")
	}
	if err := checkDescription(r.Description); err != nil {
		return Payment{}, err
	}
	key := r.IdempotencyKey
	if err := payments.CheckIdempotencyKey(key); err != nil {
		return Payment{}, invalid("idempotency_key", "%v", err)
	}
	if key == "" {
		key = "auto:" + randomHex(16)
	}
	if prev, err := outByKey(ctx, s.pool, r.PayerAccount, key); err == nil {
		return s.repeat(prev, r)
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return Payment{}, fmt.Errorf("intertrade: pay: %w", err)
	}
	// A member's keys are one space for local and remote payments: a key a
	// local payment used is refused here before the circle is asked, and
	// the hold below claims it in the ledger against a concurrent one.
	if used, err := s.ledger.KeyUsed(ctx, payments.LedgerKey(r.PayerAccount, key)); err != nil {
		return Payment{}, fmt.Errorf("intertrade: pay: %w", err)
	} else if used {
		// A concurrent copy of this very payment may have recorded its
		// row and claimed the key between the look-up above and this
		// check: then this is a repeat, not another payment.
		if prev, err := outByKey(ctx, s.pool, r.PayerAccount, key); err == nil {
			return s.repeat(prev, r)
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return Payment{}, fmt.Errorf("intertrade: pay: %w", err)
		}
		return Payment{}, &Error{Code: ErrConflict, Field: "idempotency_key",
			Message: "this idempotency key was used for another payment"}
	}
	if _, err := s.importExport(ctx); err != nil {
		return Payment{}, err
	}
	peer, err := s.exchange(ctx, community)
	if err != nil {
		return Payment{}, err
	}
	if peer.Status != cxp.AccountTrading {
		return Payment{}, &Error{Code: ErrRefused, Field: "to", CXP: cxp.CodeNotPermitted,
			Message: fmt.Sprintf("the community %s is not trading in the circle at the moment", community)}
	}
	ticks := s.Ticks()
	q, err := cxp.ToBase(r.Amount, s.cfg.Divisions, ticks, s.base())
	if err != nil {
		return Payment{}, invalid("amount", "the amount cannot be converted to base units: %v", err)
	}
	if q <= 0 {
		return Payment{}, invalid("amount", "the amount is worth less than the circle's smallest unit")
	}
	it := Intertrade{
		Direction: Out, State: StatePending, TempID: newTempID(),
		Account: r.PayerAccount, Username: r.PayerUsername,
		Payer: r.PayerUsername, PayerURL: s.cfg.PublicURL, Payee: member, PayeeURL: peer.URI,
		SrcURL: s.cfg.PublicURL, DestURL: peer.URI, Community: community,
		Description: r.Description, Quantity: cxp.FromMinor(q, s.base()),
		Amount: r.Amount, Ticks: ticks, IdempotencyKey: key, CreatedAt: s.now(),
		Rounding: roundingOut(r.Amount, s.cfg.Divisions, ticks, q, s.base()),
	}
	return s.send(ctx, it, q, r)
}

// send runs a new outgoing payment through the circle (see the sequence in
// the package doc): the cached spend limit is checked, the payment's row and
// the member's hold commit together, then one try with really=true, and the
// answer is settled. A payment refused before the circle is asked is
// recorded as failed (refused).
func (s *Service) send(ctx context.Context, it Intertrade, quantity int64, r PayRequest) (Payment, error) {
	// The circle's limits come from the last prepare (Reconcile prepares
	// every handshake interval): the circle checks them again at the try,
	// so a stale answer never lets a payment through; over a stale limit
	// we ask again before refusing.
	prep, fresh, err := s.cachedPrepare(ctx)
	if err != nil {
		return s.refuse(ctx, it, r, err)
	}
	over := func(prep cxp.PrepareResponse) bool {
		limit, err := prep.SpendLimit.Minor(s.base())
		return prep.SpendLimit != "" && err == nil && quantity > limit
	}
	if over(prep) && !fresh {
		if prep, err = s.prepare(ctx); err != nil {
			return s.refuse(ctx, it, r, err)
		}
	}
	if over(prep) {
		return s.refuse(ctx, it, r, cxp.NewError(cxp.CodeLimits, nil))
	}
	// The row and the hold commit together (one commit): both are there
	// before the circle is asked to write, or neither.
	var stored Intertrade
	var inserted bool
	var holdErr error
	err = s.writes.InTx(ctx, func(ctx context.Context, tx *ledger.Tx) error {
		holdErr = nil
		var err error
		if stored, inserted, err = insertIntertrade(ctx, tx.Conn(), it, nil); err != nil || !inserted {
			return err
		}
		hold, err := tx.Hold(ctx, ledger.HoldRequest{
			TransferRequest: ledger.TransferRequest{
				Debit: it.Account, Credit: s.account, Amount: it.Amount,
				Description:    holdDescription(it),
				Metadata:       map[string]string{"kind": "intertrade", "direction": "out", "temp_id": it.TempID, "to": it.Payee + "@" + it.Community},
				IdempotencyKey: payments.LedgerKey(it.Account, it.IdempotencyKey),
			},
			ExpiresAt: s.now().Add(s.cfg.HoldTTL),
		})
		if err != nil {
			holdErr = err
			return err
		}
		stored.HoldID = hold.ID
		return setHold(ctx, tx.Conn(), stored.ID, hold.ID, s.now())
	})
	switch {
	case holdErr != nil:
		return s.refuse(ctx, it, r, holdErr)
	case err != nil:
		// Nothing is held or recorded, and the circle has not been asked.
		return Payment{}, err
	case !inserted:
		return s.repeat(stored, r)
	}
	try := wireRequest(stored)
	try.Really = true
	resp, err := s.client.Try(ctx, try)
	return s.settle(ctx, stored, resp, err, true)
}

// refuse records a payment refused before the circle was asked to write
// (nothing held) as failed, and answers it.
func (s *Service) refuse(ctx context.Context, it Intertrade, r PayRequest, cause error) (Payment, error) {
	stored, inserted, err := insertIntertrade(ctx, s.pool, it, nil)
	if err != nil {
		return Payment{}, err
	}
	if !inserted {
		return s.repeat(stored, r)
	}
	return s.fail(ctx, stored, 0, cause)
}

// settle applies the circle's answer to the final try (really=true) of a
// held payment: post on code 0, void on a refusal, keep holding when the
// circle may or may not have written it (no answer, or its 27 "pending").
// first is true for the payment's first final try: only then does a
// connection that could not be opened prove the circle never wrote it (a
// retry's earlier try may have reached it).
func (s *Service) settle(ctx context.Context, it Intertrade, resp cxp.TransactionResponse, callErr error, first bool) (Payment, error) {
	if callErr == nil {
		callErr = errOf(resp.Status)
	}
	if callErr != nil {
		if first && undelivered(callErr) {
			return s.fail(ctx, it, it.HoldID, callErr)
		}
		// The circle's own refusal (an answer with a code) is final, except
		// 27, which it also gives while the transaction is still being
		// relayed. An answer the client could not read (no code) is not.
		if resp.Code != cxp.OK && resp.Code != cxp.CodeOther {
			return s.fail(ctx, it, it.HoldID, callErr)
		}
		// No answer: the circle may have written it. Keep the hold (its
		// deadline moved on, so it can still be posted); Run repeats the try
		// with the same temp_id until the circle answers.
		s.log.Warn("the circle did not answer a payment; keeping it on hold", "intertrade", it.ID, "temp_id", it.TempID, "err", callErr)
		if _, err := s.ledger.Extend(ctx, it.HoldID, s.now().Add(s.cfg.HoldTTL)); err != nil && ledger.CodeOf(err) != ledger.CodePendingResolved {
			return Payment{}, fmt.Errorf("intertrade: keep hold %d: %w", it.HoldID, err)
		}
		saved, err := saveUpdate(ctx, s.pool, it.ID, update{State: StatePending, Reason: reasonUnconfirmed, Message: callErr.Error()}, s.now())
		if err != nil {
			return Payment{}, err
		}
		return s.payment(saved), nil
	}
	var saved Intertrade
	err := s.writes.InTx(ctx, func(ctx context.Context, tx *ledger.Tx) error {
		cur, err := byID(ctx, tx.Conn(), it.ID, true)
		if err != nil {
			return err
		}
		if cur.State != StatePending {
			saved = cur // settled meanwhile (by Run)
			return nil
		}
		// The circle wrote it: post the hold even past its deadline.
		if _, err := tx.Extend(ctx, it.HoldID, s.now().Add(time.Minute)); err != nil {
			return fmt.Errorf("post hold %d: %w", it.HoldID, err)
		}
		tr, err := tx.Post(ctx, it.HoldID)
		if err != nil {
			return fmt.Errorf("post hold %d: %w", it.HoldID, err)
		}
		payeeTicks := resp.PayeeTicks
		if cxp.ValidateRate("payee_ticks", payeeTicks) != nil {
			payeeTicks = "" // not told, or not a rate: the receipt does without
		}
		saved, err = saveUpdate(ctx, tx.Conn(), it.ID, update{
			State: StateCompleted, Answered: true, CXP: cxp.OK, Message: resp.Message,
			Reason: Reason(cxp.OK, nil), TransferID: tr.ID, CircleTxID: resp.ID, PayeeTicks: payeeTicks,
		}, s.now())
		return err
	})
	if err != nil {
		// The circle wrote the payment but our ledger could not post it:
		// the integrity check will show the difference to the admins.
		s.log.Error("the circle confirmed a payment we could not post", "intertrade", it.ID, "hold", it.HoldID, "err", err)
		return Payment{}, fmt.Errorf("intertrade: confirm payment %d: %w", it.ID, err)
	}
	return s.payment(saved), nil
}

// fail records a refused payment, voiding its hold if it has one, and
// returns it with the reason as an *Error.
func (s *Service) fail(ctx context.Context, it Intertrade, holdID int64, cause error) (Payment, error) {
	u := update{State: StateFailed}
	var cxpErr *cxp.Error
	switch {
	case ledger.CodeOf(cause) == ledger.CodeOverLowerLimit:
		u.Reason = reasonNoCredit
	case ledger.CodeOf(cause) == ledger.CodeAccountFrozen:
		u.Reason = reasonAccountFrozen
	case ledger.CodeOf(cause) != "":
		u.Reason = "our ledger refused the payment: " + string(ledger.CodeOf(cause))
	case cxp.IsUnreachable(cause):
		cxpErr = cxp.NewError(cxp.CodeServerNotFound, map[string]string{"server": s.cfg.CircleURL})
		u.Reason = reasonCircleUnreachable
	default:
		var ok bool
		if cxpErr, ok = cxp.AsError(cause); !ok {
			s.log.Warn("unexpected answer from the circle", "intertrade", it.ID, "err", cause)
			cxpErr = cxp.Errorf(cxp.CodeOther, "unexpected answer from the circle")
		}
		args := cxpErr.Args
		if cxpErr.Code == cxp.CodeNotPermitted && args["dest_url"] != "" {
			args = maps.Clone(args)
			args["community"] = it.Community
			// The payee's community by its id (the list is read again when
			// it does not hold it), else by the URL the circle named.
			name := s.communityName(args["dest_url"])
			if e, err := s.exchange(ctx, it.Community); err == nil && e.Name != "" {
				name = e.Name
			}
			if name != "" {
				args["community"] = name + " (" + it.Community + ")"
			}
		}
		u.Reason = Reason(cxpErr.Code, args)
	}
	if cxpErr != nil {
		u.Answered, u.CXP, u.Message = true, cxpErr.Code, cxpErr.Message
	}
	var saved Intertrade
	err := s.writes.InTx(ctx, func(ctx context.Context, tx *ledger.Tx) error {
		cur, err := byID(ctx, tx.Conn(), it.ID, true)
		if err != nil {
			return err
		}
		if cur.State != StatePending {
			saved = cur
			return nil
		}
		if holdID != 0 {
			if _, err := tx.Void(ctx, holdID); err != nil && ledger.CodeOf(err) != ledger.CodePendingResolved {
				return fmt.Errorf("void hold %d: %w", holdID, err)
			}
		}
		saved, err = saveUpdate(ctx, tx.Conn(), it.ID, u, s.now())
		return err
	})
	if err != nil {
		return Payment{}, fmt.Errorf("intertrade: record refusal of %d: %w", it.ID, err)
	}
	return s.payment(saved), s.outcome(saved)
}

// repeat answers a payment request whose idempotency key was seen before.
func (s *Service) repeat(prev Intertrade, r PayRequest) (Payment, error) {
	if prev.Payee+"@"+prev.Community != strings.TrimSpace(r.To) || prev.Amount != r.Amount || prev.Description != r.Description {
		return Payment{}, &Error{Code: ErrConflict, Field: "idempotency_key",
			Message: "this idempotency key was used for another payment"}
	}
	return s.payment(prev), s.outcome(prev)
}

// outcome is the error a caller sees for a recorded payment: nil unless it failed.
func (s *Service) outcome(it Intertrade) error {
	if it.State != StateFailed {
		return nil
	}
	return &Error{Code: ErrRefused, Message: it.Reason, CXP: it.CXP}
}

func (s *Service) payment(it Intertrade) Payment {
	p := Payment{
		ID: it.ID, State: it.State, To: it.Payee + "@" + it.Community, Amount: it.Amount,
		Currency: s.cfg.Currency, Quantity: it.Quantity, Ticks: it.Ticks, PayeeTicks: it.PayeeTicks, Description: it.Description,
		IdempotencyKey: it.IdempotencyKey, TempID: it.TempID, Message: it.Message, Reason: it.Reason,
		CreatedAt: it.CreatedAt,
	}
	if it.Answered {
		p.CXP = it.CXP
	}
	return p
}

// SettlePending repeats the final try of every payment the circle has not
// answered (same temp_id, so the circle writes it at most once) and posts or
// voids it by the answer. Payments that never got as far as holding the
// amount are marked failed. It returns how many it settled.
func (s *Service) SettlePending(ctx context.Context) (int, error) {
	cutoff := s.now().Add(-2 * s.cfg.Timeout)
	rows, err := s.pool.Query(ctx, `SELECT `+intertradeColumns+` FROM intertrades
		WHERE direction = 'out' AND state = 'pending' AND updated_at < $1 ORDER BY id LIMIT 100`, cutoff)
	if err != nil {
		return 0, fmt.Errorf("intertrade: pending: %w", err)
	}
	pending, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Intertrade, error) { return scanIntertrade(r) })
	if err != nil {
		return 0, fmt.Errorf("intertrade: pending: %w", err)
	}
	settled := 0
	for _, it := range pending {
		if ctx.Err() != nil {
			return settled, ctx.Err()
		}
		var p Payment
		if it.HoldID == 0 {
			// Interrupted before the circle was asked to write.
			p, _ = s.fail(ctx, it, 0, cxp.Errorf(cxp.CodeOther, "interrupted before it was sent"))
		} else {
			try := wireRequest(it)
			try.Really = true
			resp, err := s.client.Try(ctx, try)
			p, _ = s.settle(ctx, it, resp, err, false)
		}
		if p.State != StatePending {
			settled++
		}
	}
	return settled, nil
}

// wireRequest is the CXP try for an outgoing intertrade (really left false:
// the caller sets it).
func wireRequest(it Intertrade) cxp.TransactionRequest {
	return cxp.TransactionRequest{
		Payer: it.Payer, PayerURL: it.PayerURL, Payee: it.Payee, PayeeURL: it.PayeeURL,
		DestURL: it.DestURL, SrcURL: it.SrcURL, Quantity: it.Quantity,
		Description: it.Description, TempID: it.TempID,
	}
}

func holdDescription(it Intertrade) string {
	d := "to " + it.Payee + "@" + it.Community
	if it.Description != "" {
		d += ": " + it.Description
	}
	return d
}

// parseAddress splits "bob@acorn" into member and community.
func (s *Service) parseAddress(to string) (member, community string, err error) {
	to = strings.TrimSpace(to)
	member, community, ok := strings.Cut(to, "@")
	if !ok || member == "" || community == "" || strings.Contains(community, "@") {
		return "", "", invalid("to", "pay a member of another community as member@community")
	}
	if community == s.cfg.CommunityID {
		return "", "", invalid("to", "%s is a member of this community: pay them without @%s", member, community)
	}
	for _, c := range to {
		if unicode.IsControl(c) || unicode.IsSpace(c) {
			return "", "", invalid("to", "the address contains invalid characters")
		}
	}
	if utf8.RuneCountInString(to) > cxp.MaxStringLen {
		return "", "", invalid("to", "the address is too long")
	}
	return member, community, nil
}

func checkDescription(d string) error {
	if !utf8.ValidString(d) || utf8.RuneCountInString(d) > cxp.MaxStringLen {
		return invalid("description", "the description must be at most %d characters", cxp.MaxStringLen)
	}
	for _, c := range d {
		if unicode.IsControl(c) && c != '\n' && c != '\t' && c != '\r' {
			return invalid("description", "the description contains invalid characters")
		}
	}
	return nil
}

// undelivered reports whether a call certainly never reached the circle
// (the connection was refused), so the circle cannot have written anything.
func undelivered(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// newTempID is a fresh temp_id for one payment: it is reused on every retry
// of that payment.
func newTempID() string { return "it-" + randomHex(16) }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// errOf is the refusal an answer carries, as an error (nil for code 0).
func errOf(st cxp.Status) error {
	if e := st.Err(); e != nil {
		return e
	}
	return nil
}
