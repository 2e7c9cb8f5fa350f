package clearing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
	"github.com/sxp-network/sxp/ledger"
)

// Nesting (seed item 8): this circle can be one community of a parent
// circle. Its governing body asks the parent's admins to add it (with this
// circle's base URL as its uri and a rate: parent base units per base unit
// of this circle) and configures the parent's URL, the key it was given,
// its id there and the parent circle's id.
//
// Up: a try from a member whose dest_url is not a member of this circle goes
// to the parent. The amount is held here from the payer's virtual customer
// to the parent account ("parent:ID", the mirror of this circle's virtual
// customer at the parent), the try is sent to the parent signed with this
// circle's key there (src_url = this circle's uri at the parent, quantity
// converted to the parent's base unit), and the hold is posted or voided
// on its answer: all or nothing at every level.
//
// Down: the parent relays a payment for one of this circle's members to
// this circle's PUT /transactions, signed with keyid = the parent circle's
// id. dest_url is this circle's uri at the parent and payee_url names the
// member community; the amount is converted to this circle's base unit,
// held from the parent account to the member's virtual customer, relayed to
// the member's server, and posted or voided.
//
// Conversion uses cxp.ToBase / cxp.FromBase at the configured rate
// (truncated towards zero: no level ever passes on more value than it got).
//
// An answer from the parent that leaves the outcome open (no answer, or the
// parent's own "still pending", 27) keeps the intertrade pending here too;
// recovery asks the parent again with the same temp_id (parentTempID).

// Parent configures the parent circle of a nested circle.
type Parent struct {
	URL         string // the parent circle's base URL
	CommunityID string // this circle's community id at the parent (keyid of its requests)
	Key         string // the key the parent's admins issued to this circle
	CircleID    string // the parent circle's id (keyid of its relays to this circle)
	URI         string // this circle's uri as registered at the parent (its public base URL)
	Ticks       string // parent base units per base unit of this circle
	Divisions   int    // decimal places of the parent's base unit
}

// parentAccountCode is the ledger code of the parent account.
func parentAccountCode(circleID string) string { return "parent:" + circleID }

// ConnectParent makes this circle a nested one: it checks the settings and
// creates the parent account on first use.
func (h *House) ConnectParent(ctx context.Context, p Parent) error {
	var err error
	if p.URL, err = CheckURI(p.URL); err != nil {
		return invalid("parent_url", "%v", err)
	}
	if p.URI, err = CheckURI(p.URI); err != nil {
		return invalid("parent_uri", "%v", err)
	}
	if p.CommunityID == "" || p.Key == "" || p.CircleID == "" {
		return invalid("parent", "the parent's community id, key and circle id are all needed")
	}
	if p.Ticks, err = ParseTicks(p.Ticks); err != nil {
		return invalid("parent_rate", "%v", err)
	}
	if p.Divisions < 0 || p.Divisions > 8 {
		return invalid("parent_divisions", "%d: must be 0 to 8", p.Divisions)
	}
	circle, err := h.Circle(ctx)
	if err != nil {
		return err
	}
	if p.CircleID == circle.ID {
		return invalid("parent_circle_id", "the parent circle's id must differ from this circle's")
	}
	code := parentAccountCode(p.CircleID)
	acct, err := h.ledger.AccountByCode(ctx, code)
	if ledger.CodeOf(err) == ledger.CodeUnknownAccount {
		const wide = int64(1) << 53 // the parent enforces this circle's limits
		acct, err = h.ledger.CreateAccount(ctx, ledger.NewAccount{Code: code, Currency: circle.Unit, Min: -wide, Max: wide,
			Metadata: map[string]string{"parent": p.URL}})
		if ledger.CodeOf(err) == ledger.CodeDuplicateAccount {
			acct, err = h.ledger.AccountByCode(ctx, code)
		}
	}
	if err != nil {
		return fmt.Errorf("clearing: parent account: %w", err)
	}
	p2 := p
	h.parent = &p2
	h.parentAccount = acct.ID
	return nil
}

// parentCommunity is the parent circle seen as a party of an intertrade.
func (h *House) parentCommunity(ctx context.Context) (Community, error) {
	a, err := h.ledger.Account(ctx, h.parentAccount)
	if err != nil {
		return Community{}, fmt.Errorf("clearing: parent account: %w", err)
	}
	c := Community{ID: parentAccountCode(h.parent.CircleID), Name: "parent circle " + h.parent.CircleID,
		URI: h.parent.URI, AccountID: a.ID, Ticks: h.parent.Ticks, Status: StatusTrading}
	c.setAccount(a)
	return c, nil
}

func (h *House) isParent(c Community) bool {
	return h.parent != nil && c.ID == parentAccountCode(h.parent.CircleID)
}

// setupFromParent checks a relay from the parent circle for one of this
// circle's members.
func (h *House) setupFromParent(ctx context.Context, req cxp.TransactionRequest) (trySetup, error) {
	circle, err := h.Circle(ctx)
	if err != nil {
		return trySetup{}, err
	}
	pq, cerr := req.Validate(h.parent.Divisions)
	if cerr != nil {
		return trySetup{}, cerr
	}
	if normURI(req.DestURL) != h.parent.URI {
		return trySetup{}, cxp.InvalidField("dest_url", req.DestURL)
	}
	if req.PayeeURL == "" {
		return trySetup{}, cxp.MissingField("payee_url")
	}
	payee, err := h.CommunityByURI(ctx, normURI(req.PayeeURL))
	if errIsNotFound(err) {
		return trySetup{}, cxp.NewError(cxp.CodeUnknownAccount, map[string]string{"payee_url": req.PayeeURL})
	}
	if err != nil {
		return trySetup{}, err
	}
	if payee.Status != StatusTrading {
		return trySetup{}, cxp.NewError(cxp.CodeRemoteValidation, map[string]string{"message": "the payee's community is blocked"})
	}
	q, err := cxp.FromBase(pq, h.parent.Divisions, cxp.Decimal(h.parent.Ticks), circle.Divisions)
	if err != nil {
		return trySetup{}, err
	}
	if q <= 0 {
		return trySetup{}, cxp.SignError("quantity", ">", string(req.Quantity))
	}
	parent, err := h.parentCommunity(ctx)
	if err != nil {
		return trySetup{}, err
	}
	n := req
	n.DestURL, n.PayeeURL = payee.URI, payee.URI
	n.SrcURL = normURI(req.SrcURL)
	n.PayeeTicks, n.PayeeAmount = "", "" // the parent's, for this circle: set anew on the relay
	n.Quantity = cxp.FromMinor(q, circle.Divisions)
	return trySetup{circle: circle, payer: parent, payee: payee, quantity: q, hash: requestHash(n, q), req: n}, nil
}

// parentTempID is the temp_id of a try sent up to the parent: unique per
// (member community, temp_id) and the same on every retry.
func parentTempID(src, tempID string) string {
	sum := sha256.Sum256([]byte(src + "\x00" + tempID))
	return "n" + hex.EncodeToString(sum[:20])
}

// tryParent sends the try up to the parent circle and maps its answer.
func (h *House) tryParent(ctx context.Context, s trySetup, req cxp.TransactionRequest) (cxp.TransactionResponse, error) {
	pq, err := cxp.ToBase(s.quantity, s.circle.Divisions, cxp.Decimal(h.parent.Ticks), h.parent.Divisions)
	if err != nil {
		return cxp.TransactionResponse{}, err
	}
	if pq <= 0 {
		return cxp.TransactionResponse{}, cxp.SignError("quantity", ">", string(req.Quantity))
	}
	up := req
	up.SrcURL, up.PayerURL = h.parent.URI, h.parent.URI
	up.Quantity = cxp.FromMinor(pq, h.parent.Divisions)
	up.TempID = parentTempID(s.payer.ID, req.TempID)
	up.PayeeTicks, up.PayeeAmount = "", "" // a try: the parent sets its own
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.relayTimeout)
	defer cancel()
	c := &cxp.Client{BaseURL: h.parent.URL, HTTP: h.http,
		Signer: httpsig.Signer{KeyID: h.parent.CommunityID, Key: []byte(h.parent.Key), Now: h.now}}
	resp, err := c.Try(ctx, up)
	if err == nil {
		return resp, nil
	}
	if cxp.IsUnreachable(err) || errors.Is(err, context.DeadlineExceeded) {
		return cxp.TransactionResponse{}, &unknownOutcome{err: err, undelivered: undelivered(err),
			refusal: cxp.NewError(cxp.CodeServerNotFound, map[string]string{"server": h.parent.URL})}
	}
	ce, ok := cxp.AsError(err)
	if !ok {
		return cxp.TransactionResponse{}, cxp.Errorf(cxp.CodeDiagnostics, "the parent circle gave no valid answer")
	}
	if cxp.IsSignatureRefusal(ce.Code) {
		return cxp.TransactionResponse{}, cxp.RemoteAuth(h.parent.URL)
	}
	switch ce.Code {
	case cxp.CodeOther, cxp.CodeSaving:
		// Still pending at the parent (its answer while the payee's is
		// unknown), or not saved there: asked again with the same temp_id.
		return cxp.TransactionResponse{}, &unknownOutcome{err: ce}
	case cxp.CodeDiagnostics:
		if strings.HasPrefix(ce.Args["message"], "HTTP 5") {
			return cxp.TransactionResponse{}, &unknownOutcome{err: ce}
		}
	}
	return cxp.TransactionResponse{}, ce
}
