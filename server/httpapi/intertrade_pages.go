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
	// While alone: the latest request to join a circle (HasJoin), and the
	// join form's values when it was refused.
	Join    intertrade.Join
	HasJoin bool
	CanJoin bool
	Form    joinForm
}

// joinForm is the ask-to-join form's values, as typed.
type joinForm struct{ CircleURL, Rate, Message string }

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
		d = intertradePageData{InCircle: false} // the page offers to ask a circle
		if err := h.joinState(c, &d); err != nil {
			h.render(c, h.pageRefusal(c, &p, err), "admin_intertrade.html", p)
			return
		}
	case err != nil:
		h.render(c, h.pageRefusal(c, &p, err), "admin_intertrade.html", p)
		return
	}
	if n := c.Query("notice"); n != "" {
		p.Notice = h.noticeText(c, n)
	}
	p.Data = d
	h.render(c, http.StatusOK, "admin_intertrade.html", p)
}

func (h *Handlers) noticeText(c *gin.Context, n string) string {
	switch n {
	case "handshake":
		return h.tr(c, "notice.it_handshake")
	case "reconcile":
		return h.tr(c, "notice.it_reconcile")
	case "settle":
		return h.tr(c, "notice.it_settle")
	case "asked":
		return h.tr(c, "notice.it_asked")
	case "checked":
		return h.tr(c, "notice.it_checked")
	case "joined":
		return h.tr(c, "notice.it_joined")
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
		h.pageError(c, http.StatusNotFound, h.tr(c, "error.no_action"))
		return
	}
	if intertrade.CodeOf(err) == intertrade.ErrNotInCircle {
		h.pageError(c, http.StatusNotFound, h.tr(c, "error.not_in_circle"))
		return
	}
	if err != nil {
		// A failed handshake is recorded and shown on the page.
		h.logger().Warn("intertrading admin action", "action", action, "err", err)
	}
	c.Redirect(http.StatusSeeOther, "/admin/intertrade?notice="+action)
}

// joinState fills the join part of the page while the community is alone.
func (h *Handlers) joinState(c *gin.Context, d *intertradePageData) error {
	if h.Join == nil {
		return nil
	}
	d.CanJoin = true
	j, ok, err := h.Join.Latest(c.Request.Context())
	if err != nil {
		return err
	}
	d.Join, d.HasJoin = j, ok
	return nil
}

// adminJoinForm is POST /admin/circle/join {circle_url, rate, message}:
// ask a circle to let this community join.
func (h *Handlers) adminJoinForm(c *gin.Context) {
	if h.Join == nil || h.Intertrade == nil {
		h.pageError(c, http.StatusNotFound, h.tr(c, "error.cannot_join"))
		return
	}
	if _, err := h.Intertrade.Overview(c.Request.Context()); intertrade.CodeOf(err) != intertrade.ErrNotInCircle {
		h.pageError(c, http.StatusConflict, h.tr(c, "error.in_circle_already"))
		return
	}
	f := joinForm{CircleURL: c.PostForm("circle_url"), Rate: c.PostForm("rate"), Message: c.PostForm("message")}
	if _, err := h.Join.Ask(c.Request.Context(), f.CircleURL, f.Rate, f.Message); err != nil {
		p := h.newPage(c, h.tr(c, "title.intertrading"))
		status := h.pageRefusal(c, &p, err)
		if label := joinFieldLabels[p.Field]; label != "" && status < 500 {
			p.Error = label + ": " + p.Error
		}
		d := intertradePageData{}
		if err := h.joinState(c, &d); err != nil {
			h.render(c, h.pageRefusal(c, &p, err), "admin_intertrade.html", p)
			return
		}
		d.Form = f
		p.Data = d
		h.render(c, status, "admin_intertrade.html", p)
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/intertrade?notice=asked")
}

var joinFieldLabels = map[string]string{"circle_url": "Circle's address", "rate": "Rate", "message": "Message"}

// adminJoinCheckForm is POST /admin/circle/check: ask the circle for its
// answer now (a job also asks every handshake interval).
func (h *Handlers) adminJoinCheckForm(c *gin.Context) {
	if h.Join == nil {
		h.pageError(c, http.StatusNotFound, h.tr(c, "error.cannot_join"))
		return
	}
	joined, err := h.Join.Poll(c.Request.Context())
	if err != nil && !joined {
		p := h.newPage(c, h.tr(c, "title.intertrading"))
		status := h.pageRefusal(c, &p, err)
		d := intertradePageData{}
		if err := h.joinState(c, &d); err != nil {
			h.render(c, h.pageRefusal(c, &p, err), "admin_intertrade.html", p)
			return
		}
		p.Data = d
		h.render(c, status, "admin_intertrade.html", p)
		return
	}
	if joined {
		if err != nil {
			h.logger().Warn("joined the circle, but intertrading did not start", "err", err)
		}
		c.Redirect(http.StatusSeeOther, "/admin/intertrade?notice=joined")
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/intertrade?notice=checked")
}
