package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/server/mail"
	"github.com/sxp-network/sxp/server/members"
	"github.com/sxp-network/sxp/server/payments"
)

type authForm struct {
	Username    string
	DisplayName string
	Email       string // optional, when the community sends e-mail
	// NewMin and NewMax are new members' limits, shown on the registration
	// page; Newcomer says they last until an admin approves the member,
	// who then gets DefMin and DefMax.
	NewMin, NewMax int64
	Newcomer       bool
	DefMin, DefMax int64
}

// withLimits fills in the limits a member who registers now gets.
func (h *Handlers) withLimits(c *gin.Context, f authForm) authForm {
	f.DefMin, f.DefMax = h.Members.DefaultLimits()
	l, newcomer, err := h.Members.NewcomerLimits(c.Request.Context())
	if err != nil {
		h.logger().Warn("newcomer limits", "err", err)
		l = members.Limits{Min: f.DefMin, Max: f.DefMax}
	}
	f.NewMin, f.NewMax, f.Newcomer = l.Min, l.Max, newcomer
	return f
}

func (h *Handlers) loginPage(c *gin.Context) {
	if _, ok := currentSession(c); ok {
		c.Redirect(http.StatusSeeOther, "/")
		return
	}
	p := h.newPage(c, h.tr(c, "nav.login"))
	p.CSRF = h.preCSRF(c)
	p.Data = authForm{}
	h.render(c, http.StatusOK, "login.html", p)
}

func (h *Handlers) loginForm(c *gin.Context) {
	if !h.checkPreCSRF(c) {
		return
	}
	p := h.newPage(c, h.tr(c, "nav.login"))
	p.CSRF = h.preCSRF(c)
	form := authForm{Username: strings.TrimSpace(c.PostForm("username"))}
	p.Data = form
	s, err := h.Members.Login(c.Request.Context(), members.LoginRequest{Username: form.Username, Password: c.PostForm("password"), IP: c.ClientIP()})
	if err != nil {
		status := h.pageRefusal(c, &p, err)
		var me *members.Error
		if errors.As(err, &me) && me.RetryAfter > 0 {
			c.Header("Retry-After", strconv.Itoa(int(me.RetryAfter.Seconds())))
		}
		h.render(c, status, "login.html", p)
		return
	}
	h.setSessionCookie(c, s)
	c.Redirect(http.StatusSeeOther, "/")
}

func (h *Handlers) registerPage(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "register.heading", "Community", h.Community.Name))
	p.CSRF = h.preCSRF(c)
	p.Data = h.withLimits(c, authForm{})
	h.render(c, http.StatusOK, "register.html", p)
}

func (h *Handlers) registerForm(c *gin.Context) {
	if !h.checkPreCSRF(c) {
		return
	}
	p := h.newPage(c, h.tr(c, "register.heading", "Community", h.Community.Name))
	p.CSRF = h.preCSRF(c)
	form := h.withLimits(c, authForm{Username: strings.TrimSpace(c.PostForm("username")), DisplayName: c.PostForm("display_name"),
		Email: strings.TrimSpace(c.PostForm("email"))})
	p.Data = form
	if c.PostForm("password") != c.PostForm("password2") {
		p.Error, p.Field = h.tr(c, "error.passwords_differ"), "password"
		h.render(c, http.StatusBadRequest, "register.html", p)
		return
	}
	if form.Email != "" && h.mailOn() {
		if _, err := mail.ParseAddress(form.Email); err != nil { // checked before the member is made
			h.render(c, h.pageRefusal(c, &p, err), "register.html", p)
			return
		}
	}
	m, err := h.Members.Register(c.Request.Context(), members.Registration{Username: form.Username, Password: c.PostForm("password"), DisplayName: form.DisplayName})
	if err != nil {
		h.render(c, h.pageRefusal(c, &p, err), "register.html", p)
		return
	}
	sentLink := ""
	if form.Email != "" && h.mailOn() {
		// The member exists now: a failure to queue the link is logged and
		// they can add the address again on their settings page.
		if err := h.Mail.SetAddress(c.Request.Context(), m, form.Email); err != nil {
			h.logger().Warn("registration: e-mail address not set", "member", m.Username, "err", err)
		} else {
			sentLink = " " + h.tr(c, "notice.join_link", "Email", form.Email)
		}
	}
	if m.Status == members.StatusPending {
		p.Notice = h.tr(c, "notice.welcome_pending", "Name", m.DisplayName) + sentLink
		p.Data = authForm{Username: m.Username}
		h.render(c, http.StatusCreated, "login.html", p)
		return
	}
	// A new member is logged in; should that fail (e.g. hashing is busy),
	// the log-in page says they can log in.
	s, err := h.Members.Login(c.Request.Context(), members.LoginRequest{Username: m.Username, Password: c.PostForm("password"), IP: c.ClientIP()})
	if err != nil {
		p.Notice = h.tr(c, "notice.welcome_login", "Name", m.DisplayName)
		p.Data = authForm{Username: m.Username}
		h.render(c, http.StatusCreated, "login.html", p)
		return
	}
	h.setSessionCookie(c, s)
	if sentLink != "" {
		c.Redirect(http.StatusSeeOther, "/?joined=1&email=1")
		return
	}
	c.Redirect(http.StatusSeeOther, "/?joined=1")
}

func (h *Handlers) logoutForm(c *gin.Context) {
	s, _ := currentSession(c)
	if err := h.Members.Logout(c.Request.Context(), s.Token); err != nil {
		h.pageError(c, http.StatusInternalServerError, h.tr(c, "error.logout"))
		return
	}
	h.clearSessionCookie(c)
	c.Redirect(http.StatusSeeOther, "/login")
}

type homeData struct {
	Account  ledger.Account
	Recent   []payments.StatementLine
	Incoming int // open bills to pay
}

func (h *Handlers) homePage(c *gin.Context) {
	ctx := c.Request.Context()
	m := currentMember(c)
	p := h.newPage(c, h.Community.Name)
	acc, recent, err := h.Payments.Recent(ctx, m, h.now().AddDate(0, 0, -90), 10)
	if err != nil {
		h.pageError(c, h.pageRefusal(c, &p, err), p.Error)
		return
	}
	bills, err := h.Payments.Requests(ctx, m, "payer", payments.RequestOpen)
	if err != nil {
		h.pageError(c, h.pageRefusal(c, &p, err), p.Error)
		return
	}
	if c.Query("joined") != "" {
		p.Notice = h.tr(c, "notice.welcome_member", "Name", m.DisplayName, "Community", h.Community.Name)
		if c.Query("email") != "" {
			p.Notice += " " + h.tr(c, "notice.welcome_email")
		}
	}
	p.Data = homeData{Account: acc, Recent: recent, Incoming: len(bills)}
	h.render(c, http.StatusOK, "home.html", p)
}

type requestsData struct {
	Incoming, Outgoing []payments.Request
	From, Amount, Desc string
	Key                string // the bill form's idempotency key: a form sent twice makes one bill
}

func (h *Handlers) requestsPage(c *gin.Context) {
	h.showRequests(c, h.newPage(c, h.tr(c, "title.bills")), http.StatusOK, requestsData{})
}

func (h *Handlers) showRequests(c *gin.Context, p page, status int, d requestsData) {
	ctx := c.Request.Context()
	m := currentMember(c)
	var err error
	if d.Incoming, err = h.Payments.Requests(ctx, m, "payer", ""); err == nil {
		d.Outgoing, err = h.Payments.Requests(ctx, m, "payee", "")
	}
	if err != nil {
		h.pageError(c, h.pageRefusal(c, &p, err), p.Error)
		return
	}
	if d.Key == "" {
		d.Key = newFormKey()
	}
	p.Data = d
	h.render(c, status, "requests.html", p)
}

func (h *Handlers) requestForm(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "title.bills"))
	d := requestsData{From: strings.TrimSpace(c.PostForm("from")), Amount: strings.TrimSpace(c.PostForm("amount")), Desc: c.PostForm("description"),
		Key: c.PostForm("key")}
	amount, err := h.Community.Currency.ParsePositive(d.Amount)
	if err != nil {
		p.Error, p.Field = h.localRefusal(c, "Amount "+strconv.Quote(d.Amount)+": "+err.Error()), "amount"
		h.showRequests(c, p, http.StatusBadRequest, d)
		return
	}
	r, err := h.Payments.CreateRequest(c.Request.Context(), payments.NewRequest{Payee: currentMember(c), From: d.From, Amount: amount, Description: d.Desc, IdempotencyKey: d.Key})
	if err != nil {
		h.showRequests(c, p, h.pageRefusal(c, &p, err), d)
		return
	}
	p.Notice = h.tr(c, "notice.bill_sent", "Amount", h.money(c, r.Amount), "To", r.Payer)
	h.showRequests(c, p, http.StatusOK, requestsData{})
}

func (h *Handlers) requestActionForm(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "title.bills"))
	actions := map[string]struct {
		do   requestAction
		done string
	}{
		"accept": {h.Payments.AcceptRequest, "notice.bill_paid"},
		"reject": {h.Payments.RejectRequest, "notice.bill_rejected"},
		"cancel": {h.Payments.CancelRequest, "notice.bill_cancelled"},
	}
	a, ok := actions[c.Param("action")]
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if !ok || err != nil || id < 1 {
		h.pageError(c, http.StatusNotFound, h.tr(c, "error.no_bill"))
		return
	}
	if _, err := a.do(c.Request.Context(), currentMember(c), id); err != nil {
		h.showRequests(c, p, h.pageRefusal(c, &p, err), requestsData{})
		return
	}
	p.Notice = h.tr(c, a.done, "ID", id) // notice.bill_paid, notice.bill_rejected, notice.bill_cancelled
	h.showRequests(c, p, http.StatusOK, requestsData{})
}

type statementData struct {
	Statement   payments.Statement
	From, To, Q string
	CSVQuery    string
	NextQuery   string
}

func (h *Handlers) statementPage(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "nav.statement"))
	q, err := pageStatementQuery(c)
	d := statementData{From: c.Query("from"), To: c.Query("to"), Q: c.Query("q"), CSVQuery: c.Request.URL.RawQuery}
	if err != "" {
		p.Error = h.localRefusal(c, err)
		p.Data = d
		h.render(c, http.StatusBadRequest, "statement.html", p)
		return
	}
	st, e := h.Payments.Statement(c.Request.Context(), currentMember(c), q)
	if e != nil {
		status := h.pageRefusal(c, &p, e)
		p.Data = d
		h.render(c, status, "statement.html", p)
		return
	}
	d.Statement = st
	if st.Next != 0 {
		v := c.Request.URL.Query()
		v.Set("after", strconv.FormatInt(st.Next, 10))
		d.NextQuery = v.Encode()
	}
	p.Data = d
	h.render(c, http.StatusOK, "statement.html", p)
}

// pageStatementQuery reads the statement filter form (dates as YYYY-MM-DD).
func pageStatementQuery(c *gin.Context) (payments.StatementQuery, string) {
	var q payments.StatementQuery
	for _, f := range []struct {
		name string
		dst  *time.Time
		add  int
	}{{"from", &q.From, 0}, {"to", &q.To, 1}} {
		if s := c.Query(f.name); s != "" {
			t, err := time.Parse("2006-01-02", s)
			if err != nil {
				return q, "The dates must look like 2025-01-31."
			}
			*f.dst = t.AddDate(0, 0, f.add) // "to" includes its day
		}
	}
	if s := c.Query("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			return q, "Bad page cursor."
		}
		q.After = n
	}
	q.Search, q.Limit = c.Query("q"), 100
	return q, ""
}

func (h *Handlers) statementCSV(c *gin.Context) {
	q, err := pageStatementQuery(c)
	if err != "" {
		h.pageError(c, http.StatusBadRequest, h.localRefusal(c, err))
		return
	}
	q.After = 0
	h.writeStatementCSV(c, currentMember(c), q)
}

func (h *Handlers) profilePage(c *gin.Context) {
	h.renderProfile(c, http.StatusOK, h.newPage(c, h.tr(c, "title.profile")))
}

func (h *Handlers) passwordForm(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "title.profile"))
	s, _ := currentSession(c)
	if c.PostForm("new_password") != c.PostForm("new_password2") {
		p.Error, p.Field = h.tr(c, "error.new_passwords_differ"), "new_password"
		h.renderProfile(c, http.StatusBadRequest, p)
		return
	}
	if err := h.Members.ChangePassword(c.Request.Context(), s.Member.ID, c.PostForm("current_password"), c.PostForm("new_password"), s.Token); err != nil {
		h.renderProfile(c, h.pageRefusal(c, &p, err), p)
		return
	}
	p.Notice = h.tr(c, "notice.password_changed")
	h.renderProfile(c, http.StatusOK, p)
}

func (h *Handlers) profileForm(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "title.profile"))
	ctx := c.Request.Context()
	key := strings.TrimSpace(c.PostForm("public_key"))
	keyChanged := key != base64Key(p.Member.PublicKey)
	var err error
	if keyChanged && key != "" {
		_, err = members.ParsePublicKey(key) // check before changing anything
	}
	var m members.Member
	if err == nil {
		m, err = h.Members.UpdateProfile(ctx, p.Member.ID, members.Profile{DisplayName: c.PostForm("display_name"), Bio: c.PostForm("bio"), Contact: c.PostForm("contact")})
	}
	if err == nil && keyChanged {
		m, err = h.Members.SetPublicKey(ctx, p.Member.ID, key)
	}
	if err != nil {
		h.renderProfile(c, h.pageRefusal(c, &p, err), p)
		return
	}
	p.Member = &m
	p.Notice = h.tr(c, "notice.saved")
	h.renderProfile(c, http.StatusOK, p)
}
