package httpapi

import (
	"encoding/base64"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/server/members"
)

func base64Key(k []byte) string {
	if len(k) == 0 {
		return ""
	}
	return base64.StdEncoding.EncodeToString(k)
}

type adminRow struct {
	Member  members.Member
	Account ledger.Account
}

func (h *Handlers) adminMembersPage(c *gin.Context) {
	h.showAdminMembers(c, h.newPage(c, "Members"), http.StatusOK)
}

func (h *Handlers) showAdminMembers(c *gin.Context, p page, status int) {
	ctx := c.Request.Context()
	ms, err := h.Members.List(ctx, "")
	var accounts map[ledger.AccountID]ledger.Account
	if err == nil {
		accounts, err = h.Payments.Accounts(ctx)
	}
	var rows []adminRow
	for _, m := range ms {
		rows = append(rows, adminRow{Member: m, Account: accounts[m.Account]})
	}
	if err != nil {
		h.pageError(c, h.pageRefusal(c, &p, err), p.Error)
		return
	}
	p.Data = rows
	h.render(c, status, "admin_members.html", p)
}

func (h *Handlers) adminMemberForm(c *gin.Context) {
	p := h.newPage(c, "Members")
	ctx := c.Request.Context()
	user := c.Param("username")
	var err error
	switch c.Param("action") {
	case "approve":
		_, err = h.Members.Approve(ctx, user)
	case "block":
		if user == p.Member.Username {
			err = &members.Error{Code: members.CodeInvalid, Message: "you cannot block yourself"}
			break
		}
		_, err = h.Members.Block(ctx, user)
	case "unblock":
		_, err = h.Members.Unblock(ctx, user)
	case "unlock":
		_, err = h.Members.Unlock(ctx, user)
	case "role":
		role := members.Role(c.PostForm("role"))
		if user == p.Member.Username && role != members.RoleAdmin {
			err = &members.Error{Code: members.CodeInvalid, Message: "you cannot take away your own admin role"}
			break
		}
		_, err = h.Members.SetRole(ctx, user, role)
	case "limits":
		cur := h.Community.Currency
		min, e1 := cur.Parse(c.PostForm("min"))
		max, e2 := cur.Parse(c.PostForm("max"))
		if e1 != nil || e2 != nil {
			err = &members.Error{Code: members.CodeInvalid, Message: "limits must be decimal numbers such as -100.00 and 500"}
			break
		}
		_, err = h.Payments.SetLimits(ctx, user, min, max)
	default:
		h.pageError(c, http.StatusNotFound, "There is no such admin action.")
		return
	}
	status := http.StatusOK
	if err != nil {
		status = h.pageRefusal(c, &p, err)
	} else {
		p.Notice = "Done: " + c.Param("action") + " " + user + "."
	}
	h.showAdminMembers(c, p, status)
}

// adminIndexPage sends /admin to the admin pages' first one.
func (h *Handlers) adminIndexPage(c *gin.Context) {
	c.Redirect(http.StatusSeeOther, "/admin/members")
}
