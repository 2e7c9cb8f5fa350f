package httpapi

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/server/mail"
)

// requireMail answers 404 (the JSON error, or the error page for pages)
// when the community sends no e-mail.
func (h *Handlers) requireMail(c *gin.Context) {
	if h.mailOn() {
		return
	}
	if strings.HasPrefix(c.Request.URL.Path, "/api/") {
		writeError(c, http.StatusNotFound, string(mail.CodeOff), "e-mail is off in this community (no SMTP settings)", "")
		return
	}
	h.pageError(c, http.StatusNotFound, h.tr(c, "error.mail_off"))
}

type emailBody struct {
	Enabled  bool            `json:"enabled"`
	Address  *string         `json:"address"`
	Verified bool            `json:"verified"`
	Notices  map[string]bool `json:"notices"`
}

// myEmail answers the member's address and notices (and whether e-mail is on).
func (h *Handlers) myEmail(c *gin.Context) {
	out := emailBody{Enabled: h.mailOn(), Notices: map[string]bool{}}
	if out.Enabled {
		ctx, id := c.Request.Context(), currentMember(c).ID
		a, err := h.Mail.Address(ctx, id)
		if err != nil {
			h.fail(c, err)
			return
		}
		if a.Address != "" {
			out.Address, out.Verified = &a.Address, a.Verified
		}
		ns, err := h.Mail.Notices(ctx, id)
		if err != nil {
			h.fail(c, err)
			return
		}
		for _, n := range ns {
			out.Notices[string(n.Kind)] = n.On
		}
	}
	c.JSON(http.StatusOK, out)
}

// setMyEmail sets the member's address and sends a verification link: 202.
func (h *Handlers) setMyEmail(c *gin.Context) {
	var in struct {
		Address string `json:"address"`
	}
	if !bindJSON(c, &in) {
		return
	}
	if err := h.Mail.SetAddress(c.Request.Context(), currentMember(c), in.Address); err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"address": in.Address, "verified": false})
}

// deleteMyEmail forgets the member's address: 204.
func (h *Handlers) deleteMyEmail(c *gin.Context) {
	if err := h.Mail.RemoveAddress(c.Request.Context(), currentMember(c).ID); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// setMyNotices takes {"payment": bool, …}; a kind left out is unchanged.
func (h *Handlers) setMyNotices(c *gin.Context) {
	var in map[string]bool
	if !bindJSON(c, &in) {
		return
	}
	ctx, id := c.Request.Context(), currentMember(c).ID
	cur, err := h.Mail.Notices(ctx, id)
	if err != nil {
		h.fail(c, err)
		return
	}
	on := map[mail.Kind]bool{}
	for _, n := range cur {
		on[n.Kind] = n.On
	}
	for k, v := range in {
		if _, known := on[mail.Kind(k)]; !known {
			badRequest(c, k, "unknown notice "+k+": payment, bill, proposal or expiry")
			return
		}
		on[mail.Kind(k)] = v
	}
	var kinds []mail.Kind
	for k, v := range on {
		if v {
			kinds = append(kinds, k)
		}
	}
	if err := h.Mail.SetNotices(ctx, id, kinds); err != nil {
		h.fail(c, err)
		return
	}
	h.myEmail(c)
}

// verifyEmail uses a verification token: {"token"} → {"username"}.
func (h *Handlers) verifyEmail(c *gin.Context) {
	var in struct {
		Token string `json:"token"`
	}
	if !bindJSON(c, &in) {
		return
	}
	username, err := h.Mail.Verify(c.Request.Context(), in.Token)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"username": username})
}

// requestPasswordReset: {"email"} → 202 whether or not the address is a member's.
func (h *Handlers) requestPasswordReset(c *gin.Context) {
	var in struct {
		Email string `json:"email"`
	}
	if !bindJSON(c, &in) {
		return
	}
	if err := h.Mail.RequestReset(c.Request.Context(), in.Email, c.ClientIP()); err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"message": "if this is the confirmed address of a member, a link is on its way"})
}

// resetPassword: {"token","new_password"} → 204; every session of the member ends.
func (h *Handlers) resetPassword(c *gin.Context) {
	var in struct {
		Token       string `json:"token"`
		NewPassword string `json:"new_password"`
	}
	if !bindJSON(c, &in) {
		return
	}
	if _, err := h.Mail.ResetPassword(c.Request.Context(), in.Token, in.NewPassword); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// adminMail answers the outbox's counts and latest failures.
func (h *Handlers) adminMail(c *gin.Context) {
	o, err := h.Mail.Outbox(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	type failure struct {
		ID        int64  `json:"id"`
		Kind      string `json:"kind"`
		Recipient string `json:"recipient"`
		State     string `json:"state"`
		Attempts  int    `json:"attempts"`
		LastError string `json:"last_error"`
		CreatedAt string `json:"created_at"`
	}
	fs := make([]failure, 0, len(o.Failures))
	for _, f := range o.Failures {
		fs = append(fs, failure{f.ID, f.Kind, f.Recipient, f.State, f.Attempts, f.LastError, f.CreatedAt.UTC().Format("2006-01-02T15:04:05Z")})
	}
	c.JSON(http.StatusOK, gin.H{"enabled": o.Enabled, "pending": o.Pending, "sent": o.Sent, "failed": o.Failed, "failures": fs})
}
