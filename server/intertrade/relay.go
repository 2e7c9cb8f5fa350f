package intertrade

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/server/members"
)

// MaxRelayBody bounds the body of a relay.
const MaxRelayBody = 64 << 10

// Receive answers a relay from the circle (PUT /transactions), whose signature
// the HTTP edge verified with RelayVerifier: from is the verified keyid (the
// circle's id). It decodes and validates the transaction strictly, checks
// that it is addressed to us, that the payee is an active member whose
// upper limit allows the amount (24 or 25 back otherwise), converts the base
// quantity to our currency at the rate the circle used (payee_ticks; our
// rate in force only when the circle sent none), refusing (25) when the
// circle's payee_amount is another amount, and with really=true
// credits the payee from the import/export account in one database
// transaction together with the intertrade's record. A repeated temp_id with
// the same content gets the first answer and writes nothing; with other
// content it is refused with code 8 on temp_id; src_url is compared without
// a trailing slash. A refusal is a *cxp.Error (a failure of ours is code 5).
func (s *Service) Receive(ctx context.Context, from string, body []byte) (cxp.TransactionResponse, *cxp.Error) {
	answer, err := s.receive(ctx, from, body)
	if err != nil {
		e, ok := cxp.AsError(err)
		if !ok {
			s.log.Error("relay", "err", err)
			e = cxp.Errorf(cxp.CodeSaving, "the payee's server could not record the transaction")
		}
		s.log.Info("relay refused", "code", int(e.Code), "message", e.Message)
		return cxp.TransactionResponse{}, e
	}
	return answer, nil
}

// RelayVerifier is the verifier of the circle's relays, for the HTTP edge:
// keyid the circle's id with our key, nonces kept in PostgreSQL (a relay is
// not accepted twice), @target-uri rebuilt from our public URL. The error
// is always nil here (Alone's is code 16).
func (s *Service) RelayVerifier() (httpsig.Verifier, *cxp.Error) {
	return *s.relays, nil
}

func (s *Service) receive(ctx context.Context, from string, body []byte) (cxp.TransactionResponse, error) {
	if from != s.cfg.CircleID {
		return cxp.TransactionResponse{}, cxp.NewError(cxp.CodeNotPermitted, nil)
	}
	var req cxp.TransactionRequest
	if e := cxp.Decode(body, &req); e != nil {
		return cxp.TransactionResponse{}, e
	}
	q, e := req.Validate(s.base())
	if e != nil {
		return cxp.TransactionResponse{}, e
	}
	if strings.TrimRight(req.DestURL, "/") != strings.TrimRight(s.cfg.PublicURL, "/") {
		return cxp.TransactionResponse{}, cxp.InvalidField("dest_url", req.DestURL)
	}
	ie, err := s.importExport(ctx)
	if err != nil {
		return cxp.TransactionResponse{}, err
	}
	// The rate the circle converted with: never our own, which may be
	// stale (the circle changed it since our last handshake).
	ticks := s.Ticks()
	if req.PayeeTicks != "" {
		if e := cxp.ValidateRate("payee_ticks", req.PayeeTicks); e != nil {
			return cxp.TransactionResponse{}, e
		}
		ticks = req.PayeeTicks
	}
	src := strings.TrimRight(strings.TrimSpace(req.SrcURL), "/")
	it := Intertrade{
		Direction: In, State: StatePending, TempID: req.TempID,
		Payer: req.Payer, PayerURL: req.PayerURL, Payee: req.Payee, PayeeURL: req.PayeeURL,
		SrcURL: src, DestURL: req.DestURL, Community: s.communityOf(src), Description: req.Description,
		Quantity: cxp.FromMinor(q, s.base()), Ticks: ticks, CreatedAt: s.now(),
	}
	// A temp_id seen before gets its first answer.
	if prev, answer, err := inByTempID(ctx, s.pool, it.SrcURL, it.TempID); err == nil {
		return replay(prev, answer, it)
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return cxp.TransactionResponse{}, fmt.Errorf("intertrade: relay: %w", err)
	}
	username := strings.TrimSuffix(req.Payee, "@"+s.cfg.CommunityID)
	account, status, err := s.members.AccountByUsername(ctx, username)
	switch {
	case members.CodeOf(err) == members.CodeNotFound:
		return cxp.TransactionResponse{}, cxp.Errorf(cxp.CodeRemoteValidation, "no member %s here", clipText(req.Payee))
	case err != nil:
		return cxp.TransactionResponse{}, fmt.Errorf("intertrade: relay payee: %w", err)
	case status != members.StatusActive:
		it.Account, it.Username = account, username
		return cxp.TransactionResponse{}, cxp.Errorf(cxp.CodeRemoteValidation, "the member %s cannot be paid", username)
	}
	it.Account, it.Username = account, username
	amount, err := cxp.FromBase(q, s.base(), ticks, s.cfg.Divisions)
	if err != nil {
		return cxp.TransactionResponse{}, err
	}
	if amount <= 0 {
		return cxp.TransactionResponse{}, cxp.Errorf(cxp.CodeRemoteValidation, "%s base units are less than the smallest amount of %s", it.Quantity, s.cfg.Currency)
	}
	if req.PayeeAmount != "" {
		if want, e := req.PayeeAmount.MinorField("payee_amount", s.cfg.Divisions); e != nil || want != amount {
			return cxp.TransactionResponse{}, cxp.Errorf(cxp.CodeRemoteValidation,
				"the circle's payee_amount %s is not %s %s, which %s base units are at payee_ticks %s; refused rather than credit another amount",
				clipText(string(req.PayeeAmount)), cxp.FromMinor(amount, s.cfg.Divisions), s.cfg.Currency, it.Quantity, ticks)
		}
	}
	it.Amount = amount
	it.Rounding = roundingIn(amount, s.cfg.Divisions, ticks, q, s.base())
	ok := s.accepted(it)
	if !req.Really {
		acc, err := s.ledger.Account(ctx, account)
		if err != nil {
			return cxp.TransactionResponse{}, fmt.Errorf("intertrade: relay payee account: %w", err)
		}
		if refusal := payeeRefusal(acc, amount); refusal != nil {
			return cxp.TransactionResponse{}, refusal
		}
		ok.Message = fmt.Sprintf("%s %s can be credited to %s", cxp.FromMinor(amount, s.cfg.Divisions), s.cfg.Currency, username)
		return ok, nil
	}
	for attempt := 0; attempt < 3; attempt++ {
		var answer cxp.TransactionResponse
		var refusal *cxp.Error
		raced := false
		err = s.writes.InTx(ctx, func(ctx context.Context, tx *ledger.Tx) error {
			answer, refusal, raced = cxp.TransactionResponse{}, nil, false
			prev, stored, err := inByTempID(ctx, tx.Conn(), it.SrcURL, it.TempID)
			if err == nil {
				answer, err = replay(prev, stored, it)
				refusal, _ = cxp.AsError(err)
				return nil
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			row, inserted, err := insertIntertrade(ctx, tx.Conn(), it, nil)
			if err != nil {
				return err
			}
			if !inserted {
				raced = true
				return nil
			}
			tr, err := tx.Transfer(ctx, ledger.TransferRequest{
				Debit: ie, Credit: account, Amount: amount,
				Description: "from " + it.Payer + "@" + it.Community + suffix(it.Description),
				Metadata: map[string]string{"kind": "intertrade", "direction": "in", "temp_id": it.TempID,
					"from": it.Payer + "@" + it.Community, "community_name": s.communityName(it.SrcURL), "src_url": it.SrcURL},
				IdempotencyKey: "intertrade:in:" + strconv.FormatInt(row.ID, 10),
			})
			if err != nil {
				if r := ledgerRefusal(err); r != nil {
					refusal = r
					return errRollback
				}
				return err
			}
			answer = ok
			answer.ID = strconv.FormatInt(row.ID, 10)
			answer.Message = fmt.Sprintf("credited %s %s to %s", cxp.FromMinor(amount, s.cfg.Divisions), s.cfg.Currency, username)
			stored, err = json.Marshal(answer)
			if err != nil {
				return err
			}
			_, err = tx.Conn().Exec(ctx, `
				UPDATE intertrades SET state = 'completed', transfer_id = $2, cxp_code = 0, cxp_message = $3,
					reason = $4, answer = $5, attempts = 1, updated_at = $6
				WHERE id = $1`, row.ID, tr.ID, answer.Message, Reason(cxp.OK, nil), stored, s.now())
			return err
		})
		switch {
		case errors.Is(err, errRollback):
			return cxp.TransactionResponse{}, refusal
		case err != nil:
			return cxp.TransactionResponse{}, fmt.Errorf("intertrade: relay: %w", err)
		case raced:
			continue
		case refusal != nil:
			return cxp.TransactionResponse{}, refusal
		}
		return answer, nil
	}
	return cxp.TransactionResponse{}, errors.New("intertrade: relay: temp_id contended")
}

var errRollback = errors.New("intertrade: rolled back")

// accepted is the success answer to a relay.
func (s *Service) accepted(it Intertrade) cxp.TransactionResponse {
	return cxp.TransactionResponse{
		Status: cxp.StatusOK(""), TempID: it.TempID, Quantity: it.Quantity, PayeeTicks: it.Ticks,
	}
}

// payeeRefusal is the refusal a relay gets for the payee's account state.
func payeeRefusal(acc ledger.Account, amount int64) *cxp.Error {
	if acc.Status != ledger.StatusActive {
		return cxp.Errorf(cxp.CodeRemoteValidation, "the payee's account is frozen")
	}
	if acc.EarnHeadroom() < amount {
		return cxp.NewError(cxp.CodeRemoteLimits, nil)
	}
	return nil
}

// ledgerRefusal maps the ledger's refusal of a relay's credit to a CXP code.
func ledgerRefusal(err error) *cxp.Error {
	switch ledger.CodeOf(err) {
	case ledger.CodeOverUpperLimit:
		return cxp.NewError(cxp.CodeRemoteLimits, nil)
	case ledger.CodeAccountFrozen:
		return cxp.Errorf(cxp.CodeRemoteValidation, "the payee's account is frozen")
	case "":
		return nil
	}
	return cxp.Errorf(cxp.CodeRemoteValidation, "the payee's ledger refused: %s", ledger.CodeOf(err))
}

// replay answers a temp_id seen before: the stored answer for the same
// content, code 8 on temp_id for other content.
func replay(prev Intertrade, stored []byte, it Intertrade) (cxp.TransactionResponse, error) {
	same := prev.Payer == it.Payer && prev.PayerURL == it.PayerURL && prev.Payee == it.Payee &&
		prev.PayeeURL == it.PayeeURL && strings.TrimRight(prev.SrcURL, "/") == it.SrcURL && prev.DestURL == it.DestURL &&
		prev.Description == it.Description && sameQuantity(prev.Quantity, it.Quantity)
	if !same {
		return cxp.TransactionResponse{}, cxp.InvalidField("temp_id", it.TempID)
	}
	var answer cxp.TransactionResponse
	if len(stored) == 0 || json.Unmarshal(stored, &answer) != nil {
		return cxp.TransactionResponse{}, cxp.Errorf(cxp.CodeSaving, "the transaction %s is still being recorded", it.TempID)
	}
	if e := answer.Err(); e != nil {
		return cxp.TransactionResponse{}, e
	}
	return answer, nil
}

func sameQuantity(a, b cxp.Decimal) bool {
	ra, rb := a.Rat(), b.Rat()
	return ra != nil && rb != nil && ra.Cmp(rb) == 0
}

func suffix(d string) string {
	if d == "" {
		return ""
	}
	return ": " + d
}

func clipText(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// communityOf names the community at uri by its id, from the last list of
// the circle's communities (no call to the circle), or by its uri.
// communityName is the circle's name for the community at uri, "" if unknown.
func (s *Service) communityName(uri string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.exchangesList {
		if strings.TrimRight(e.URI, "/") == strings.TrimRight(uri, "/") {
			return e.Name
		}
	}
	return ""
}

func (s *Service) communityOf(uri string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.exchangesList {
		if strings.TrimRight(e.URI, "/") == strings.TrimRight(uri, "/") {
			return e.ID
		}
	}
	return uri
}
