package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/server/intertrade"
	"github.com/sxp-network/sxp/server/members"
	"github.com/sxp-network/sxp/server/payments"
)

type authForm struct {
	Username    string
	DisplayName string
	// NewMin and NewMax are new members' limits, shown on the registration page.
	NewMin, NewMax int64
}

func (h *Handlers) loginPage(c *gin.Context) {
	if _, ok := currentSession(c); ok {
		c.Redirect(http.StatusSeeOther, "/")
		return
	}
	p := h.newPage(c, "Log in")
	p.CSRF = h.preCSRF(c)
	p.Data = authForm{}
	h.render(c, http.StatusOK, "login.html", p)
}

func (h *Handlers) loginForm(c *gin.Context) {
	if !h.checkPreCSRF(c) {
		return
	}
	p := h.newPage(c, "Log in")
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
	p := h.newPage(c, "Join "+h.Community.Name)
	p.CSRF = h.preCSRF(c)
	form := authForm{}
	form.NewMin, form.NewMax = h.Members.DefaultLimits()
	p.Data = form
	h.render(c, http.StatusOK, "register.html", p)
}

func (h *Handlers) registerForm(c *gin.Context) {
	if !h.checkPreCSRF(c) {
		return
	}
	p := h.newPage(c, "Join "+h.Community.Name)
	p.CSRF = h.preCSRF(c)
	form := authForm{Username: strings.TrimSpace(c.PostForm("username")), DisplayName: c.PostForm("display_name")}
	form.NewMin, form.NewMax = h.Members.DefaultLimits()
	p.Data = form
	if c.PostForm("password") != c.PostForm("password2") {
		p.Error, p.Field = "The two passwords differ.", "password"
		h.render(c, http.StatusBadRequest, "register.html", p)
		return
	}
	m, err := h.Members.Register(c.Request.Context(), members.Registration{Username: form.Username, Password: c.PostForm("password"), DisplayName: form.DisplayName})
	if err != nil {
		h.render(c, h.pageRefusal(c, &p, err), "register.html", p)
		return
	}
	if m.Status == members.StatusPending {
		p.Notice = "Welcome, " + m.DisplayName + "! An admin will approve your membership; then you can log in."
		p.Data = authForm{Username: m.Username}
		h.render(c, http.StatusCreated, "login.html", p)
		return
	}
	// A new member is logged in; should that fail (e.g. hashing is busy),
	// the log-in page says they can log in.
	s, err := h.Members.Login(c.Request.Context(), members.LoginRequest{Username: m.Username, Password: c.PostForm("password"), IP: c.ClientIP()})
	if err != nil {
		p.Notice = "Welcome, " + m.DisplayName + "! You can log in now."
		p.Data = authForm{Username: m.Username}
		h.render(c, http.StatusCreated, "login.html", p)
		return
	}
	h.setSessionCookie(c, s)
	c.Redirect(http.StatusSeeOther, "/?joined=1")
}

func (h *Handlers) logoutForm(c *gin.Context) {
	s, _ := currentSession(c)
	if err := h.Members.Logout(c.Request.Context(), s.Token); err != nil {
		h.pageError(c, http.StatusInternalServerError, "Could not log out; please try again.")
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
		p.Notice = "Welcome, " + m.DisplayName + "! You are a member of " + h.Community.Name + "."
	}
	p.Data = homeData{Account: acc, Recent: recent, Incoming: len(bills)}
	h.render(c, http.StatusOK, "home.html", p)
}

type payForm struct {
	To, Amount, Description, Key string
	Done                         *payments.Payment
	Members                      []members.Member // suggestions for "to"
}

func (h *Handlers) payPage(c *gin.Context) {
	p := h.newPage(c, "Pay")
	// "Pay for this" on an offer's page links here with the payee, the
	// price and the offer's title filled in.
	form := payForm{To: c.Query("to"), Amount: c.Query("amount"), Description: c.Query("description"), Key: newFormKey()}
	form.Members, _ = h.Members.Directory(c.Request.Context(), "", 500) // suggestions only: an error leaves none
	p.Data = form
	h.render(c, http.StatusOK, "pay.html", p)
}

func (h *Handlers) payForm(c *gin.Context) {
	p := h.newPage(c, "Pay")
	form := payForm{To: strings.TrimSpace(c.PostForm("to")), Amount: strings.TrimSpace(c.PostForm("amount")),
		Description: c.PostForm("description"), Key: c.PostForm("key")}
	p.Data = form
	amount, err := h.Community.Currency.ParsePositive(form.Amount)
	if err != nil {
		p.Error, p.Field = "Amount "+strconv.Quote(form.Amount)+": "+err.Error(), "amount"
		h.render(c, http.StatusBadRequest, "pay.html", p)
		return
	}
	to, local := h.localPayee(form.To)
	if !local {
		h.payRemoteForm(c, p, form, amount)
		return
	}
	pay, err := h.Payments.Pay(c.Request.Context(), payments.PayRequest{Payer: currentMember(c), To: to, Amount: amount,
		Description: form.Description, IdempotencyKey: form.Key})
	if err != nil {
		h.render(c, h.pageRefusal(c, &p, err), "pay.html", p)
		return
	}
	p.Notice = "Paid " + h.Community.Currency.Format(pay.Amount) + " " + h.Community.Currency.Code + " to " + pay.To + "."
	p.Data = payForm{Key: newFormKey(), Done: &pay}
	h.render(c, http.StatusOK, "pay.html", p)
}

// payRemoteForm pays member@community from the pay page.
func (h *Handlers) payRemoteForm(c *gin.Context, p page, form payForm, amount int64) {
	it, err := h.payThroughCircle(c, payBody{To: form.To, Amount: form.Amount, Description: form.Description, IdempotencyKey: form.Key}, amount)
	if err != nil {
		h.render(c, h.pageRefusal(c, &p, err), "pay.html", p)
		return
	}
	cur := h.Community.Currency
	if it.State == intertrade.StatePending {
		p.Notice = "Sent " + cur.Format(it.Amount) + " " + cur.Code + " to " + it.To + "; the circle has not confirmed yet. The amount is held meanwhile."
	} else {
		p.Notice = "Paid " + cur.Format(it.Amount) + " " + cur.Code + " to " + it.To + "."
	}
	p.Data = payForm{Key: newFormKey()}
	h.render(c, http.StatusOK, "pay.html", p)
}

type requestsData struct {
	Incoming, Outgoing []payments.Request
	From, Amount, Desc string
	Key                string // the bill form's idempotency key: a form sent twice makes one bill
}

func (h *Handlers) requestsPage(c *gin.Context) {
	h.showRequests(c, h.newPage(c, "Bills"), http.StatusOK, requestsData{})
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
	p := h.newPage(c, "Bills")
	d := requestsData{From: strings.TrimSpace(c.PostForm("from")), Amount: strings.TrimSpace(c.PostForm("amount")), Desc: c.PostForm("description"),
		Key: c.PostForm("key")}
	amount, err := h.Community.Currency.ParsePositive(d.Amount)
	if err != nil {
		p.Error, p.Field = "Amount "+strconv.Quote(d.Amount)+": "+err.Error(), "amount"
		h.showRequests(c, p, http.StatusBadRequest, d)
		return
	}
	r, err := h.Payments.CreateRequest(c.Request.Context(), payments.NewRequest{Payee: currentMember(c), From: d.From, Amount: amount, Description: d.Desc, IdempotencyKey: d.Key})
	if err != nil {
		h.showRequests(c, p, h.pageRefusal(c, &p, err), d)
		return
	}
	p.Notice = "Sent a bill of " + h.Community.Currency.Format(r.Amount) + " to " + r.Payer + "."
	h.showRequests(c, p, http.StatusOK, requestsData{})
}

func (h *Handlers) requestActionForm(c *gin.Context) {
	p := h.newPage(c, "Bills")
	actions := map[string]struct {
		do   requestAction
		done string
	}{
		"accept": {h.Payments.AcceptRequest, "Paid bill %d."},
		"reject": {h.Payments.RejectRequest, "Rejected bill %d."},
		"cancel": {h.Payments.CancelRequest, "Cancelled bill %d."},
	}
	a, ok := actions[c.Param("action")]
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if !ok || err != nil || id < 1 {
		h.pageError(c, http.StatusNotFound, "There is no such bill or action.")
		return
	}
	if _, err := a.do(c.Request.Context(), currentMember(c), id); err != nil {
		h.showRequests(c, p, h.pageRefusal(c, &p, err), requestsData{})
		return
	}
	p.Notice = strings.Replace(a.done, "%d", strconv.FormatInt(id, 10), 1)
	h.showRequests(c, p, http.StatusOK, requestsData{})
}

type statementData struct {
	Statement   payments.Statement
	From, To, Q string
	CSVQuery    string
	NextQuery   string
}

func (h *Handlers) statementPage(c *gin.Context) {
	p := h.newPage(c, "Statement")
	q, err := pageStatementQuery(c)
	d := statementData{From: c.Query("from"), To: c.Query("to"), Q: c.Query("q"), CSVQuery: c.Request.URL.RawQuery}
	if err != "" {
		p.Error = err
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
		h.pageError(c, http.StatusBadRequest, err)
		return
	}
	q.After = 0
	h.writeStatementCSV(c, currentMember(c), q)
}

func (h *Handlers) profilePage(c *gin.Context) {
	h.renderProfile(c, http.StatusOK, h.newPage(c, "Profile"))
}

func (h *Handlers) passwordForm(c *gin.Context) {
	p := h.newPage(c, "Profile")
	s, _ := currentSession(c)
	if c.PostForm("new_password") != c.PostForm("new_password2") {
		p.Error, p.Field = "The two new passwords differ.", "new_password"
		h.renderProfile(c, http.StatusBadRequest, p)
		return
	}
	if err := h.Members.ChangePassword(c.Request.Context(), s.Member.ID, c.PostForm("current_password"), c.PostForm("new_password"), s.Token); err != nil {
		h.renderProfile(c, h.pageRefusal(c, &p, err), p)
		return
	}
	p.Notice = "Password changed. Your other sessions have ended."
	h.renderProfile(c, http.StatusOK, p)
}

func (h *Handlers) profileForm(c *gin.Context) {
	p := h.newPage(c, "Profile")
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
	p.Notice = "Saved."
	h.renderProfile(c, http.StatusOK, p)
}
