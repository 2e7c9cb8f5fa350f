package intertrade

import (
	"context"
	"net/http"

	"github.com/sxp-network/sxp/clearing/cxp"
)

// receiveSigned is PUT /transactions as the HTTP edge (server/httpapi's
// verifyRelay) runs it: verify the signature with RelayVerifier, then
// Receive with the verified keyid; it returns the status and the answer.
func receiveSigned(ctx context.Context, s *Service, r *http.Request, body []byte) (int, cxp.TransactionResponse) {
	v, _ := s.RelayVerifier()
	who, err := v.Verify(ctx, r, body)
	if err != nil {
		e, ok := cxp.SignatureError(err)
		if !ok {
			e = cxp.Errorf(cxp.CodeSaving, "the payee's server could not record the transaction")
		}
		return e.HTTPStatus(), cxp.TransactionResponse{Status: e.Status()}
	}
	answer, e := s.Receive(ctx, who.KeyID, body)
	if e != nil {
		return e.HTTPStatus(), cxp.TransactionResponse{Status: e.Status()}
	}
	return http.StatusOK, answer
}
