package intertrade

import (
	"context"
	"strings"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
)

// Alone is intertrading when the community runs alone (in no circle): it
// says so instead of being nil. Every operation is refused with
// ErrNotInCircle, a payment to member@community with ErrNoCircle (Field
// "to"), and a relay from a circle with CXP code 16 before its signature is
// looked at.
type Alone struct{}

func notInCircle() *Error {
	return &Error{Code: ErrNotInCircle, Message: "this community is not in an intertrading circle"}
}

// Pay refuses: there is no circle to pay through.
func (Alone) Pay(ctx context.Context, r PayRequest) (Payment, error) {
	return Payment{}, &Error{Code: ErrNoCircle, Field: "to",
		Message: "this community is not in an intertrading circle, so it cannot pay " + strings.TrimSpace(r.To)}
}

// Quote refuses as Pay does.
func (Alone) Quote(ctx context.Context, to string, amount int64) (Quote, error) {
	_, err := Alone{}.Pay(ctx, PayRequest{To: to})
	return Quote{}, err
}

// Receipt adds nothing: there is no circle.
func (Alone) Receipt(ctx context.Context, p Payment) Receipt { return Receipt{Payment: p} }

// Communities refuses with ErrNotInCircle.
func (Alone) Communities(ctx context.Context) ([]Community, error) { return nil, notInCircle() }

// Overview refuses with ErrNotInCircle.
func (Alone) Overview(ctx context.Context) (Overview, error) { return Overview{}, notInCircle() }

// History refuses with ErrNotInCircle.
func (Alone) History(ctx context.Context, q Query) ([]Intertrade, error) { return nil, notInCircle() }

// Handshake refuses with ErrNotInCircle.
func (Alone) Handshake(ctx context.Context) (HandshakeResult, error) {
	return HandshakeResult{}, notInCircle()
}

// Reconcile refuses with ErrNotInCircle.
func (Alone) Reconcile(ctx context.Context) (IntegrityReport, error) {
	return IntegrityReport{}, notInCircle()
}

// SettlePending refuses with ErrNotInCircle.
func (Alone) SettlePending(ctx context.Context) (int, error) { return 0, notInCircle() }

// RelayVerifier refuses every relay: no circle may relay to us (code 16).
func (Alone) RelayVerifier() (httpsig.Verifier, *cxp.Error) {
	return httpsig.Verifier{}, cxp.NewError(cxp.CodeNotPermitted, nil)
}

// Receive refuses with code 16 (RelayVerifier already did).
func (Alone) Receive(ctx context.Context, from string, body []byte) (cxp.TransactionResponse, *cxp.Error) {
	return cxp.TransactionResponse{}, cxp.NewError(cxp.CodeNotPermitted, nil)
}
