package httpapi

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
)

// renderProfile renders the profile page with the member's contract key
// (its section shows nothing when the server keeps no keys).
// contractKeyForm: POST /profile/contract-key {key}: register one's own key.
func (h *Handlers) contractKeyForm(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "title.profile"))
	if h.Keys == nil {
		h.pageError(c, http.StatusNotFound, h.tr(c, "error.no_contract_keys"))
		return
	}
	pub, err := contract.DecodeKey(strings.TrimSpace(c.PostForm("key")))
	if err != nil {
		p.Error, p.Field = h.tr(c, "error.contract_key"), "key"
		h.renderProfile(c, http.StatusBadRequest, p)
		return
	}
	if err := h.Keys.SetOwn(c.Request.Context(), p.Member.Username, pub); err != nil {
		h.renderProfile(c, h.pageRefusal(c, &p, err), p)
		return
	}
	p.Notice = h.tr(c, "notice.own_key")
	h.renderProfile(c, http.StatusOK, p)
}
