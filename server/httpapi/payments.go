package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/server/intertrade"
	"github.com/sxp-network/sxp/server/members"
	"github.com/sxp-network/sxp/server/payments"
)

type accountJSON struct {
	Balance  string `json:"balance"`
	Currency string `json:"currency"`
	Min      string `json:"min"`
	Max      string `json:"max"`
}

func (h *Handlers) account(c *gin.Context) {
	a, err := h.Payments.Account(c.Request.Context(), currentMember(c))
	if err != nil {
		h.fail(c, err)
		return
	}
	cur := h.Community.Currency
	c.JSON(http.StatusOK, accountJSON{Balance: cur.Format(a.Balance), Currency: cur.Code, Min: cur.Format(a.Min), Max: cur.Format(a.Max)})
}

type statementLineJSON struct {
	TransferID   int64     `json:"transfer_id"`
	Time         time.Time `json:"time"`
	Counterparty string    `json:"counterparty"`
	Description  string    `json:"description"`
	Amount       string    `json:"amount"`  // signed: negative when you paid
	Balance      string    `json:"balance"` // running balance after the line
}

type statementJSON struct {
	Currency string              `json:"currency"`
	Balance  string              `json:"balance"` // the account's balance now
	Opening  string              `json:"opening"` // balance before the first line
	Lines    []statementLineJSON `json:"lines"`
	Next     int64               `json:"next,omitempty"` // cursor for ?after=, absent at the end
}

func (h *Handlers) statementView(st payments.Statement) statementJSON {
	cur := h.Community.Currency
	v := statementJSON{Currency: cur.Code, Balance: cur.Format(st.Account.Balance), Opening: cur.Format(st.Opening),
		Lines: make([]statementLineJSON, 0, len(st.Lines)), Next: st.Next}
	for _, l := range st.Lines {
		v.Lines = append(v.Lines, statementLineJSON{TransferID: l.TransferID, Time: l.Time.UTC(), Counterparty: l.CounterpartyName,
			Description: l.Description, Amount: cur.Format(l.Amount), Balance: cur.Format(l.Balance)})
	}
	return v
}

// statementQuery reads ?from=&to= (RFC 3339 or YYYY-MM-DD), q, after,
// limit; it answers 400 and returns false on bad input.
func statementQuery(c *gin.Context) (payments.StatementQuery, bool) {
	var q payments.StatementQuery
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		s := c.Query(p.name)
		if s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t, err = time.Parse("2006-01-02", s)
		}
		if err != nil {
			badRequest(c, p.name, p.name+" must be a date (2025-01-31) or an RFC 3339 time")
			return q, false
		}
		*p.dst = t
	}
	for _, p := range []struct {
		name string
		dst  *int64
		max  int64
	}{{"after", &q.After, 1<<62 - 1}, {"limit", nil, 1000}} {
		s := c.Query(p.name)
		if s == "" {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 || n > p.max {
			badRequest(c, p.name, fmt.Sprintf("%s must be a whole number from 1 to %d", p.name, p.max))
			return q, false
		}
		if p.dst != nil {
			*p.dst = n
		} else {
			q.Limit = int(n)
		}
	}
	q.Search = c.Query("q")
	return q, true
}

func (h *Handlers) statement(c *gin.Context) {
	h.serveStatement(c, currentMember(c))
}

// serveStatement answers a statement page as JSON, or the whole selected
// range as CSV with ?format=csv.
func (h *Handlers) serveStatement(c *gin.Context, m members.Member) {
	q, ok := statementQuery(c)
	if !ok {
		return
	}
	switch c.Query("format") {
	case "", "json":
	case "csv":
		h.writeStatementCSV(c, m, q)
		return
	default:
		badRequest(c, "format", "format must be json or csv")
		return
	}
	st, err := h.Payments.Statement(c.Request.Context(), m, q)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, h.statementView(st))
}

// writeStatementCSV writes every line of the selected range as CSV.
func (h *Handlers) writeStatementCSV(c *gin.Context, m members.Member, q payments.StatementQuery) {
	q.Limit = 1000
	var lines []payments.StatementLine
	for {
		st, err := h.Payments.Statement(c.Request.Context(), m, q)
		if err != nil {
			h.fail(c, err)
			return
		}
		lines = append(lines, st.Lines...)
		if st.Next == 0 {
			break
		}
		q.After = st.Next
	}
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="statement-%s.csv"`, m.Username))
	c.Status(http.StatusOK)
	if err := h.Payments.WriteCSV(c.Writer, lines); err != nil {
		h.logger().Warn("statement csv", "err", err)
	}
}

type paymentJSON struct {
	ID             int64     `json:"id"` // the ledger transfer
	Status         string    `json:"status"`
	From           string    `json:"from"`
	To             string    `json:"to"`
	Amount         string    `json:"amount"`
	Currency       string    `json:"currency"`
	Description    string    `json:"description"`
	IdempotencyKey string    `json:"idempotency_key"`
	Balance        string    `json:"balance"` // the payer's balance after
	CreatedAt      time.Time `json:"created_at"`
}

type payBody struct {
	To             string `json:"to"`
	Amount         string `json:"amount"`
	Description    string `json:"description"`
	IdempotencyKey string `json:"idempotency_key"`
}

// parseAmount reads a positive decimal amount of the community currency,
// answering 400 on failure.
func (h *Handlers) parseAmount(c *gin.Context, field, s string) (int64, bool) {
	if s == "" {
		badRequest(c, field, field+" is missing: a decimal string such as \"12.50\"")
		return 0, false
	}
	v, err := h.Community.Currency.ParsePositive(s)
	if err != nil {
		badRequest(c, field, fmt.Sprintf("%s %q: %v", field, s, err))
		return 0, false
	}
	return v, true
}

func (h *Handlers) pay(c *gin.Context) {
	var req payBody
	if !bindJSON(c, &req) {
		return
	}
	amount, ok := h.parseAmount(c, "amount", req.Amount)
	if !ok {
		return
	}
	to, local := h.localPayee(req.To)
	if !local {
		h.payRemote(c, req, amount)
		return
	}
	p, err := h.Payments.Pay(c.Request.Context(), payments.PayRequest{Payer: currentMember(c), To: to, Amount: amount,
		Description: req.Description, IdempotencyKey: req.IdempotencyKey})
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, h.paymentView(p))
}

// localPayee reads a payment's "to": a member of this community ("bob",
// or "bob@<this community>") gives their username and true; anything else
// is member@community of the circle.
func (h *Handlers) localPayee(to string) (string, bool) {
	to = strings.TrimSpace(to)
	user, community, remote := strings.Cut(to, "@")
	switch {
	case !remote:
		return to, true
	case community == h.Community.ID:
		return user, true
	}
	return "", false
}

func (h *Handlers) paymentView(p payments.Payment) paymentJSON {
	cur := h.Community.Currency
	return paymentJSON{ID: p.TransferID, Status: "completed", From: p.From, To: p.To, Amount: cur.Format(p.Amount), Currency: cur.Code,
		Description: p.Description, IdempotencyKey: p.IdempotencyKey, Balance: cur.Format(p.PayerBalance), CreatedAt: p.CreatedAt.UTC()}
}

// payRemote pays a member of another community through the circle: 201
// when the circle confirmed, 202 while it has not answered (the amount is
// held and settled later), 422 with the circle's reason when refused.
func (h *Handlers) payRemote(c *gin.Context, req payBody, amount int64) {
	p, err := h.payThroughCircle(c, req, amount)
	if err != nil {
		h.fail(c, err)
		return
	}
	status := http.StatusCreated
	if p.State == intertrade.StatePending {
		status = http.StatusAccepted
	}
	c.JSON(status, h.intertradeView(currentMember(c).Username, p))
}

func (h *Handlers) payThroughCircle(c *gin.Context, req payBody, amount int64) (intertrade.Payment, error) {
	m := currentMember(c)
	return h.Intertrade.Pay(c.Request.Context(), intertrade.PayRequest{PayerAccount: m.Account, PayerUsername: m.Username,
		To: strings.TrimSpace(req.To), Amount: amount, Description: req.Description, IdempotencyKey: req.IdempotencyKey})
}

// intertradePaymentJSON is a payment to member@community.
type intertradePaymentJSON struct {
	ID             int64     `json:"id"`     // the intertrade
	Status         string    `json:"status"` // pending | completed | failed
	From           string    `json:"from"`
	To             string    `json:"to"`
	Amount         string    `json:"amount"`
	Currency       string    `json:"currency"`
	Quantity       string    `json:"quantity"`              // base units the circle moved
	Ticks          string    `json:"ticks"`                 // our rate used
	PayeeTicks     string    `json:"payee_ticks,omitempty"` // the payee's rate the circle used, once it confirmed
	Description    string    `json:"description"`
	IdempotencyKey string    `json:"idempotency_key"`
	TempID         string    `json:"temp_id"`
	CXPCode        int       `json:"cxp_code"`          // the circle's answer code (0: confirmed or no answer yet)
	Message        string    `json:"message,omitempty"` // the circle's message, as received
	Reason         string    `json:"reason"`            // the outcome in plain words
	CreatedAt      time.Time `json:"created_at"`
}

func (h *Handlers) intertradeView(from string, p intertrade.Payment) intertradePaymentJSON {
	return intertradePaymentJSON{ID: p.ID, Status: string(p.State), From: from, To: p.To, Amount: h.Community.Currency.Format(p.Amount),
		Currency: h.Community.Currency.Code, Quantity: string(p.Quantity), Ticks: string(p.Ticks), PayeeTicks: string(p.PayeeTicks), Description: p.Description,
		IdempotencyKey: p.IdempotencyKey, TempID: p.TempID, CXPCode: int(p.CXP), Message: p.Message, Reason: p.Reason,
		CreatedAt: p.CreatedAt.UTC()}
}

// quoteJSON answers GET /api/v1/quote: what a payment would do now.
type quoteJSON struct {
	To            string     `json:"to"`    // username or member@community, as it will be paid
	Local         bool       `json:"local"` // a member of this community
	Payee         string     `json:"payee"`
	PayeeName     string     `json:"payee_name,omitempty"` // a local payee's display name
	Community     string     `json:"community"`
	CommunityName string     `json:"community_name"`
	Trading       bool       `json:"trading"` // the payee's community may be paid now
	Amount        string     `json:"amount"`
	Currency      string     `json:"currency"`
	Quantity      string     `json:"quantity,omitempty"`    // base units (another community)
	Ticks         string     `json:"ticks,omitempty"`       // our rate
	PayeeTicks    string     `json:"payee_ticks,omitempty"` // the payee community's rate
	PayeeAmount   *string    `json:"payee_amount"`          // in the payee's currency; null when unknown
	PayeeCurrency *string    `json:"payee_currency"`        // null when unknown
	Rounding      string     `json:"rounding"`              // toward_zero at each conversion, as the circle
	Source        string     `json:"source"`                // local | rates (computed here from the circle's rates)
	RatesAt       *time.Time `json:"rates_at,omitempty"`    // when the circle listed the rates
}

// quote answers what paying ?amount= to ?payee= would do now, without
// paying: for another community, what the payee receives in their
// currency at today's rates.
func (h *Handlers) quote(c *gin.Context) {
	amount, ok := h.parseAmount(c, "amount", strings.TrimSpace(c.Query("amount")))
	if !ok {
		return
	}
	payee := strings.TrimSpace(c.Query("payee"))
	if payee == "" {
		badRequest(c, "payee", "payee is missing: a username, or member@community")
		return
	}
	cur := h.Community.Currency
	if to, local := h.localPayee(payee); local {
		m, err := h.Members.ByUsername(c.Request.Context(), to)
		if err != nil {
			h.fail(c, err)
			return
		}
		a, code := cur.Format(amount), cur.Code
		c.JSON(http.StatusOK, quoteJSON{To: m.Username, Local: true, Payee: m.Username, PayeeName: m.DisplayName, Community: h.Community.ID,
			CommunityName: h.Community.Name, Trading: m.Status == members.StatusActive, Amount: a, Currency: code,
			PayeeAmount: &a, PayeeCurrency: &code, Rounding: "toward_zero", Source: "local"})
		return
	}
	q, err := h.Intertrade.Quote(c.Request.Context(), payee, amount)
	if err != nil {
		h.fail(c, err)
		return
	}
	v := quoteJSON{To: q.Payee + "@" + q.Community, Payee: q.Payee, Community: q.Community, CommunityName: q.CommunityName,
		Trading: q.Trading, Amount: cur.Format(amount), Currency: cur.Code, Quantity: string(q.Quantity), Ticks: string(q.Ticks),
		PayeeTicks: string(q.PayeeTicks), Rounding: "toward_zero", Source: "rates"}
	if q.Known {
		a := payments.Currency{Code: q.PayeeCurrency, Divisions: q.PayeeDivisions}.Format(q.PayeeAmount)
		v.PayeeAmount, v.PayeeCurrency = &a, &q.PayeeCurrency
	}
	if !q.RatesAt.IsZero() {
		t := q.RatesAt.UTC()
		v.RatesAt = &t
	}
	c.JSON(http.StatusOK, v)
}

type requestJSON struct {
	ID          int64      `json:"id"`
	Payee       string     `json:"payee"`
	Payer       string     `json:"payer"`
	Amount      string     `json:"amount"`
	Currency    string     `json:"currency"`
	Description string     `json:"description"`
	Status      string     `json:"status"` // open | paid | rejected | cancelled
	TransferID  int64      `json:"transfer_id,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	ResolvedAt  *time.Time `json:"resolved_at,omitempty"`
}

func (h *Handlers) requestView(r payments.Request) requestJSON {
	cur := h.Community.Currency
	v := requestJSON{ID: r.ID, Payee: r.Payee, Payer: r.Payer, Amount: cur.Format(r.Amount), Currency: cur.Code,
		Description: r.Description, Status: string(r.Status), TransferID: r.TransferID, CreatedAt: r.CreatedAt.UTC()}
	if !r.ResolvedAt.IsZero() {
		t := r.ResolvedAt.UTC()
		v.ResolvedAt = &t
	}
	return v
}

func (h *Handlers) requests(c *gin.Context) {
	rs, err := h.Payments.Requests(c.Request.Context(), currentMember(c), c.Query("role"), payments.RequestStatus(c.Query("status")))
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]requestJSON, 0, len(rs))
	for _, r := range rs {
		out = append(out, h.requestView(r))
	}
	c.JSON(http.StatusOK, gin.H{"requests": out})
}

func (h *Handlers) createRequest(c *gin.Context) {
	var req struct {
		From           string `json:"from"`
		Amount         string `json:"amount"`
		Description    string `json:"description"`
		IdempotencyKey string `json:"idempotency_key"`
	}
	if !bindJSON(c, &req) {
		return
	}
	amount, ok := h.parseAmount(c, "amount", req.Amount)
	if !ok {
		return
	}
	r, err := h.Payments.CreateRequest(c.Request.Context(), payments.NewRequest{Payee: currentMember(c), From: strings.TrimSpace(req.From),
		Amount: amount, Description: req.Description, IdempotencyKey: req.IdempotencyKey})
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, h.requestView(r))
}

// requestID reads the :id parameter, answering 400 when it is not one.
func requestID(c *gin.Context) (int64, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		badRequest(c, "id", "the request id must be a positive whole number")
		return 0, false
	}
	return id, true
}

func (h *Handlers) request(c *gin.Context) {
	id, ok := requestID(c)
	if !ok {
		return
	}
	r, err := h.Payments.Request(c.Request.Context(), currentMember(c), id)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, h.requestView(r))
}

func (h *Handlers) acceptRequest(c *gin.Context) { h.resolveRequest(c, h.Payments.AcceptRequest) }
func (h *Handlers) rejectRequest(c *gin.Context) { h.resolveRequest(c, h.Payments.RejectRequest) }
func (h *Handlers) cancelRequest(c *gin.Context) { h.resolveRequest(c, h.Payments.CancelRequest) }

func (h *Handlers) resolveRequest(c *gin.Context, do requestAction) {
	id, ok := requestID(c)
	if !ok {
		return
	}
	r, err := do(c.Request.Context(), currentMember(c), id)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, h.requestView(r))
}
