package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/server/mail"
)

// mailOn reports whether the community sends e-mail (SMTP settings given).
func (h *Handlers) mailOn() bool { return h.Mail != nil && h.Mail.Enabled() }

type settingsData struct {
	MailOn  bool
	Address mail.Address
	Notices []mail.Notice
	Typed   string // the address as typed, shown again after a refusal
}

// settingsPage shows the member's e-mail address and notices.
func (h *Handlers) settingsPage(c *gin.Context) {
	h.showSettings(c, h.newPage(c, h.tr(c, "nav.settings")), http.StatusOK, "")
}

func (h *Handlers) showSettings(c *gin.Context, p page, status int, typed string) {
	d := settingsData{MailOn: h.mailOn(), Typed: typed}
	if d.MailOn {
		ctx, id := c.Request.Context(), currentMember(c).ID
		var err error
		if d.Address, err = h.Mail.Address(ctx, id); err == nil {
			d.Notices, err = h.Mail.Notices(ctx, id)
		}
		if err != nil {
			h.pageError(c, h.pageRefusal(c, &p, err), p.Error)
			return
		}
		if d.Typed == "" {
			d.Typed = d.Address.Address
		}
	}
	p.Data = d
	h.render(c, status, "settings.html", p)
}

// emailForm sets the member's address and sends a verification link to it.
func (h *Handlers) emailForm(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "nav.settings"))
	addr := strings.TrimSpace(c.PostForm("email"))
	if err := h.Mail.SetAddress(c.Request.Context(), currentMember(c), addr); err != nil {
		h.showSettings(c, p, h.pageRefusal(c, &p, err), addr)
		return
	}
	p.Notice = h.tr(c, "notice.email_link", "Email", addr)
	h.showSettings(c, p, http.StatusOK, "")
}

// emailRemoveForm forgets the member's address.
func (h *Handlers) emailRemoveForm(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "nav.settings"))
	if err := h.Mail.RemoveAddress(c.Request.Context(), currentMember(c).ID); err != nil {
		h.showSettings(c, p, h.pageRefusal(c, &p, err), "")
		return
	}
	p.Notice = h.tr(c, "notice.email_removed", "Community", h.Community.Name)
	h.showSettings(c, p, http.StatusOK, "")
}

// noticesForm keeps the notices whose boxes are ticked and turns off the others.
func (h *Handlers) noticesForm(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "nav.settings"))
	var on []mail.Kind
	for _, k := range c.PostFormArray("notice") {
		on = append(on, mail.Kind(k))
	}
	if err := h.Mail.SetNotices(c.Request.Context(), currentMember(c).ID, on); err != nil {
		h.showSettings(c, p, h.pageRefusal(c, &p, err), "")
		return
	}
	p.Notice = h.tr(c, "notice.notices_saved")
	h.showSettings(c, p, http.StatusOK, "")
}

type verifyData struct{ Username string }

// verifyPage uses the link of a verification mail.
func (h *Handlers) verifyPage(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "email.heading"))
	username, err := h.Mail.Verify(c.Request.Context(), c.Query("token"))
	if err != nil {
		h.render(c, h.pageRefusal(c, &p, err), "email_verified.html", p)
		return
	}
	p.Notice = h.tr(c, "notice.email_confirmed")
	p.Data = verifyData{Username: username}
	h.render(c, http.StatusOK, "email_verified.html", p)
}

type resetData struct {
	// CSRF is the forms' pre-session token (checkPreCSRF); the page's own
	// CSRF stays the session's, for the log-out button of a member.
	CSRF     string
	MailOn   bool
	Token    string
	Username string
	Sent     bool
	Email    string
}

// forgotPage asks for the address to send a reset link to.
func (h *Handlers) forgotPage(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "login.forgot"))
	p.Data = resetData{MailOn: h.mailOn(), CSRF: h.preCSRF(c)}
	h.render(c, http.StatusOK, "password_forgot.html", p)
}

// forgotForm sends the reset link. Its answer is the same whether or not
// the address belongs to a member.
func (h *Handlers) forgotForm(c *gin.Context) {
	if !h.checkPreCSRF(c) {
		return
	}
	p := h.newPage(c, h.tr(c, "login.forgot"))
	d := resetData{MailOn: h.mailOn(), Email: strings.TrimSpace(c.PostForm("email")), CSRF: h.preCSRF(c)}
	p.Data = d
	if !d.MailOn {
		h.render(c, http.StatusNotFound, "password_forgot.html", p)
		return
	}
	if err := h.Mail.RequestReset(c.Request.Context(), d.Email, c.ClientIP()); err != nil {
		h.retryAfter(c, err)
		h.render(c, h.pageRefusal(c, &p, err), "password_forgot.html", p)
		return
	}
	d.Sent = true
	p.Data = d
	p.Notice = h.tr(c, "notice.reset_sent", "Email", d.Email)
	h.render(c, http.StatusOK, "password_forgot.html", p)
}

// resetPage shows the new-password form of a reset link.
func (h *Handlers) resetPage(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "reset.heading"))
	d := resetData{MailOn: h.mailOn(), Token: c.Query("token"), CSRF: h.preCSRF(c)}
	p.Data = d
	if !d.MailOn {
		h.render(c, http.StatusNotFound, "password_reset.html", p)
		return
	}
	username, err := h.Mail.CheckReset(c.Request.Context(), d.Token)
	if err != nil {
		d.Token = ""
		p.Data = d
		h.render(c, h.pageRefusal(c, &p, err), "password_reset.html", p)
		return
	}
	d.Username = username
	p.Data = d
	h.render(c, http.StatusOK, "password_reset.html", p)
}

// resetForm sets the new password and uses up the link.
func (h *Handlers) resetForm(c *gin.Context) {
	if !h.checkPreCSRF(c) {
		return
	}
	p := h.newPage(c, h.tr(c, "reset.heading"))
	d := resetData{MailOn: h.mailOn(), Token: c.PostForm("token"), CSRF: h.preCSRF(c)}
	p.Data = d
	if !d.MailOn {
		h.render(c, http.StatusNotFound, "password_reset.html", p)
		return
	}
	if c.PostForm("new_password") != c.PostForm("new_password2") {
		d.Username, _ = h.Mail.CheckReset(c.Request.Context(), d.Token)
		p.Data = d
		p.Error, p.Field = h.tr(c, "error.passwords_differ"), "new_password"
		h.render(c, http.StatusBadRequest, "password_reset.html", p)
		return
	}
	username, err := h.Mail.ResetPassword(c.Request.Context(), d.Token, c.PostForm("new_password"))
	if err != nil {
		status := h.pageRefusal(c, &p, err)
		if u, cerr := h.Mail.CheckReset(c.Request.Context(), d.Token); cerr == nil {
			d.Username = u // a refused password: the link still works
		} else {
			d.Token = ""
		}
		p.Data = d
		h.render(c, status, "password_reset.html", p)
		return
	}
	// Every session of the member ended, this browser's too when it was theirs.
	if s, ok := currentSession(c); ok && s.Member.Username == username {
		h.clearSessionCookie(c)
		p.Member = nil
	}
	p.CSRF = d.CSRF
	p.Notice = h.tr(c, "notice.password_reset")
	p.Data = authForm{Username: username}
	h.render(c, http.StatusOK, "login.html", p)
}

// retryAfter sets Retry-After for a rate-limited refusal.
func (h *Handlers) retryAfter(c *gin.Context, err error) {
	if de, ok := asDomainError(err); ok && de.retryAfter > 0 {
		c.Header("Retry-After", strconv.Itoa(int(de.retryAfter.Seconds())+1))
	}
}

type adminMailData struct {
	Outbox mail.Outbox
}

// adminMailPage shows the outbox: counts and the latest failures.
func (h *Handlers) adminMailPage(c *gin.Context) {
	h.showAdminMail(c, h.newPage(c, h.tr(c, "settings.email")), http.StatusOK)
}

func (h *Handlers) showAdminMail(c *gin.Context, p page, status int) {
	var d adminMailData
	if h.Mail != nil {
		o, err := h.Mail.Outbox(c.Request.Context())
		if err != nil {
			h.pageError(c, h.pageRefusal(c, &p, err), p.Error)
			return
		}
		d.Outbox = o
	}
	p.Data = d
	h.render(c, status, "admin_mail.html", p)
}

// adminMailRetryForm makes failed messages pending again.
func (h *Handlers) adminMailRetryForm(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "settings.email"))
	n, err := h.Mail.Retry(c.Request.Context())
	if err != nil {
		h.showAdminMail(c, p, h.pageRefusal(c, &p, err))
		return
	}
	p.Notice = h.tr(c, "notice.mail_retry", "Count", int(n))
	h.showAdminMail(c, p, http.StatusOK)
}
