package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/server/members"
	"github.com/sxp-network/sxp/server/payments"
)

type requestAction func(ctx context.Context, m members.Member, id int64) (payments.Request, error)

// adminMemberJSON is a member with their account, for admins.
type adminMemberJSON struct {
	memberJSON
	Account  accountJSON `json:"account"`
	Newcomer bool        `json:"newcomer"` // has the newcomers' limits until approved
}

func (h *Handlers) adminView(c *gin.Context, m members.Member) (adminMemberJSON, error) {
	a, err := h.Payments.Account(c.Request.Context(), m)
	if err != nil {
		return adminMemberJSON{}, err
	}
	cur := h.Community.Currency
	return adminMemberJSON{memberJSON: memberView(m), Newcomer: m.Newcomer,
		Account: accountJSON{Balance: cur.Format(a.Balance), Currency: cur.Code, Min: cur.Format(a.Min), Max: cur.Format(a.Max)}}, nil
}

func (h *Handlers) adminMembers(c *gin.Context) {
	status := members.Status(c.Query("status"))
	switch status {
	case "", members.StatusPending, members.StatusActive, members.StatusBlocked:
	default:
		badRequest(c, "status", "status must be pending, active or blocked")
		return
	}
	ms, err := h.Members.List(c.Request.Context(), status)
	if err != nil {
		h.fail(c, err)
		return
	}
	accounts, err := h.Payments.Accounts(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	cur := h.Community.Currency
	out := make([]adminMemberJSON, 0, len(ms))
	for _, m := range ms {
		a := accounts[m.Account]
		out = append(out, adminMemberJSON{memberJSON: memberView(m), Newcomer: m.Newcomer,
			Account: accountJSON{Balance: cur.Format(a.Balance), Currency: cur.Code, Min: cur.Format(a.Min), Max: cur.Format(a.Max)}})
	}
	c.JSON(http.StatusOK, gin.H{"members": out})
}

func (h *Handlers) adminMember(c *gin.Context) {
	m, err := h.Members.ByUsername(c.Request.Context(), c.Param("username"))
	if err != nil {
		h.fail(c, err)
		return
	}
	h.answerAdminMember(c, m)
}

func (h *Handlers) answerAdminMember(c *gin.Context, m members.Member) {
	v, err := h.adminView(c, m)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

func (h *Handlers) adminApprove(c *gin.Context) { h.adminDo(c, "approve", h.Members.Approve) }
func (h *Handlers) adminBlock(c *gin.Context)   { h.adminDo(c, "block", h.Members.Block) }
func (h *Handlers) adminUnblock(c *gin.Context) { h.adminDo(c, "unblock", h.Members.Unblock) }
func (h *Handlers) adminUnlock(c *gin.Context)  { h.adminDo(c, "unlock", h.Members.Unlock) }

// adminDo runs an admin action on :username and audits it.
func (h *Handlers) adminDo(c *gin.Context, action string, do func(ctx context.Context, username string) (members.Member, error)) {
	if c.Param("username") == currentMember(c).Username && c.FullPath() == "/api/v1/admin/members/:username/block" {
		badRequest(c, "username", "you cannot block yourself")
		return
	}
	m, err := do(c.Request.Context(), c.Param("username"))
	if err != nil {
		h.fail(c, err)
		return
	}
	h.audit(c, currentMember(c).Username, m.Username, action, "")
	h.answerAdminMember(c, m)
}

func (h *Handlers) adminLimits(c *gin.Context) {
	var req struct {
		Min string `json:"min"`
		Max string `json:"max"`
	}
	if !bindJSON(c, &req) {
		return
	}
	min, max, ok := h.parseLimits(c, req.Min, req.Max)
	if !ok {
		return
	}
	if _, err := h.Payments.SetLimits(c.Request.Context(), c.Param("username"), min, max); err != nil {
		h.fail(c, err)
		return
	}
	cur := h.Community.Currency
	h.audit(c, currentMember(c).Username, c.Param("username"), "limits", "limits "+cur.Format(min)+" to "+cur.Format(max)+" "+cur.Code)
	h.adminMember(c)
}

// parseLimits reads a lower (<= 0) and upper (>= 0) limit, answering 400.
func (h *Handlers) parseLimits(c *gin.Context, minS, maxS string) (min, max int64, ok bool) {
	cur := h.Community.Currency
	for _, f := range []struct {
		field, s string
		dst      *int64
	}{{"min", minS, &min}, {"max", maxS, &max}} {
		if f.s == "" {
			badRequest(c, f.field, f.field+" is missing: a decimal string such as \"-100.00\"")
			return 0, 0, false
		}
		v, err := cur.Parse(f.s)
		if err != nil {
			badRequest(c, f.field, f.field+" "+err.Error())
			return 0, 0, false
		}
		*f.dst = v
	}
	if min > 0 {
		badRequest(c, "min", "min must be zero or negative")
		return 0, 0, false
	}
	if max < 0 {
		badRequest(c, "max", "max must be zero or positive")
		return 0, 0, false
	}
	return min, max, true
}

func (h *Handlers) adminRole(c *gin.Context) {
	var req struct {
		Role string `json:"role"`
	}
	if !bindJSON(c, &req) {
		return
	}
	if req.Role != string(members.RoleMember) && req.Role != string(members.RoleAdmin) {
		badRequest(c, "role", "role must be member or admin")
		return
	}
	if c.Param("username") == currentMember(c).Username && req.Role != string(members.RoleAdmin) {
		badRequest(c, "role", "you cannot take away your own admin role")
		return
	}
	m, err := h.Members.SetRole(c.Request.Context(), c.Param("username"), members.Role(req.Role))
	if err != nil {
		h.fail(c, err)
		return
	}
	h.audit(c, currentMember(c).Username, m.Username, "role", "role "+req.Role)
	h.answerAdminMember(c, m)
}

func (h *Handlers) adminStatement(c *gin.Context) {
	m, err := h.Members.ByUsername(c.Request.Context(), c.Param("username"))
	if err != nil {
		h.fail(c, err)
		return
	}
	h.serveStatement(c, m)
}

// adminPassword resets a member's password: to the one given, or to a new
// temporary one, answered once ({"username","password"}); it ends their
// sessions and lifts a log-in lock.
func (h *Handlers) adminPassword(c *gin.Context) {
	var req struct {
		Password string `json:"password"`
	}
	if !bindJSON(c, &req) {
		return
	}
	user := c.Param("username")
	pw, err := h.Members.ResetPassword(c.Request.Context(), user, req.Password)
	if err != nil {
		h.fail(c, err)
		return
	}
	detail := "temporary password made"
	if req.Password != "" {
		detail = "password set by the admin"
	}
	h.audit(c, currentMember(c).Username, user, "password", detail)
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"username": user, "password": pw})
}

type auditJSON struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Member string    `json:"member"`
	Action string    `json:"action"`
	Detail string    `json:"detail"`
}

// adminAudit lists the admin actions on a member, newest first.
func (h *Handlers) adminAudit(c *gin.Context) {
	m, err := h.Members.ByUsername(c.Request.Context(), c.Param("username"))
	if err != nil {
		h.fail(c, err)
		return
	}
	entries, err := h.Members.AuditLog(c.Request.Context(), m.Username, 200)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]auditJSON, 0, len(entries))
	for _, e := range entries {
		out = append(out, auditJSON{At: e.At.UTC(), Actor: e.Actor, Member: e.Member, Action: e.Action, Detail: e.Detail})
	}
	c.JSON(http.StatusOK, gin.H{"entries": out})
}

// newcomerJSON is the newcomers' limits: staged says new members get them
// until an admin approves them (otherwise min and max are the defaults).
type newcomerJSON struct {
	Staged     bool   `json:"staged"`
	Min        string `json:"min"`
	Max        string `json:"max"`
	DefaultMin string `json:"default_min"`
	DefaultMax string `json:"default_max"`
}

func (h *Handlers) adminNewcomerLimits(c *gin.Context) {
	l, staged, err := h.Members.NewcomerLimits(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	cur := h.Community.Currency
	dmin, dmax := h.Members.DefaultLimits()
	c.JSON(http.StatusOK, newcomerJSON{Staged: staged, Min: cur.Format(l.Min), Max: cur.Format(l.Max),
		DefaultMin: cur.Format(dmin), DefaultMax: cur.Format(dmax)})
}

// adminSetNewcomerLimits sets the newcomers' limits ({"min","max"}), or
// goes back to the configured ones ({}).
func (h *Handlers) adminSetNewcomerLimits(c *gin.Context) {
	var req struct {
		Min string `json:"min"`
		Max string `json:"max"`
	}
	if !bindJSON(c, &req) {
		return
	}
	var l *members.Limits
	if req.Min != "" || req.Max != "" {
		min, max, ok := h.parseLimits(c, req.Min, req.Max)
		if !ok {
			return
		}
		l = &members.Limits{Min: min, Max: max}
	}
	if err := h.Members.SetNewcomerLimits(c.Request.Context(), currentMember(c).Username, l); err != nil {
		h.fail(c, err)
		return
	}
	h.adminNewcomerLimits(c)
}
