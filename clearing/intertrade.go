package clearing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
	"github.com/sxp-network/sxp/ledger"
)

// An intertrade moves quantity base units from the payer community's
// virtual customer to the payee community's. The caller of a try (the
// community whose key signed it, named by src_url) is always the payer: a
// community can spend its own credit but never another's. payer_url, when
// given, must be src_url; payee_url is passed on to the payee's server (in
// a nested circle it names the payee's community inside dest_url).
//
// A written intertrade is never half done: the amount is held on the
// clearing house (limits checked, atomically with the intertrade row), the
// try is relayed to the payee's server, and the hold is posted only once the
// payee accepted; it is voided only when the payee's outcome is certain: it
// refused with a CXP code, or the first relay could not even connect (so
// the payee cannot have written it).
//
// When the payee may have written the relay but its answer is unknown (the
// answer was lost or late, the connection broke after the request went out,
// the payee's answer was a gateway's error page, or the clearing house
// stopped while it waited), the intertrade stays pending and its hold is
// kept open (extended, never expired). Recover, run by the clearing house's
// maintenance loop, asks the payee again with the same temp_id and content
// (a payee answers a repeated temp_id with its first answer, and writes a
// relay it never received) until the outcome is known, then posts or voids.
// Meanwhile a repeat of the try by the payer is told that the transaction
// is still pending (code 27), never that it failed.
//
// The relay carries the payee's rate the clearing house used (payee_ticks)
// and, when the payee's decimal places are known from its handshake, the
// amount in the payee's currency (payee_amount); the payee credits exactly
// that or refuses, never converting at a rate of its own.

// Intertrade is one try that was written (status pending, posted or voided;
// expired only on rows from before holds were kept open while unknown).
type Intertrade struct {
	ID             int64      `json:"id"`
	SrcCommunity   string     `json:"src_community"`
	TempID         string     `json:"temp_id"`
	PayerCommunity string     `json:"payer_community"`
	PayeeCommunity string     `json:"payee_community"`
	Payer          string     `json:"payer"`
	Payee          string     `json:"payee"`
	PayerURL       string     `json:"payer_url"`
	PayeeURL       string     `json:"payee_url"`
	SrcURL         string     `json:"src_url"`
	DestURL        string     `json:"dest_url"`
	Quantity       int64      `json:"quantity"` // base minor units
	Description    string     `json:"description"`
	PayerTicks     string     `json:"payer_ticks"`
	PayeeTicks     string     `json:"payee_ticks"`
	PendingID      int64      `json:"pending_id"`
	TransferID     int64      `json:"transfer_id"`
	Status         string     `json:"status"`
	ResultCode     int        `json:"result_code"`
	CreatedAt      time.Time  `json:"created_at"`
	ResolvedAt     *time.Time `json:"resolved_at,omitempty"`
	Asks           int        `json:"asks"`                 // relays sent to the payee
	LastError      string     `json:"last_error,omitempty"` // why its outcome is still unknown

	hash string
}

const intertradeColumns = `id, src_community, temp_id, payer_community, payee_community, payer, payee, payer_url,
	payee_url, src_url, dest_url, quantity, description, payer_ticks::text, payee_ticks::text,
	coalesce(pending_id, 0), coalesce(transfer_id, 0), status, result_code, created_at, resolved_at, asks, last_error`

// scanIntertrade scans intertradeColumns, then any extra columns into extra.
func scanIntertrade(row pgx.Row, extra ...any) (Intertrade, error) {
	var t Intertrade
	err := row.Scan(append([]any{&t.ID, &t.SrcCommunity, &t.TempID, &t.PayerCommunity, &t.PayeeCommunity, &t.Payer, &t.Payee,
		&t.PayerURL, &t.PayeeURL, &t.SrcURL, &t.DestURL, &t.Quantity, &t.Description, &t.PayerTicks, &t.PayeeTicks,
		&t.PendingID, &t.TransferID, &t.Status, &t.ResultCode, &t.CreatedAt, &t.ResolvedAt, &t.Asks, &t.LastError}, extra...)...)
	return t, err
}

// trySetup is a validated try: who pays whom how much.
type trySetup struct {
	circle   Circle
	payer    Community
	payee    Community
	quantity int64
	hash     string
	req      cxp.TransactionRequest // normalised: urls without trailing slash, canonical quantity
}

// Try validates a try from the community callerID (the signer) and, when
// req.Really, writes it: hold, relay to the payee's server, post. Refusals
// are *cxp.Error; any other error is internal (answer code 27 and log it).
func (h *House) Try(ctx context.Context, callerID string, req cxp.TransactionRequest) (cxp.TransactionResponse, error) {
	var s trySetup
	var err error
	if h.parent != nil && callerID == h.parent.CircleID {
		s, err = h.setupFromParent(ctx, req)
	} else {
		s, err = h.setupTry(ctx, callerID, req)
	}
	if err != nil {
		return cxp.TransactionResponse{}, err
	}
	if !req.Really {
		if err := h.checkTry(ctx, s); err != nil {
			return cxp.TransactionResponse{}, err
		}
		relay := s.req
		relay.Really = false
		relay.PayeeTicks, relay.PayeeAmount = cxp.Decimal(s.payee.Ticks), ""
		if _, err := h.relay(ctx, s, relay); err != nil {
			var unknown *unknownOutcome
			if errors.As(err, &unknown) { // nothing is written by really=false
				if unknown.refusal != nil {
					return cxp.TransactionResponse{}, unknown.refusal
				}
				if ce, ok := cxp.AsError(unknown.err); ok && ce.Code == cxp.CodeDiagnostics {
					return cxp.TransactionResponse{}, ce
				} else if ok {
					return cxp.TransactionResponse{}, cxp.Errorf(cxp.CodeRemoteValidation, "%s", ce.Message)
				}
				return cxp.TransactionResponse{}, cxp.Errorf(cxp.CodeRemoteValidation, "the payee's server gave no valid answer")
			}
			return cxp.TransactionResponse{}, err
		}
		return h.answer(s, "", "The transaction is valid; nothing was written."), nil
	}

	// A replay of a written temp_id answers as the first time did.
	if prev, resp, found, err := h.liveByTempID(ctx, s.payer.ID, req.TempID); err != nil {
		return cxp.TransactionResponse{}, err
	} else if found {
		return h.replay(prev, resp, s.hash)
	}
	if err := h.checkTry(ctx, s); err != nil {
		return cxp.TransactionResponse{}, err
	}
	t, err := h.hold(ctx, s)
	if err != nil {
		return cxp.TransactionResponse{}, err
	}
	// The outcome is settled even when the caller hangs up.
	return h.settleRelay(context.WithoutCancel(ctx), s, t, true)
}

// settleRelay relays a held intertrade to the payee (really=true, its
// temp_id, the payee rate it was held with) and settles it by the answer:
// posted when the payee accepted, voided when the payee's refusal is
// certain, kept pending (hold extended) while the outcome is unknown. first
// is true for the try's own relay: only then does a connection that could
// not even be opened prove that the payee never received the relay.
func (h *House) settleRelay(ctx context.Context, s trySetup, t Intertrade, first bool) (cxp.TransactionResponse, error) {
	relay := s.req
	relay.Really = true
	relay.PayeeTicks = cxp.Decimal(t.PayeeTicks)
	relay.PayeeAmount = h.payeeAmount(s, t)
	_, err := h.relay(ctx, s, relay)
	if err == nil {
		return h.post(ctx, s, t)
	}
	var unknown *unknownOutcome
	if errors.As(err, &unknown) && (!first || !unknown.undelivered) {
		return cxp.TransactionResponse{}, h.keepPending(ctx, t, unknown)
	}
	if ce, ok := cxp.AsError(err); ok && !first && ce.Code != cxp.CodeRemoteLimits && ce.Code != cxp.CodeRemoteValidation {
		// A repeat refused before the payee looked the temp_id up (its
		// signature, its validation): that says nothing about the first
		// relay, which it may have written. Only its own refusal of the
		// payment (24, 25), given after it found no record of the temp_id,
		// settles it.
		return cxp.TransactionResponse{}, h.keepPending(ctx, t, err)
	}
	ce, ok := cxp.AsError(err)
	if errors.As(err, &unknown) {
		ce = unknown.refusal
	} else if !ok {
		// An internal error before anything was sent (the payee's key).
		h.log.ErrorContext(ctx, "clearing: relay not sent", "intertrade", t.ID, "err", err)
		ce = cxp.Errorf(cxp.CodeOther, "the relay failed")
	}
	if _, verr := h.void(ctx, t, ce.Code); verr != nil {
		return cxp.TransactionResponse{}, errors.Join(err, verr)
	}
	return cxp.TransactionResponse{}, ce
}

// unknownOutcome is a relay that the payee may have written: its answer was
// lost, late or unreadable. undelivered is true when the connection could
// not even be opened (then refusal is the answer to give).
type unknownOutcome struct {
	err         error
	undelivered bool
	refusal     *cxp.Error
}

func (u *unknownOutcome) Error() string {
	return "clearing: the payee's answer is unknown: " + u.err.Error()
}
func (u *unknownOutcome) Unwrap() error { return u.err }

// undelivered reports whether a call certainly never reached the server:
// the connection could not be opened (refused, no route, no such host).
func undelivered(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// stillPending is the answer to a payer while its intertrade's outcome is
// not known yet: code 27, which the payer must not take as a failure.
func stillPending(tempID string) *cxp.Error {
	return cxp.Errorf(cxp.CodeOther, "transaction %s is pending: the payee's answer is not known yet; the clearing house asks again "+
		"until it is; repeat the try with the same temp_id for its outcome", tempID)
}

// keepPending records that a relay's outcome is unknown: the hold is
// extended (it must not expire into a void while the payee may have written
// the relay) and recovery asks again after a delay that grows with each ask.
func (h *House) keepPending(ctx context.Context, t Intertrade, cause error) error {
	h.log.WarnContext(ctx, "clearing: the payee's answer is unknown; the intertrade stays pending", "intertrade", t.ID,
		"temp_id", t.TempID, "err", cause)
	now := h.now()
	err := h.ledger.InTx(ctx, func(tx *ledgerTx) error {
		var asks int
		err := tx.Conn().QueryRow(ctx, `SELECT asks FROM clearing_intertrades WHERE id = $1 AND status = 'pending' FOR UPDATE`, t.ID).Scan(&asks)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // settled meanwhile
		}
		if err != nil {
			return err
		}
		if _, err := tx.Extend(ctx, t.PendingID, now.Add(h.holdTTL)); err != nil && ledger.CodeOf(err) != ledger.CodePendingResolved {
			return err
		}
		_, err = tx.Conn().Exec(ctx, `UPDATE clearing_intertrades SET asks = asks + 1, ask_after = $2, last_error = $3
			WHERE id = $1`, t.ID, now.Add(askDelay(h.relayTimeout, asks+1)), clipError(cause))
		return err
	})
	if err != nil {
		h.log.ErrorContext(ctx, "clearing: recording an unknown relay outcome failed; recovery asks again", "intertrade", t.ID, "err", err)
	}
	return stillPending(t.TempID)
}

// askDelay is how long recovery waits before asking the payee again after
// asks relays: the relay timeout times the number of asks, at most 5 minutes.
func askDelay(relayTimeout time.Duration, asks int) time.Duration {
	return min(relayTimeout*time.Duration(max(asks, 1)), 5*time.Minute)
}

func clipError(err error) string {
	s := err.Error()
	if len(s) > 500 {
		s = s[:500]
	}
	return s
}

// payeeAmount is the amount in the payee's currency that the relay of t
// credits, when the payee's decimal places are known from its handshake
// ("" otherwise: the payee converts quantity at payee_ticks itself).
func (h *House) payeeAmount(s trySetup, t Intertrade) cxp.Decimal {
	div, ok := divisionsOf(s.payee.DivisionsText)
	if !ok || h.isParent(s.payee) {
		return ""
	}
	v, err := cxp.FromBase(t.Quantity, s.circle.Divisions, cxp.Decimal(t.PayeeTicks), div)
	if err != nil {
		return ""
	}
	return cxp.FromMinor(v, div)
}

// divisionsOf reads the seed's notation of a currency's decimal places, as
// a community sends it in its handshake: "01" is 2, "1" is 1. An empty or
// other text is unknown.
func divisionsOf(text string) (int, bool) {
	if text == "" || len(text) > 8 || strings.TrimLeft(text, "0") != "1" {
		return 0, false
	}
	return len(text), true
}

func (h *House) setupTry(ctx context.Context, callerID string, req cxp.TransactionRequest) (trySetup, error) {
	circle, err := h.cachedCircle(ctx) // the request's key lookup checked the cache (fresh)
	if err != nil {
		return trySetup{}, err
	}
	qty, cerr := req.Validate(circle.Divisions)
	if cerr != nil {
		return trySetup{}, cerr
	}
	caller, err := h.community(ctx, callerID)
	if err != nil {
		return trySetup{}, cxp.NewError(cxp.CodeNotPermitted, map[string]string{"keyid": callerID})
	}
	if caller.Status != StatusTrading {
		return trySetup{}, cxp.NewError(cxp.CodeNotPermitted, map[string]string{"keyid": callerID, "reason": caller.BlockReason})
	}
	src, dest := normURI(req.SrcURL), normURI(req.DestURL)
	if src != caller.URI {
		return trySetup{}, cxp.InvalidField("src_url", req.SrcURL)
	}
	if req.PayerURL != "" && normURI(req.PayerURL) != src {
		return trySetup{}, cxp.InvalidField("payer_url", req.PayerURL)
	}
	payee, err := h.communityByURI(ctx, dest)
	if errIsNotFound(err) && h.parent != nil {
		payee, err = h.parentCommunity(ctx) // not in this circle: up through the parent
	} else if errIsNotFound(err) {
		return trySetup{}, cxp.NewError(cxp.CodeUnknownAccount, map[string]string{"dest_url": req.DestURL})
	}
	if err != nil {
		return trySetup{}, err
	}
	if payee.ID == caller.ID { // the same uri written differently ("…/")
		return trySetup{}, cxp.InvalidField("dest_url", req.DestURL)
	}
	if payee.Status != StatusTrading {
		h.recordEvent(ctx, payee.ID, "blocked", cxp.CodeNotPermitted, "try")
		return trySetup{}, cxp.NewError(cxp.CodeNotPermitted, map[string]string{"dest_url": req.DestURL})
	}
	n := req
	n.SrcURL, n.DestURL = src, dest
	// payee_url is passed on as given: in a nested circle it names the
	// payee's community inside the community dest_url.
	n.PayerURL, n.PayeeURL = src, normURI(req.PayeeURL)
	if n.PayeeURL == "" {
		n.PayeeURL = dest
	}
	n.Quantity = cxp.FromMinor(qty, circle.Divisions)
	n.PayeeTicks, n.PayeeAmount = "", "" // the clearing house sets them on the relay
	return trySetup{circle: circle, payer: caller, payee: payee, quantity: qty, hash: requestHash(n, qty), req: n}, nil
}

// normURI is a uri as communities are registered: no surrounding space, no
// trailing slash.
func normURI(s string) string { return strings.TrimRight(strings.TrimSpace(s), "/") }

// requestHash identifies a try's content (everything but really and temp_id).
func requestHash(r cxp.TransactionRequest, qty int64) string {
	b, _ := json.Marshal([]string{r.Payer, r.PayerURL, r.Payee, r.PayeeURL, r.SrcURL, r.DestURL,
		strconv.FormatInt(qty, 10), r.Description})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// checkTry applies the circle's rules before anything is written: the
// payer's intertrading ratio (14) and both virtual customers' limits (4).
func (h *House) checkTry(ctx context.Context, s trySetup) error {
	if s.payer.SpendHeadroom() < s.quantity {
		return cxp.NewError(cxp.CodeLimits, map[string]string{"community": s.payer.ID,
			"spend_limit": string(cxp.FromMinor(max(s.payer.SpendHeadroom(), 0), s.circle.Divisions))})
	}
	if s.payee.EarnHeadroom() < s.quantity {
		return cxp.NewError(cxp.CodeLimits, map[string]string{"community": s.payee.ID,
			"earn_limit": string(cxp.FromMinor(max(s.payee.EarnHeadroom(), 0), s.circle.Divisions))})
	}
	if s.circle.RatioPercent == "" {
		return nil
	}
	volume, err := h.tradedSince(ctx, s.payer.ID, h.now().AddDate(-1, 0, 0))
	if err != nil {
		return err
	}
	balance := s.payer.Balance - s.payer.PendingDebits - s.quantity
	if RatioExceeded(balance, volume, s.circle.RatioPercent) {
		return cxp.NewError(cxp.CodeRatio, map[string]string{"num": s.circle.RatioPercent,
			"balance": string(cxp.FromMinor(balance, s.circle.Divisions)),
			"volume":  string(cxp.FromMinor(volume, s.circle.Divisions))})
	}
	return nil
}

// RatioExceeded says whether |balance| / volume is over percent %. Only a
// payer in debit is held back (a community can always trade its balance back
// towards zero), and one with no volume yet is not (its limits still apply).
func RatioExceeded(balance, volume int64, percent string) bool {
	if volume <= 0 || balance >= 0 {
		return false
	}
	p, ok := new(big.Rat).SetString(percent)
	if !ok {
		return false
	}
	lhs := new(big.Rat).SetInt64(-balance)
	lhs.Mul(lhs, big.NewRat(100, 1))
	rhs := new(big.Rat).Mul(p, new(big.Rat).SetInt64(volume))
	return lhs.Cmp(rhs) > 0
}

// volume is the base minor units a community traded (paid or received) in [from, to).
func (h *House) volume(ctx context.Context, q querier, id string, from, to time.Time) (int64, error) {
	var v int64
	err := q.QueryRow(ctx, `SELECT coalesce(sum(quantity), 0)::bigint FROM clearing_intertrades
		WHERE status = 'posted' AND (payer_community = $1 OR payee_community = $1)
		AND created_at >= $2 AND created_at < $3`, id, from, to).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("clearing: volume: %w", err)
	}
	return v, nil
}

// tradedSince is the base minor units a community traded (paid or
// received, posted) on the UTC days from since's to today, from the
// maintained clearing_volume_days (migration 000016): a read of at most a
// year of day rows, however long the history.
func (h *House) tradedSince(ctx context.Context, id string, since time.Time) (int64, error) {
	var v int64
	err := h.pool.QueryRow(ctx, `SELECT coalesce(sum(quantity), 0)::bigint FROM clearing_volume_days
		WHERE community_id = $1 AND day >= $2::date`, id, since.UTC().Format(time.DateOnly)).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("clearing: volume: %w", err)
	}
	return v, nil
}

func (h *House) liveByTempID(ctx context.Context, src, tempID string) (Intertrade, []byte, bool, error) {
	var resp []byte
	var hash string
	row := h.pool.QueryRow(ctx, `SELECT `+intertradeColumns+`, request_hash, response FROM clearing_intertrades
		WHERE src_community = $1 AND temp_id = $2 AND status IN ('pending', 'posted')`, src, tempID)
	t, err := scanIntertrade(row, &hash, &resp)
	if errors.Is(err, pgx.ErrNoRows) {
		return Intertrade{}, nil, false, nil
	}
	if err != nil {
		return Intertrade{}, nil, false, fmt.Errorf("clearing: temp_id: %w", err)
	}
	t.hash = hash
	return t, resp, true, nil
}

func (h *House) replay(prev Intertrade, resp []byte, hash string) (cxp.TransactionResponse, error) {
	if prev.hash != hash {
		return cxp.TransactionResponse{}, cxp.InvalidField("temp_id", prev.TempID)
	}
	if prev.Status != "posted" || resp == nil {
		return cxp.TransactionResponse{}, stillPending(prev.TempID)
	}
	var out cxp.TransactionResponse
	if err := json.Unmarshal(resp, &out); err != nil {
		return cxp.TransactionResponse{}, fmt.Errorf("clearing: stored answer of %d: %w", prev.ID, err)
	}
	return out, nil
}

func (h *House) answer(s trySetup, id, message string) cxp.TransactionResponse {
	return cxp.TransactionResponse{
		Status:     cxp.StatusOK(message),
		ID:         id,
		TempID:     s.req.TempID,
		Quantity:   s.req.Quantity,
		PayerTicks: cxp.Decimal(s.payer.Ticks),
		PayeeTicks: cxp.Decimal(s.payee.Ticks),
	}
}

// hold writes the intertrade row and holds the amount, atomically.
func (h *House) hold(ctx context.Context, s trySetup) (Intertrade, error) {
	var t Intertrade
	err := h.writes.InTx(ctx, func(ctx context.Context, tx *ledgerTx) error {
		q := tx.Conn()
		now := h.now()
		var err error
		t, err = scanIntertrade(q.QueryRow(ctx, `INSERT INTO clearing_intertrades (src_community, temp_id, request_hash,
			payer_community, payee_community, payer, payee, payer_url, payee_url, src_url, dest_url, quantity, description,
			payer_ticks, payee_ticks, status, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::numeric, $15::numeric, 'pending', $16)
			RETURNING `+intertradeColumns,
			s.payer.ID, s.req.TempID, s.hash, s.payer.ID, s.payee.ID, s.req.Payer, s.req.Payee, s.req.PayerURL, s.req.PayeeURL,
			s.req.SrcURL, s.req.DestURL, s.quantity, s.req.Description, s.payer.Ticks, s.payee.Ticks, now))
		if err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "23505" {
				return cxp.Errorf(cxp.CodeOther, "transaction %s is already being relayed; repeat it in a few seconds", s.req.TempID)
			}
			return fmt.Errorf("clearing: intertrade: %w", err)
		}
		p, err := tx.Hold(ctx, ledger.HoldRequest{
			TransferRequest: ledger.TransferRequest{
				Debit: s.payer.AccountID, Credit: s.payee.AccountID, Amount: s.quantity,
				Description:    s.req.Description,
				Metadata:       map[string]string{"intertrade": strconv.FormatInt(t.ID, 10), "temp_id": s.req.TempID},
				IdempotencyKey: "intertrade:" + strconv.FormatInt(t.ID, 10),
			},
			ExpiresAt: now.Add(h.holdTTL),
		})
		if err != nil {
			return ledgerRefusal(err, s)
		}
		t.PendingID = p.ID
		_, err = q.Exec(ctx, `UPDATE clearing_intertrades SET pending_id = $2 WHERE id = $1`, t.ID, p.ID)
		return err
	})
	return t, err
}

// ledgerRefusal maps a ledger refusal of a hold to a CXP code.
func ledgerRefusal(err error, s trySetup) error {
	switch ledger.CodeOf(err) {
	case ledger.CodeOverLowerLimit:
		return cxp.NewError(cxp.CodeLimits, map[string]string{"community": s.payer.ID})
	case ledger.CodeOverUpperLimit:
		return cxp.NewError(cxp.CodeLimits, map[string]string{"community": s.payee.ID})
	case ledger.CodeAccountFrozen:
		return cxp.NewError(cxp.CodeNotPermitted, nil)
	case "":
		return fmt.Errorf("clearing: hold: %w", err)
	}
	return cxp.Errorf(cxp.CodeSaving, "%s", ledger.CodeOf(err))
}

// relay sends the try to the payee's server, signed with the payee's key
// (keyid = the circle's id), and maps its refusals: a refused signature →
// 20, 24 and 25 as the payee sent them, an answer that is not CXP → 7 (its
// diagnostics), any other refusal → 25. An answer that leaves the outcome
// open is an *unknownOutcome: no answer or a broken connection (26 if it
// must be answered), a gateway's 5xx page, or the payee's own 5 or 27.
func (h *House) relay(ctx context.Context, s trySetup, req cxp.TransactionRequest) (cxp.TransactionResponse, error) {
	if h.isParent(s.payee) {
		return h.tryParent(ctx, s, req)
	}
	key, err := h.currentKey(ctx, s.payee.ID)
	if err != nil {
		return cxp.TransactionResponse{}, err
	}
	// A caller that hangs up does not cut a relay short: the payee may be
	// writing it, and the outcome must be posted or voided either way.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.relayTimeout)
	defer cancel()
	c := &cxp.Client{BaseURL: s.payee.URI, HTTP: h.http,
		Signer: httpsig.Signer{KeyID: s.circle.ID, Key: key, Now: h.now}}
	resp, err := c.Relay(ctx, s.payee.URI, req)
	if err == nil {
		return resp, nil
	}
	if cxp.IsUnreachable(err) || errors.Is(err, context.DeadlineExceeded) {
		h.log.WarnContext(ctx, "clearing: relay unreachable", "payee", s.payee.ID, "err", err)
		return cxp.TransactionResponse{}, &unknownOutcome{err: err, undelivered: undelivered(err),
			refusal: cxp.NewError(cxp.CodeServerNotFound, map[string]string{"server": s.payee.URI})}
	}
	ce, ok := cxp.AsError(err)
	if !ok {
		h.log.WarnContext(ctx, "clearing: relay failed", "payee", s.payee.ID, "err", err)
		return cxp.TransactionResponse{}, cxp.Errorf(cxp.CodeRemoteValidation, "the payee's server gave no valid answer")
	}
	if cxp.IsSignatureRefusal(ce.Code) || ce.Code == cxp.CodeRemoteAuth {
		return cxp.TransactionResponse{}, cxp.RemoteAuth(s.payee.URI)
	}
	switch ce.Code {
	case cxp.CodeDiagnostics:
		// Not a CXP answer: a 401/403 is a refused signature; a 5xx is a
		// gateway's or a crashing server's page, after which the payee may
		// have written it; anything else is passed on as the payee server's
		// diagnostics.
		m := ce.Args["message"]
		if strings.HasPrefix(m, "HTTP 401") || strings.HasPrefix(m, "HTTP 403") {
			return cxp.TransactionResponse{}, cxp.RemoteAuth(s.payee.URI)
		}
		if strings.HasPrefix(m, "HTTP 5") {
			return cxp.TransactionResponse{}, &unknownOutcome{err: ce}
		}
		return cxp.TransactionResponse{}, ce
	case cxp.CodeSaving, cxp.CodeOther:
		// The payee could not record it, or is still recording it: it may
		// yet have written it.
		return cxp.TransactionResponse{}, &unknownOutcome{err: ce}
	case cxp.CodeInvalidField:
		if ce.Args["field"] == "temp_id" {
			// The payee holds this temp_id with other content: what it did
			// with it is not known here (an admin must look).
			return cxp.TransactionResponse{}, &unknownOutcome{err: ce}
		}
	case cxp.CodeRemoteLimits:
		return cxp.TransactionResponse{}, ce
	case cxp.CodeRemoteValidation:
		if ce.Args["message"] == "" { // the seed's @message, from the payee's message if it sent no args
			msg := strings.TrimPrefix(ce.Message, strings.TrimSuffix(cxp.Render(cxp.CodeRemoteValidation, nil), "@message"))
			if msg == "" || strings.Contains(msg, "@message") {
				msg = "the payee's server gave no reason"
			}
			return cxp.TransactionResponse{}, cxp.Errorf(cxp.CodeRemoteValidation, "%s", msg)
		}
		return cxp.TransactionResponse{}, ce
	case cxp.CodeLimits:
		return cxp.TransactionResponse{}, cxp.NewError(cxp.CodeRemoteLimits, ce.Args)
	}
	return cxp.TransactionResponse{}, cxp.Errorf(cxp.CodeRemoteValidation, "%s", ce.Message)
}

// void releases the hold of a pending intertrade whose payee certainly
// did not write it, and returns its status after (an intertrade settled
// meanwhile is left as it is).
func (h *House) void(ctx context.Context, t Intertrade, code cxp.Code) (string, error) {
	status := ""
	err := h.ledger.InTx(ctx, func(tx *ledgerTx) error {
		cur, _, err := lockIntertrade(ctx, tx.Conn(), t.ID)
		if err != nil {
			return err
		}
		if status = cur.Status; status != "pending" {
			return nil
		}
		if _, err := tx.Void(ctx, t.PendingID); err != nil {
			return fmt.Errorf("clearing: void %d: %w", t.ID, err)
		}
		status = "voided"
		_, err = tx.Conn().Exec(ctx, `UPDATE clearing_intertrades SET status = 'voided', result_code = $2, resolved_at = $3
			WHERE id = $1`, t.ID, int(code), h.now())
		return err
	})
	return status, err
}

// lockIntertrade reads an intertrade and its stored answer, locked. Every
// settling (post, void) locks it first, so two of them (a try and recovery)
// settle it once.
func lockIntertrade(ctx context.Context, q querier, id int64) (Intertrade, []byte, error) {
	var resp []byte
	t, err := scanIntertrade(q.QueryRow(ctx, `SELECT `+intertradeColumns+`, response FROM clearing_intertrades
		WHERE id = $1 FOR UPDATE`, id), &resp)
	if err != nil {
		return Intertrade{}, nil, fmt.Errorf("clearing: intertrade %d: %w", id, err)
	}
	return t, resp, nil
}

// post completes an accepted intertrade and appends it to the record. The
// payee wrote it, so the hold is posted even past its first deadline. When
// the post cannot be written the intertrade stays pending: recovery asks
// the payee again (which repeats its answer) and posts then.
func (h *House) post(ctx context.Context, s trySetup, t Intertrade) (cxp.TransactionResponse, error) {
	resp := h.answer(s, strconv.FormatInt(t.ID, 10), "Transaction written.")
	resp.PayerTicks, resp.PayeeTicks = cxp.Decimal(t.PayerTicks), cxp.Decimal(t.PayeeTicks)
	body, err := json.Marshal(resp)
	if err != nil {
		return cxp.TransactionResponse{}, err
	}
	var settled *cxp.TransactionResponse
	var refusal *cxp.Error
	err = h.writes.InTx(ctx, func(ctx context.Context, tx *ledgerTx) error {
		settled, refusal = nil, nil
		cur, stored, err := lockIntertrade(ctx, tx.Conn(), t.ID)
		if err != nil {
			return err
		}
		switch cur.Status {
		case "pending":
		case "posted":
			var out cxp.TransactionResponse
			if err := json.Unmarshal(stored, &out); err != nil {
				return fmt.Errorf("clearing: stored answer of %d: %w", t.ID, err)
			}
			settled = &out
			return nil
		default:
			// Voided or expired before: an inconsistency that only an admin
			// can mend (the payee wrote it). Say so loudly.
			h.log.ErrorContext(ctx, "clearing: the payee accepted an intertrade that was already settled", "intertrade", t.ID, "status", cur.Status)
			refusal = cxp.Errorf(cxp.CodeSaving, "the payee accepted but the transaction was already %s", cur.Status)
			return nil
		}
		now := h.now()
		if _, err := tx.Extend(ctx, t.PendingID, now.Add(time.Minute)); err != nil {
			return err
		}
		tr, err := tx.Post(ctx, t.PendingID)
		if err != nil {
			return err
		}
		posted, err := scanIntertrade(tx.Conn().QueryRow(ctx, `UPDATE clearing_intertrades SET status = 'posted', transfer_id = $2,
			response = $3, resolved_at = $4, last_error = '' WHERE id = $1 RETURNING `+intertradeColumns,
			t.ID, tr.ID, body, now))
		if err != nil {
			return fmt.Errorf("clearing: post %d: %w", t.ID, err)
		}
		return appendRecord(ctx, tx.Conn(), posted, s.circle.Divisions, now)
	})
	switch {
	case err != nil:
		h.log.ErrorContext(ctx, "clearing: relay accepted but post failed; recovery posts it", "intertrade", t.ID, "err", err)
		return cxp.TransactionResponse{}, h.keepPending(ctx, t, err)
	case refusal != nil:
		return cxp.TransactionResponse{}, refusal
	case settled != nil:
		return *settled, nil
	}
	return resp, nil
}

// Recover settles the intertrades whose outcome is unknown: every pending
// one whose try is no longer in flight (twice the relay timeout after it was
// written, or its ask_after) is relayed to the payee again with the same
// temp_id and content, and posted, voided or kept pending by the answer
// (see settleRelay). It never expires a hold into a void. The clearing
// house's maintenance loop runs it; it returns how many it settled.
func (h *House) Recover(ctx context.Context) (int, error) {
	now := h.now()
	rows, err := h.pool.Query(ctx, `SELECT `+intertradeColumns+`, request_hash FROM clearing_intertrades
		WHERE status = 'pending' AND coalesce(ask_after, created_at + make_interval(secs => $2)) <= $1
		ORDER BY id LIMIT 100`, now, (2 * h.relayTimeout).Seconds())
	if err != nil {
		return 0, fmt.Errorf("clearing: recover: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Intertrade, error) {
		var hash string
		t, err := scanIntertrade(r, &hash)
		t.hash = hash
		return t, err
	})
	if err != nil {
		return 0, fmt.Errorf("clearing: recover: %w", err)
	}
	settled := 0
	for _, t := range list {
		if ctx.Err() != nil {
			return settled, ctx.Err()
		}
		if t.PendingID == 0 {
			continue // written by hold() with its hold in one transaction: never
		}
		s, err := h.setupFromRow(ctx, t)
		if err != nil {
			h.log.ErrorContext(ctx, "clearing: recover: cannot rebuild the relay", "intertrade", t.ID, "err", err)
			continue
		}
		_, err = h.settleRelay(ctx, s, t, false)
		if ce, ok := cxp.AsError(err); err == nil || (ok && ce.Code != cxp.CodeOther) {
			settled++
		}
	}
	return settled, nil
}

// setupFromRow rebuilds the relay of a written intertrade, exactly as it
// was first sent.
func (h *House) setupFromRow(ctx context.Context, t Intertrade) (trySetup, error) {
	circle, err := h.Circle(ctx)
	if err != nil {
		return trySetup{}, err
	}
	party := func(id string) (Community, error) {
		if h.parent != nil && id == parentAccountCode(h.parent.CircleID) {
			return h.parentCommunity(ctx)
		}
		return h.Community(ctx, id)
	}
	payer, err := party(t.PayerCommunity)
	if err != nil {
		return trySetup{}, err
	}
	payee, err := party(t.PayeeCommunity)
	if err != nil {
		return trySetup{}, err
	}
	req := cxp.TransactionRequest{Payer: t.Payer, PayerURL: t.PayerURL, Payee: t.Payee, PayeeURL: t.PayeeURL,
		DestURL: t.DestURL, SrcURL: t.SrcURL, Quantity: cxp.FromMinor(t.Quantity, circle.Divisions),
		Description: t.Description, TempID: t.TempID}
	return trySetup{circle: circle, payer: payer, payee: payee, quantity: t.Quantity, hash: t.hash, req: req}, nil
}

// Intertrades lists intertrades, newest first, optionally of one community.
func (h *House) Intertrades(ctx context.Context, communityID string, before int64, limit int) ([]Intertrade, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := h.pool.Query(ctx, `SELECT `+intertradeColumns+` FROM clearing_intertrades
		WHERE id < $1 AND ($2 = '' OR payer_community = $2 OR payee_community = $2) ORDER BY id DESC LIMIT $3`,
		before, communityID, limit)
	if err != nil {
		return nil, fmt.Errorf("clearing: intertrades: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Intertrade, error) { return scanIntertrade(r) })
}
