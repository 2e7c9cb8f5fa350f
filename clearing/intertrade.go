package clearing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sxp-network/sxp/clearing/cxp"
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
// payee accepted; it is voided when the payee refuses or cannot be reached.
// A hold whose relay never returned (a crash) expires.

// Intertrade is one try that was written (status pending, posted, voided or expired).
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

	hash string
}

const intertradeColumns = `id, src_community, temp_id, payer_community, payee_community, payer, payee, payer_url,
	payee_url, src_url, dest_url, quantity, description, payer_ticks::text, payee_ticks::text,
	coalesce(pending_id, 0), coalesce(transfer_id, 0), status, result_code, created_at, resolved_at`

// scanIntertrade scans intertradeColumns, then any extra columns into extra.
func scanIntertrade(row pgx.Row, extra ...any) (Intertrade, error) {
	var t Intertrade
	err := row.Scan(append([]any{&t.ID, &t.SrcCommunity, &t.TempID, &t.PayerCommunity, &t.PayeeCommunity, &t.Payer, &t.Payee,
		&t.PayerURL, &t.PayeeURL, &t.SrcURL, &t.DestURL, &t.Quantity, &t.Description, &t.PayerTicks, &t.PayeeTicks,
		&t.PendingID, &t.TransferID, &t.Status, &t.ResultCode, &t.CreatedAt, &t.ResolvedAt}, extra...)...)
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
		if _, err := h.relay(ctx, s, relay); err != nil {
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
	relay := s.req
	relay.Really = true
	if _, err := h.relay(ctx, s, relay); err != nil {
		ce, ok := cxp.AsError(err)
		if !ok {
			ce = cxp.Errorf(cxp.CodeOther, "the relay failed")
		}
		if verr := h.void(context.WithoutCancel(ctx), t, ce.Code); verr != nil {
			return cxp.TransactionResponse{}, errors.Join(err, verr)
		}
		return cxp.TransactionResponse{}, err
	}
	return h.post(context.WithoutCancel(ctx), s, t)
}

func (h *House) setupTry(ctx context.Context, callerID string, req cxp.TransactionRequest) (trySetup, error) {
	circle, err := h.Circle(ctx)
	if err != nil {
		return trySetup{}, err
	}
	qty, cerr := req.Validate(circle.Divisions)
	if cerr != nil {
		return trySetup{}, cerr
	}
	caller, err := h.Community(ctx, callerID)
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
	payee, err := h.CommunityByURI(ctx, dest)
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
	volume, err := h.volume(ctx, h.pool, s.payer.ID, h.now().AddDate(-1, 0, 0), h.now())
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
		return cxp.TransactionResponse{}, cxp.Errorf(cxp.CodeOther, "transaction %s is still being relayed; repeat it in a few seconds", prev.TempID)
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
	err := h.ledger.InTx(ctx, func(tx *ledgerTx) error {
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
// diagnostics), any other refusal → 25, no answer → 26.
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
		Signer: cxp.Signer{KeyID: s.circle.ID, Key: key, Now: h.now}}
	resp, err := c.Relay(ctx, s.payee.URI, req)
	if err == nil {
		return resp, nil
	}
	if cxp.IsUnreachable(err) || errors.Is(err, context.DeadlineExceeded) {
		h.log.WarnContext(ctx, "clearing: relay unreachable", "payee", s.payee.ID, "err", err)
		return cxp.TransactionResponse{}, cxp.NewError(cxp.CodeServerNotFound, map[string]string{"server": s.payee.URI})
	}
	ce, ok := cxp.AsError(err)
	if !ok {
		h.log.WarnContext(ctx, "clearing: relay failed", "payee", s.payee.ID, "err", err)
		return cxp.TransactionResponse{}, cxp.Errorf(cxp.CodeRemoteValidation, "the payee's server gave no valid answer")
	}
	switch ce.Code {
	case cxp.CodeDiagnostics:
		// Not a CXP answer: a 401/403 is a refused signature, anything else is
		// passed on as the payee server's diagnostics.
		if m := ce.Args["message"]; strings.HasPrefix(m, "HTTP 401") || strings.HasPrefix(m, "HTTP 403") {
			return cxp.TransactionResponse{}, cxp.NewError(cxp.CodeRemoteAuth, map[string]string{"server": s.payee.URI})
		}
		return cxp.TransactionResponse{}, ce
	case cxp.CodeWrongKey, cxp.CodeAuthData, cxp.CodeNotPermitted, cxp.CodeRemoteAuth:
		return cxp.TransactionResponse{}, cxp.NewError(cxp.CodeRemoteAuth, map[string]string{"server": s.payee.URI})
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

func (h *House) void(ctx context.Context, t Intertrade, code cxp.Code) error {
	return h.ledger.InTx(ctx, func(tx *ledgerTx) error {
		if _, err := tx.Void(ctx, t.PendingID); err != nil {
			c := ledger.CodeOf(err)
			if c != ledger.CodePendingResolved {
				return fmt.Errorf("clearing: void %d: %w", t.ID, err)
			}
		}
		_, err := tx.Conn().Exec(ctx, `UPDATE clearing_intertrades SET status = 'voided', result_code = $2, resolved_at = $3
			WHERE id = $1 AND status = 'pending'`, t.ID, int(code), h.now())
		return err
	})
}

// post completes an accepted intertrade and appends it to the record.
func (h *House) post(ctx context.Context, s trySetup, t Intertrade) (cxp.TransactionResponse, error) {
	resp := h.answer(s, strconv.FormatInt(t.ID, 10), "Transaction written.")
	resp.PayerTicks, resp.PayeeTicks = cxp.Decimal(t.PayerTicks), cxp.Decimal(t.PayeeTicks)
	body, err := json.Marshal(resp)
	if err != nil {
		return cxp.TransactionResponse{}, err
	}
	err = h.ledger.InTx(ctx, func(tx *ledgerTx) error {
		tr, err := tx.Post(ctx, t.PendingID)
		if err != nil {
			return err
		}
		now := h.now()
		posted, err := scanIntertrade(tx.Conn().QueryRow(ctx, `UPDATE clearing_intertrades SET status = 'posted', transfer_id = $2,
			response = $3, resolved_at = $4 WHERE id = $1 AND status = 'pending' RETURNING `+intertradeColumns,
			t.ID, tr.ID, body, now))
		if err != nil {
			return fmt.Errorf("clearing: post %d: %w", t.ID, err)
		}
		return appendRecord(ctx, tx.Conn(), posted, s.circle.Divisions, now)
	})
	if err != nil {
		// The payee wrote it but the hold could not be posted (it expired):
		// the integrity check will show the difference; say so loudly.
		h.log.ErrorContext(ctx, "clearing: relay accepted but post failed", "intertrade", t.ID, "err", err)
		if _, uerr := h.pool.Exec(ctx, `UPDATE clearing_intertrades SET status = 'expired', result_code = 5, resolved_at = $2
			WHERE id = $1 AND status = 'pending'`, t.ID, h.now()); uerr != nil {
			// ExpireDue marks it later.
			h.log.ErrorContext(ctx, "clearing: marking the intertrade expired failed", "intertrade", t.ID, "err", uerr)
		}
		return cxp.TransactionResponse{}, cxp.Errorf(cxp.CodeSaving, "the payee accepted but the clearing house could not post the transaction")
	}
	return resp, nil
}

// ExpireDue expires the holds whose relay never finished and marks their
// intertrades expired.
func (h *House) ExpireDue(ctx context.Context) (int, error) {
	n, err := h.ledger.ExpireDue(ctx)
	if err != nil {
		return 0, fmt.Errorf("clearing: expire: %w", err)
	}
	rows, err := h.pool.Query(ctx, `SELECT id, coalesce(pending_id, 0) FROM clearing_intertrades
		WHERE status = 'pending' AND created_at < $1`, h.now().Add(-h.holdTTL))
	if err != nil {
		return n, fmt.Errorf("clearing: expire: %w", err)
	}
	type stale struct{ id, pending int64 }
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (stale, error) {
		var s stale
		err := r.Scan(&s.id, &s.pending)
		return s, err
	})
	if err != nil {
		return n, fmt.Errorf("clearing: expire: %w", err)
	}
	for _, s := range list {
		status := ledger.PendingExpired
		if s.pending != 0 {
			p, err := h.ledger.Pending(ctx, s.pending)
			if err != nil {
				return n, fmt.Errorf("clearing: expire %d: %w", s.id, err)
			}
			status = p.Status
		}
		if status == ledger.PendingOpen || status == ledger.PendingPosted {
			continue
		}
		if _, err := h.pool.Exec(ctx, `UPDATE clearing_intertrades SET status = 'expired', result_code = 26, resolved_at = $2
			WHERE id = $1 AND status = 'pending'`, s.id, h.now()); err != nil {
			return n, fmt.Errorf("clearing: expire %d: %w", s.id, err)
		}
	}
	return n, nil
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
