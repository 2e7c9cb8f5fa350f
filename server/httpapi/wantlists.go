package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/server/announce"
)

// Want lists: GET /api/v1/wantlists (the member's), GET, PUT and DELETE
// /api/v1/wantlists/{offer id}. Offers are named by their event id (what
// peers know them by) or by this server's announcement id.

type wantOfferJSON struct {
	ID      int64  `json:"id"`
	EventID string `json:"event_id"`
	Title   string `json:"title"`
	Author  string `json:"author"`
	Origin  string `json:"origin"` // "local" or the origin's base URL
}

type wantListJSON struct {
	Offer   wantOfferJSON   `json:"offer"`
	Accepts []wantOfferJSON `json:"accepts"`
}

func wantOfferOut(o announce.WantOffer) wantOfferJSON {
	return wantOfferJSON{ID: o.ID, EventID: o.EventID, Title: o.Title, Author: o.Author, Origin: o.Origin}
}

func wantListOut(w announce.WantList) wantListJSON {
	out := wantListJSON{Offer: wantOfferOut(w.Offer), Accepts: make([]wantOfferJSON, len(w.Accepts))}
	for i, a := range w.Accepts {
		out.Accepts[i] = wantOfferOut(a)
	}
	return out
}

// wantLists: GET /api/v1/wantlists → {"wantlists": [...]}.
func (h *Handlers) wantLists(c *gin.Context) {
	list, err := h.Announcements.WantLists(c.Request.Context(), currentMember(c).ID)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]wantListJSON, len(list))
	for i, w := range list {
		out[i] = wantListOut(w)
	}
	c.JSON(http.StatusOK, gin.H{"wantlists": out})
}

// wantList: GET /api/v1/wantlists/{offer id}.
func (h *Handlers) wantList(c *gin.Context) {
	id, ok := announcementID(c)
	if !ok {
		return
	}
	w, err := h.Announcements.WantListOf(c.Request.Context(), id)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, wantListOut(w))
}

// setWantList: PUT /api/v1/wantlists/{offer id} {"accepts": [event id, …]}.
func (h *Handlers) setWantList(c *gin.Context) {
	id, ok := announcementID(c)
	if !ok {
		return
	}
	var b struct {
		Accepts *[]string `json:"accepts"`
	}
	if !bindJSON(c, &b) {
		return
	}
	if b.Accepts == nil {
		badRequest(c, "accepts", "is required: the offers you would take for this one, best first")
		return
	}
	if len(*b.Accepts) == 0 {
		badRequest(c, "accepts", "is empty: DELETE the want list to drop it")
		return
	}
	w, err := h.Announcements.SetWantList(c.Request.Context(), actorOf(c), id, *b.Accepts)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, wantListOut(w))
}

// deleteWantList: DELETE /api/v1/wantlists/{offer id}.
func (h *Handlers) deleteWantList(c *gin.Context) {
	id, ok := announcementID(c)
	if !ok {
		return
	}
	if err := h.Announcements.DeleteWantList(c.Request.Context(), actorOf(c), id); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
