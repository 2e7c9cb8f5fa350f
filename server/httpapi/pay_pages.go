package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/server/intertrade"
	"github.com/sxp-network/sxp/server/members"
	"github.com/sxp-network/sxp/server/payments"
)

// Paying on the web takes three steps: the form (GET /pay) posts to
// the review (POST /pay/review), which shows whom the payment goes to and,
// for another community, what they receive in their currency; its Confirm
// posts the same fields to POST /pay, which pays and shows the receipt. The
// form's idempotency key goes along every step, so a confirm sent twice
// pays once. POST /pay also takes a form straight away (scripts, and the
// pages before the review step).

type payForm struct {
	To, Amount, Description, Key string
	Members                      []members.Member // suggestions for "to"
}

func (h *Handlers) payPage(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "nav.pay"))
	form := payForm{To: c.Query("to"), Amount: c.Query("amount"), Description: c.Query("description"), Key: newFormKey()}
	form.Members, _ = h.Members.Directory(c.Request.Context(), "", 500) // suggestions only: an error leaves none
	p.Data = form
	h.render(c, http.StatusOK, "pay.html", p)
}

// readPayForm reads the pay form's fields; a bad amount renders the form
// again with the error and returns false.
func (h *Handlers) readPayForm(c *gin.Context, p page) (payForm, int64, bool) {
	form := payForm{To: strings.TrimSpace(c.PostForm("to")), Amount: strings.TrimSpace(c.PostForm("amount")),
		Description: c.PostForm("description"), Key: c.PostForm("key")}
	if form.Key == "" {
		form.Key = newFormKey()
	}
	amount, err := h.Community.Currency.ParsePositive(form.Amount)
	if err != nil {
		p.Error, p.Field = h.localRefusal(c, "Amount "+strconv.Quote(form.Amount)+": "+err.Error()), "amount"
		p.Data = form
		h.render(c, http.StatusBadRequest, "pay.html", p)
		return form, 0, false
	}
	return form, amount, true
}

// payReview is the review step's page.
type payReview struct {
	Form          payForm
	Amount        string // ours, formatted
	Local         bool
	Payee         string // username, or member@community
	PayeeName     string // a local payee's display name
	CommunityName string
	Quote         *intertrade.Quote
	Received      string // what the payee receives, formatted in their currency ("" when unknown)
	Quantity      string // base units
}

// payReviewForm shows what a payment will do before it is sent.
func (h *Handlers) payReviewForm(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "review.heading"))
	form, amount, ok := h.readPayForm(c, p)
	if !ok {
		return
	}
	cur := h.Community.Currency
	r := payReview{Form: form, Amount: cur.Format(amount)}
	if to, local := h.localPayee(form.To); local {
		m, err := h.Members.ByUsername(c.Request.Context(), to)
		if err == nil && m.Status != members.StatusActive {
			err = &members.Error{Code: members.CodeInvalid, Field: "to", Message: m.Username + " cannot be paid at the moment (" + string(m.Status) + ")"}
		}
		if err == nil && m.ID == p.Member.ID {
			err = &members.Error{Code: members.CodeInvalid, Field: "to", Message: "you cannot pay yourself"}
		}
		if err != nil {
			h.payFormRefused(c, p, form, err)
			return
		}
		r.Local, r.Payee, r.PayeeName, r.CommunityName = true, m.Username, m.DisplayName, h.Community.Name
		p.Data = r
		h.render(c, http.StatusOK, "pay_review.html", p)
		return
	}
	q, err := h.Intertrade.Quote(c.Request.Context(), form.To, amount)
	if err != nil {
		h.payFormRefused(c, p, form, err)
		return
	}
	r.Payee, r.CommunityName, r.Quote, r.Quantity = q.Payee+"@"+q.Community, q.CommunityName, &q, string(q.Quantity)
	if q.Known {
		r.Received = payments.Currency{Code: q.PayeeCurrency, Divisions: q.PayeeDivisions}.Format(q.PayeeAmount) + " " + q.PayeeCurrency
	}
	p.Data = r
	h.render(c, http.StatusOK, "pay_review.html", p)
}

// payFormRefused shows the pay form again with the refusal.
func (h *Handlers) payFormRefused(c *gin.Context, p page, form payForm, err error) {
	status := h.pageRefusal(c, &p, err)
	p.Data = form
	h.render(c, status, "pay.html", p)
}

// payReceipt is the receipt page.
type payReceipt struct {
	Local         bool
	Pending       bool
	ID            int64 // the ledger transfer (local) or the intertrade
	To            string
	PayeeName     string
	CommunityName string
	Sent          string // ours, formatted with the code
	Received      string // the payee's, formatted with their code ("" when unknown)
	Quantity      string // base units (intertrade)
	Description   string
	Balance       string // the payer's, after (local)
	Next          string // a fresh key for another payment
}

// payConfirmForm pays: the review's Confirm, or a form posted straight away.
func (h *Handlers) payConfirmForm(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "nav.pay"))
	form, amount, ok := h.readPayForm(c, p)
	if !ok {
		return
	}
	cur := h.Community.Currency
	to, local := h.localPayee(form.To)
	if !local {
		h.payRemoteForm(c, p, form, amount)
		return
	}
	pay, err := h.Payments.Pay(c.Request.Context(), payments.PayRequest{Payer: currentMember(c), To: to, Amount: amount,
		Description: form.Description, IdempotencyKey: form.Key})
	if err != nil {
		h.payFormRefused(c, p, form, err)
		return
	}
	sent := h.money(c, pay.Amount) + " " + cur.Code
	r := payReceipt{Local: true, ID: pay.TransferID, To: pay.To, CommunityName: h.Community.Name, Sent: sent, Received: sent,
		Description: pay.Description, Balance: h.money(c, pay.PayerBalance) + " " + cur.Code, Next: newFormKey()}
	if m, err := h.Members.ByUsername(c.Request.Context(), pay.To); err == nil {
		r.PayeeName = m.DisplayName
	}
	p.Title = "Receipt"
	p.Notice = h.tr(c, "notice.paid", "Amount", sent, "To", pay.To)
	p.Data = r
	h.render(c, http.StatusOK, "pay_receipt.html", p)
}

// payRemoteForm pays member@community from the pages.
func (h *Handlers) payRemoteForm(c *gin.Context, p page, form payForm, amount int64) {
	it, err := h.payThroughCircle(c, payBody{To: form.To, Amount: form.Amount, Description: form.Description, IdempotencyKey: form.Key}, amount)
	if err != nil {
		h.payFormRefused(c, p, form, err)
		return
	}
	rc := h.Intertrade.Receipt(c.Request.Context(), it)
	cur := h.Community.Currency
	sent := h.money(c, it.Amount) + " " + cur.Code
	r := payReceipt{ID: it.ID, To: it.To, CommunityName: rc.CommunityName, Sent: sent, Quantity: string(it.Quantity),
		Description: it.Description, Pending: it.State == intertrade.StatePending, Next: newFormKey()}
	if rc.Known {
		r.Received = formatMoney(h.pageLang(c), payments.Currency{Code: rc.PayeeCurrency, Divisions: rc.PayeeDivisions}.Format(rc.PayeeAmount)) + " " + rc.PayeeCurrency
	}
	if r.Pending {
		p.Notice = h.tr(c, "notice.paid_pending", "Amount", sent, "To", it.To)
	} else {
		p.Notice = h.tr(c, "notice.paid", "Amount", sent, "To", it.To)
	}
	p.Title = "Receipt"
	p.Data = r
	h.render(c, http.StatusOK, "pay_receipt.html", p)
}
