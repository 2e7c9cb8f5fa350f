package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
	"github.com/sxp-network/sxp/server/intertrade"
)

// The CXP side of the community server: PUT /transactions, a relay from the
// circle, signed by it and answered in CXP (not the JSON API's error shape).

// relayCaller and relayBody hold, in the gin context of PUT /transactions,
// the verified signer and the exact body that was signed.
const (
	relayCaller = "sxp.relay.caller"
	relayBody   = "sxp.relay.body"
)

// verifyRelay is the middleware of PUT /transactions: it reads the body
// (bounded) and verifies the circle's RFC 9421 signature (the service's
// RelayVerifier), answering a refusal in CXP (16/17/18); the handler gets
// the verified caller and the signed body.
func (h *Handlers) verifyRelay(c *gin.Context) {
	v, e := h.Intertrade.RelayVerifier()
	if e != nil { // the community runs alone: code 16
		cxp.WriteError(c.Writer, e)
		c.Abort()
		return
	}
	body, e := cxp.ReadBody(c.Request, intertrade.MaxRelayBody)
	if e != nil {
		cxp.WriteError(c.Writer, e)
		c.Abort()
		return
	}
	who, err := v.Verify(c.Request.Context(), c.Request, body)
	if err != nil {
		e, ok := cxp.SignatureError(err)
		if !ok {
			h.logger().ErrorContext(c.Request.Context(), "relay", "err", err)
			e = cxp.Errorf(cxp.CodeSaving, "the payee's server could not record the transaction")
		}
		h.logger().InfoContext(c.Request.Context(), "relay refused", "code", int(e.Code), "message", e.Message)
		cxp.WriteJSON(c.Writer, e.HTTPStatus(), cxp.TransactionResponse{Status: e.Status()})
		c.Abort()
		return
	}
	c.Set(relayCaller, who)
	c.Set(relayBody, body)
	c.Next()
}

// receiveRelay is PUT /transactions: a relay from the circle, answered in CXP.
func (h *Handlers) receiveRelay(c *gin.Context) {
	who, _ := c.MustGet(relayCaller).(httpsig.Verified)
	body, _ := c.MustGet(relayBody).([]byte)
	answer, e := h.Intertrade.Receive(c.Request.Context(), who.KeyID, body)
	if e != nil {
		cxp.WriteJSON(c.Writer, e.HTTPStatus(), cxp.TransactionResponse{Status: e.Status()})
		c.Abort()
		return
	}
	cxp.WriteJSON(c.Writer, http.StatusOK, answer)
	c.Abort()
}
