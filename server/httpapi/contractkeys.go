package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
	"github.com/sxp-network/sxp/server/memberkeys"
)

// contractKeyJSON is a member's contract key: the Ed25519 key that signs
// their sxp-contract/1 promises.
type contractKeyJSON struct {
	Key         string `json:"key"`         // standard base64 with padding
	Own         bool   `json:"own"`         // registered by the member, who signs; else held (sealed) by this server
	Fingerprint string `json:"fingerprint"` // memberkeys.Fingerprint
}

func contractKeyView(info memberkeys.Info) contractKeyJSON {
	return contractKeyJSON{Key: contract.EncodeKey(info.Key), Own: info.Own, Fingerprint: info.Fingerprint}
}

// contractKey: GET /api/v1/me/contract-key.
func (h *Handlers) contractKey(c *gin.Context) {
	if h.Keys == nil {
		h.notFound(c)
		return
	}
	info, err := h.Keys.Info(c.Request.Context(), currentMember(c).Username)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, contractKeyView(info))
}

// setContractKey: PUT /api/v1/me/contract-key {"key": base64}: the member
// registers their own public key; the server's private key is destroyed.
func (h *Handlers) setContractKey(c *gin.Context) {
	if h.Keys == nil {
		h.notFound(c)
		return
	}
	var req struct {
		Key *string `json:"key"`
	}
	if !bindJSON(c, &req) {
		return
	}
	if req.Key == nil {
		badRequest(c, "key", "send key: your Ed25519 public key in standard base64 (44 characters)")
		return
	}
	pub, err := contract.DecodeKey(*req.Key)
	if err != nil {
		badRequest(c, "key", "key is "+err.Error())
		return
	}
	ctx := c.Request.Context()
	user := currentMember(c).Username
	if err := h.Keys.SetOwn(ctx, user, pub); err != nil {
		h.fail(c, err)
		return
	}
	info, err := h.Keys.Info(ctx, user)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, contractKeyView(info))
}
