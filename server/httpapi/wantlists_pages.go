package httpapi

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/server/announce"
)

// Want list pages: "I would give … for this" on an offer's page, and the
// member's want lists at /wantlists.

// giveForm: POST /offers/{id}/give {mine}: the member would give their offer
// mine for offer id (it goes at the end of mine's want list).
func (h *Handlers) giveForm(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "title.offer"))
	a, ok := h.loadOffer(c, &p)
	if !ok {
		return
	}
	mine, err := strconv.ParseInt(c.PostForm("mine"), 10, 64)
	if err == nil {
		_, err = h.Announcements.AddToWantList(c.Request.Context(), actorOf(c), mine, strconv.FormatInt(a.ID, 10))
	} else {
		err = &announce.Error{Code: announce.CodeInvalid, Field: "mine", Message: "choose one of your offers"}
	}
	if err != nil {
		status := h.pageRefusal(c, &p, err)
		p.Data = h.offerView(c, a)
		h.render(c, status, "announce_detail.html", p)
		return
	}
	c.Redirect(http.StatusSeeOther, "/wantlists?done=added")
}

// wantListsPage: GET /wantlists, the member's want lists.
func (h *Handlers) wantListsPage(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "wantlists.heading"))
	if c.Query("done") == "added" {
		p.Notice = h.tr(c, "notice.wantlist_added")
	}
	list, err := h.Announcements.WantLists(c.Request.Context(), currentMember(c).ID)
	if err != nil {
		status := h.pageRefusal(c, &p, err)
		h.pageError(c, status, p.Error)
		return
	}
	p.Data = list
	h.render(c, http.StatusOK, "wantlists.html", p)
}

// deleteWantListForm: POST /wantlists/{id}/delete.
func (h *Handlers) deleteWantListForm(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "wantlists.heading"))
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		h.pageError(c, http.StatusNotFound, h.tr(c, "error.no_wantlist"))
		return
	}
	if err := h.Announcements.DeleteWantList(c.Request.Context(), actorOf(c), id); err != nil {
		status := h.pageRefusal(c, &p, err)
		h.pageError(c, status, p.Error)
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/wantlists?deleted=%d", id))
}

// proposalsPage: GET /proposals, the member's proposals: who gives what to
// whom, each party's community, deadline and state, with accept/decline.
func (h *Handlers) proposalsPage(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "proposals.heading"))
	if h.Deals == nil {
		h.pageError(c, http.StatusNotFound, h.tr(c, "error.no_market"))
		return
	}
	switch c.Query("done") {
	case "accept":
		p.Notice = h.tr(c, "notice.proposal_accepted")
	case "decline":
		p.Notice = h.tr(c, "notice.proposal_declined")
	}
	list, err := h.Deals.MemberProposals(c.Request.Context(), currentMember(c).Username)
	if err != nil {
		h.pageError(c, h.pageRefusal(c, &p, err), p.Error)
		return
	}
	p.Data = list
	h.render(c, http.StatusOK, "proposals.html", p)
}

// proposalAnswerForm: POST /proposals/{h}/accept|decline.
func (h *Handlers) proposalAnswerForm(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "proposals.heading"))
	if h.Deals == nil {
		h.pageError(c, http.StatusNotFound, h.tr(c, "error.no_market"))
		return
	}
	res, err := h.Deals.Answer(c.Request.Context(), currentMember(c).Username, c.Param("h"), c.Param("answer"))
	if err != nil {
		h.pageError(c, h.pageRefusal(c, &p, err), p.Error)
		return
	}
	h.wakeContracts(res.State)
	c.Redirect(http.StatusSeeOther, "/proposals?done="+c.Param("answer"))
}
