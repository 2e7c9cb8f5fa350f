package httpapi

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/server/contracts"
)

// contractsData is the contracts page: the contracts, and whether it is the
// admin's view of all of them.
type contractsData struct {
	Contracts []contracts.View
	All       bool
}

// contractsPage: GET /contracts, the member's contracts: state, round,
// evidence held, legs with their settlement, a download of the proofs,
// cancel while signing, confirm an item received.
func (h *Handlers) contractsPage(c *gin.Context) {
	h.showContracts(c, h.newPage(c, h.tr(c, "contracts.mine")), false)
}

// adminContractsPage: GET /admin/contracts, every contract here.
func (h *Handlers) adminContractsPage(c *gin.Context) {
	h.showContracts(c, h.newPage(c, h.tr(c, "contracts.all")), true)
}

func (h *Handlers) showContracts(c *gin.Context, p page, all bool) {
	if h.Contracts == nil {
		h.pageError(c, http.StatusNotFound, h.tr(c, "error.no_contracts"))
		return
	}
	switch c.Query("done") {
	case "cancel":
		p.Notice = h.tr(c, "notice.contract_cancelled")
	case "confirm":
		p.Notice = h.tr(c, "notice.contract_received")
	}
	list, err := h.Contracts.List(c.Request.Context(), currentMember(c).Username, all)
	if err != nil {
		h.pageError(c, h.pageRefusal(c, &p, err), p.Error)
		return
	}
	p.Data = contractsData{Contracts: list, All: all}
	h.render(c, http.StatusOK, "contracts.html", p)
}

// contractActionForm: POST /contracts/{h}/cancel, or /contracts/{h}/confirm {leg}.
func (h *Handlers) contractActionForm(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "contracts.mine"))
	if h.Contracts == nil {
		h.pageError(c, http.StatusNotFound, h.tr(c, "error.no_contracts"))
		return
	}
	ctx, user := c.Request.Context(), currentMember(c).Username
	var err error
	switch c.Param("action") {
	case "cancel":
		_, err = h.Contracts.Cancel(ctx, user, c.Param("h"))
	case "confirm":
		leg, aerr := strconv.Atoi(c.PostForm("leg"))
		if aerr != nil {
			leg = -1
		}
		err = h.Contracts.ConfirmItem(ctx, user, c.Param("h"), leg)
	default:
		h.notFound(c)
		return
	}
	if err != nil {
		h.pageError(c, h.pageRefusal(c, &p, err), p.Error)
		return
	}
	c.Redirect(http.StatusSeeOther, "/contracts?done="+c.Param("action"))
}
