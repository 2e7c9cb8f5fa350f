package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/sxp-network/sxp/server/intertrade"
)

// The intertrading admin page: GET /admin/intertrade and its actions.

// intertradePageData is the admin page's data.
type intertradePageData struct {
	Overview intertrade.Overview
	Problems []intertrade.Intertrade // pending and failed
	History  []intertrade.Intertrade
	InCircle bool
}

// adminIntertradePage is GET /admin/intertrade.
func (h *Handlers) adminIntertradePage(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "title.intertrading"))
	d := intertradePageData{InCircle: true}
	ctx := c.Request.Context()
	var err error
	if d.Overview, err = h.Intertrade.Overview(ctx); err == nil {
		if d.History, err = h.Intertrade.History(ctx, intertrade.Query{Limit: 50}); err == nil {
			var pending, failed []intertrade.Intertrade
			if pending, err = h.Intertrade.History(ctx, intertrade.Query{State: intertrade.StatePending, Limit: 50}); err == nil {
				failed, err = h.Intertrade.History(ctx, intertrade.Query{State: intertrade.StateFailed, Limit: 20})
				d.Problems = append(pending, failed...)
			}
		}
	}
	switch {
	case intertrade.CodeOf(err) == intertrade.ErrNotInCircle:
		d = intertradePageData{InCircle: false} // the page says how to join a circle
	case err != nil:
		h.render(c, h.pageRefusal(c, &p, err), "admin_intertrade.html", p)
		return
	}
	if n := c.Query("notice"); n != "" {
		p.Notice = noticeText(n)
	}
	p.Data = d
	h.render(c, http.StatusOK, "admin_intertrade.html", p)
}

func noticeText(n string) string {
	switch n {
	case "handshake":
		return "Handshake done."
	case "reconcile":
		return "Integrity checked."
	case "settle":
		return "Unconfirmed payments retried."
	}
	return ""
}

// adminIntertradeForm is POST /admin/intertrade/:action (handshake | reconcile | settle).
func (h *Handlers) adminIntertradeForm(c *gin.Context) {
	ctx := c.Request.Context()
	action := c.Param("action")
	var err error
	switch action {
	case "handshake":
		_, err = h.Intertrade.Handshake(ctx)
	case "reconcile":
		_, err = h.Intertrade.Reconcile(ctx)
	case "settle":
		_, err = h.Intertrade.SettlePending(ctx)
	default:
		h.pageError(c, http.StatusNotFound, "Unknown action.")
		return
	}
	if intertrade.CodeOf(err) == intertrade.ErrNotInCircle {
		h.pageError(c, http.StatusNotFound, "This community is not in an intertrading circle.")
		return
	}
	if err != nil {
		// A failed handshake is recorded and shown on the page.
		h.logger().Warn("intertrading admin action", "action", action, "err", err)
	}
	c.Redirect(http.StatusSeeOther, "/admin/intertrade?notice="+action)
}
