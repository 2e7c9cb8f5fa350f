package httpapi

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/server/members"
	"github.com/sxp-network/sxp/server/payments"
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

// adminMembersData is the members page: every member, and the newcomers'
// limits form.
type adminMembersData struct {
	Rows             []adminRow
	Newcomer         bool // new members get limits of their own until approved
	NewMin, NewMax   int64
	DefMin, DefMax   int64
	NewMinS, NewMaxS string // the form's values
}

func (h *Handlers) adminMembersPage(c *gin.Context) {
	h.showAdminMembers(c, h.newPage(c, h.tr(c, "title.members")), http.StatusOK)
}

func (h *Handlers) showAdminMembers(c *gin.Context, p page, status int) {
	ctx := c.Request.Context()
	ms, err := h.Members.List(ctx, "")
	var accounts map[ledger.AccountID]ledger.Account
	if err == nil {
		accounts, err = h.Payments.Accounts(ctx)
	}
	d := adminMembersData{}
	for _, m := range ms {
		d.Rows = append(d.Rows, adminRow{Member: m, Account: accounts[m.Account]})
	}
	var l members.Limits
	if err == nil {
		l, d.Newcomer, err = h.Members.NewcomerLimits(ctx)
	}
	if err != nil {
		h.pageError(c, h.pageRefusal(c, &p, err), p.Error)
		return
	}
	d.NewMin, d.NewMax = l.Min, l.Max
	d.DefMin, d.DefMax = h.Members.DefaultLimits()
	cur := h.Community.Currency
	d.NewMinS, d.NewMaxS = cur.Format(l.Min), cur.Format(l.Max)
	p.Data = d
	h.render(c, status, "admin_members.html", p)
}

// adminMemberData is one member's admin page.
type adminMemberData struct {
	Member         members.Member
	Account        ledger.Account
	Statement      payments.Statement
	Audit          []members.AuditEntry
	Failures       int    // failed log-ins within the throttle's window
	TempPassword   string // set by a password reset, shown once
	DefMin, DefMax int64
}

func (h *Handlers) adminMemberPage(c *gin.Context) {
	h.showAdminMember(c, h.newPage(c, h.tr(c, "title.member")), http.StatusOK, c.Param("username"), "")
}

func (h *Handlers) showAdminMember(c *gin.Context, p page, status int, username, tempPassword string) {
	ctx := c.Request.Context()
	d := adminMemberData{TempPassword: tempPassword}
	d.DefMin, d.DefMax = h.Members.DefaultLimits()
	m, err := h.Members.ByUsername(ctx, username)
	if err == nil {
		d.Member = m
		d.Statement, err = h.Payments.Statement(ctx, m, payments.StatementQuery{Limit: 100})
	}
	if err == nil {
		d.Account = d.Statement.Account
		d.Audit, err = h.Members.AuditLog(ctx, m.Username, 50)
	}
	if err == nil {
		d.Failures, err = h.Members.Failures(ctx, m.Username)
	}
	if err != nil {
		if status == http.StatusOK {
			status = h.pageRefusal(c, &p, err)
		}
		h.pageError(c, status, p.Error)
		return
	}
	p.Title = m.DisplayName + " (" + m.Username + ")"
	p.Data = d
	h.render(c, status, "admin_member.html", p)
}

// adminMemberForm runs an admin's action on a member from the members page
// or the member's own page (back=member), audits it, and shows that page
// again.
func (h *Handlers) adminMemberForm(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "title.members"))
	user := c.Param("username")
	action := c.Param("action")
	detail, temp, err := h.adminMemberAction(c, p.Member.Username, user, action)
	if errors.Is(err, errNoSuchAction) {
		h.pageError(c, http.StatusNotFound, h.tr(c, "error.no_admin_action"))
		return
	}
	status := http.StatusOK
	if err != nil {
		status = h.pageRefusal(c, &p, err)
	} else {
		verb := h.tr(c, "admin_action."+action) // approve, block, unblock, unlock, limits, role, password
		p.Notice = h.tr(c, "notice.admin_done", "Action", verb, "Name", user)
		if detail != "" {
			p.Notice = h.tr(c, "notice.admin_done_detail", "Action", verb, "Name", user, "Detail", detail)
		}
	}
	if c.PostForm("back") == "member" {
		h.showAdminMember(c, p, status, user, temp)
		return
	}
	h.showAdminMembers(c, p, status)
}

var errNoSuchAction = errors.New("no such admin action")

// adminMemberAction does one admin action on user from a page's form,
// audits it when it succeeded, and returns what it did in words, and the
// temporary password a reset set.
func (h *Handlers) adminMemberAction(c *gin.Context, actor, user, action string) (detail, temp string, err error) {
	ctx := c.Request.Context()
	cur := h.Community.Currency
	switch action {
	case "approve":
		var m members.Member
		if m, err = h.Members.Approve(ctx, user); err == nil {
			detail = "status " + string(m.Status) + ", default limits"
		}
	case "block":
		if user == actor {
			return "", "", &members.Error{Code: members.CodeInvalid, Message: "you cannot block yourself"}
		}
		_, err = h.Members.Block(ctx, user)
	case "unblock":
		_, err = h.Members.Unblock(ctx, user)
	case "unlock":
		_, err = h.Members.Unlock(ctx, user)
	case "role":
		role := members.Role(c.PostForm("role"))
		if user == actor && role != members.RoleAdmin {
			return "", "", &members.Error{Code: members.CodeInvalid, Message: "you cannot take away your own admin role"}
		}
		_, err = h.Members.SetRole(ctx, user, role)
		detail = "role " + string(role)
	case "limits":
		min, e1 := cur.Parse(strings.TrimSpace(c.PostForm("min")))
		max, e2 := cur.Parse(strings.TrimSpace(c.PostForm("max")))
		if e1 != nil || e2 != nil {
			return "", "", &members.Error{Code: members.CodeInvalid, Field: "min", Message: "limits must be decimal numbers such as -100.00 and 500"}
		}
		_, err = h.Payments.SetLimits(ctx, user, min, max)
		detail = "limits " + cur.Format(min) + " to " + cur.Format(max) + " " + cur.Code
	case "password":
		given := c.PostForm("password")
		temp, err = h.Members.ResetPassword(ctx, user, given)
		detail = "temporary password made"
		if given != "" {
			detail = "password set by the admin"
		}
	default:
		return "", "", errNoSuchAction
	}
	if err != nil {
		return "", "", err
	}
	h.audit(c, actor, user, action, detail)
	return detail, temp, nil
}

// audit records an admin's action; a failure to record it is logged (the
// action itself is done).
func (h *Handlers) audit(c *gin.Context, actor, member, action, detail string) {
	if err := h.Members.Audit(c.Request.Context(), actor, member, action, detail); err != nil {
		h.logger().Error("audit an admin action", "actor", actor, "member", member, "action", action, "err", err)
	}
}

// adminNewcomerForm sets the newcomers' limits (both empty: back to the
// configured ones).
func (h *Handlers) adminNewcomerForm(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "title.members"))
	cur := h.Community.Currency
	minS, maxS := strings.TrimSpace(c.PostForm("newcomer_min")), strings.TrimSpace(c.PostForm("newcomer_max"))
	var l *members.Limits
	var err error
	if minS != "" || maxS != "" {
		min, e1 := cur.Parse(minS)
		max, e2 := cur.Parse(maxS)
		if e1 != nil || e2 != nil {
			err = &members.Error{Code: members.CodeInvalid, Field: "newcomer_min", Message: "New members' limits must be decimal numbers such as 0.00 and 500.00"}
		}
		l = &members.Limits{Min: min, Max: max}
	}
	if err == nil {
		err = h.Members.SetNewcomerLimits(c.Request.Context(), p.Member.Username, l)
	}
	status := http.StatusOK
	if err != nil {
		status = h.pageRefusal(c, &p, err)
	} else {
		p.Notice = h.tr(c, "notice.newcomer_saved")
	}
	h.showAdminMembers(c, p, status)
}

// adminIndexPage sends /admin to the admin pages' first one.
func (h *Handlers) adminIndexPage(c *gin.Context) {
	c.Redirect(http.StatusSeeOther, "/admin/members")
}
