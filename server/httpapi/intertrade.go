package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/server/intertrade"
)

// Intertrading handlers: the relay receiver (PUT /transactions), payments
// to member@community (called from POST /api/v1/payments and the pay page),
// the circle's communities for the pay form, and the admins' view.

type communityJSON struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	URI     string `json:"uri"`
	Ticks   string `json:"ticks"`
	Trading bool   `json:"trading"`
}

// intertradeCommunities is GET /api/v1/intertrade/communities: the circle's
// other communities, for the pay form.
func (h *Handlers) intertradeCommunities(c *gin.Context) {
	list, err := h.Intertrade.Communities(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]communityJSON, 0, len(list))
	for _, x := range list {
		out = append(out, communityJSON{ID: x.ID, Name: x.Name, URI: x.URI, Ticks: string(x.Ticks), Trading: x.Trading})
	}
	c.JSON(http.StatusOK, gin.H{"communities": out})
}

type handshakeJSON struct {
	ID            int64     `json:"id"`
	At            time.Time `json:"at"`
	OK            bool      `json:"ok"`
	Error         string    `json:"error,omitempty"`
	AccountStatus int       `json:"status"`
	Balance       string    `json:"balance,omitempty"`
	Min           string    `json:"min,omitempty"`
	Max           string    `json:"max,omitempty"`
	Count         int64     `json:"count"`
	Keymatch      bool      `json:"keymatch"`
	Ticks         string    `json:"ticks,omitempty"`
	Message       string    `json:"message,omitempty"`
	Sent          any       `json:"sent"`
}

func handshakeView(r intertrade.HandshakeResult) handshakeJSON {
	return handshakeJSON{ID: r.ID, At: r.At.UTC(), OK: r.OK, Error: r.Error, AccountStatus: r.AccountStatus,
		Balance: string(r.Balance), Min: string(r.Min), Max: string(r.Max), Count: r.Count, Keymatch: r.Keymatch,
		Ticks: string(r.Ticks), Message: r.Message, Sent: r.Sent}
}

type integrityJSON struct {
	ID             int64     `json:"id"`
	At             time.Time `json:"at"`
	OK             bool      `json:"ok"`
	AccountBalance string    `json:"account_balance"` // import/export, in the community's currency
	LocalSum       string    `json:"local_sum"`       // completed intertrades, in the community's currency
	BaseSum        string    `json:"base_sum"`        // the same in base units
	CircleBalance  string    `json:"circle_balance"`  // the virtual customer, in base units
	Pending        int       `json:"pending"`
	Problems       []string  `json:"problems"`
	State          string    `json:"state"` // ok, mismatch, or unknown (data from <time>)
}

func (h *Handlers) integrityView(r intertrade.IntegrityReport) integrityJSON {
	cur := h.Community.Currency
	v := integrityJSON{ID: r.ID, At: r.At.UTC(), OK: r.OK, AccountBalance: cur.Format(r.AccountBalance),
		LocalSum: cur.Format(r.LocalSum), BaseSum: string(r.BaseSum), CircleBalance: string(r.CircleBalance),
		Pending: r.Pending, Problems: r.Problems, State: r.State()}
	if v.Problems == nil {
		v.Problems = []string{}
	}
	return v
}

type intertradeRowJSON struct {
	ID          int64     `json:"id"`
	Direction   string    `json:"direction"`
	State       string    `json:"state"`
	Member      string    `json:"member"`
	Payer       string    `json:"payer"`
	Payee       string    `json:"payee"`
	Community   string    `json:"community"`
	Amount      string    `json:"amount"`
	Quantity    string    `json:"quantity"`
	Ticks       string    `json:"ticks"`
	Description string    `json:"description"`
	TempID      string    `json:"temp_id"`
	CXPCode     *int      `json:"cxp_code"`
	Message     string    `json:"message"`
	Reason      string    `json:"reason"`
	Attempts    int       `json:"attempts"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func (h *Handlers) intertradeRowView(it intertrade.Intertrade) intertradeRowJSON {
	v := intertradeRowJSON{ID: it.ID, Direction: string(it.Direction), State: string(it.State), Member: it.Username,
		Payer: it.Payer, Payee: it.Payee, Community: it.Community, Amount: h.Community.Currency.Format(it.Amount),
		Quantity: string(it.Quantity), Ticks: string(it.Ticks), Description: it.Description, TempID: it.TempID,
		Message: it.Message, Reason: it.Reason, Attempts: it.Attempts, CreatedAt: it.CreatedAt.UTC(), UpdatedAt: it.UpdatedAt.UTC()}
	if it.Answered {
		code := int(it.CXP)
		v.CXPCode = &code
	}
	return v
}

// adminIntertrade is GET /api/v1/admin/intertrade: configuration, the
// import/export account, the last handshake and integrity check, counts.
func (h *Handlers) adminIntertrade(c *gin.Context) {
	o, err := h.Intertrade.Overview(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, h.overviewView(o))
}

func (h *Handlers) overviewView(o intertrade.Overview) gin.H {
	cur := h.Community.Currency
	out := gin.H{
		"config": gin.H{
			"circle_url": o.Config.CircleURL, "circle_id": o.Config.CircleID, "community_id": o.Config.CommunityID,
			"rate": o.Config.Rate, "rate_in_force": string(o.RateInForce), "public_url": o.Config.PublicURL,
			"currency": o.Config.Currency, "divisions": o.Config.Divisions, "base_divisions": o.Config.BaseDivisions,
			"interval": o.Config.Interval.String(),
		},
		"import_export": gin.H{"code": o.Account.Code, "balance": cur.Format(o.Account.Balance),
			"held": cur.Format(o.Account.PendingCredits)},
		"counts":         gin.H{"pending": o.Pending, "failed": o.Failed, "completed": o.Completed},
		"last_handshake": nil,
		"integrity":      nil,
	}
	if o.HasHandshake {
		out["last_handshake"] = handshakeView(o.Handshake)
	}
	if o.HasIntegrity {
		out["integrity"] = h.integrityView(o.Integrity)
	}
	return out
}

// adminIntertradeHistory is GET /api/v1/admin/intertrade/history?state&direction&before&limit.
func (h *Handlers) adminIntertradeHistory(c *gin.Context) {
	q, ok := historyQuery(c)
	if !ok {
		return
	}
	list, err := h.Intertrade.History(c.Request.Context(), q)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]intertradeRowJSON, 0, len(list))
	for _, it := range list {
		out = append(out, h.intertradeRowView(it))
	}
	var next int64
	if len(list) > 0 && len(list) == q.Limit {
		next = list[len(list)-1].ID
	}
	c.JSON(http.StatusOK, gin.H{"intertrades": out, "next": next})
}

func historyQuery(c *gin.Context) (intertrade.Query, bool) {
	q := intertrade.Query{State: intertrade.State(c.Query("state")), Direction: intertrade.Direction(c.Query("direction")), Limit: 50}
	if s := c.Query("before"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v <= 0 {
			badRequest(c, "before", "before must be a positive id")
			return q, false
		}
		q.Before = v
	}
	if s := c.Query("limit"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > 500 {
			badRequest(c, "limit", "limit must be between 1 and 500")
			return q, false
		}
		q.Limit = v
	}
	return q, true
}

// adminIntertradeHandshake is POST /api/v1/admin/intertrade/handshake.
func (h *Handlers) adminIntertradeHandshake(c *gin.Context) {
	r, err := h.Intertrade.Handshake(c.Request.Context())
	if err != nil && r.ID == 0 {
		h.fail(c, err)
		return
	}
	status := http.StatusOK
	if !r.OK {
		status = http.StatusBadGateway
	}
	c.JSON(status, handshakeView(r))
}

// adminIntertradeReconcile is POST /api/v1/admin/intertrade/reconcile:
// a fresh handshake, then the integrity check.
func (h *Handlers) adminIntertradeReconcile(c *gin.Context) {
	rep, err := h.Intertrade.Reconcile(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, h.integrityView(rep))
}

// adminIntertradeSettle is POST /api/v1/admin/intertrade/settle: repeat the
// final try of every payment the circle has not answered.
func (h *Handlers) adminIntertradeSettle(c *gin.Context) {
	n, err := h.Intertrade.SettlePending(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"settled": n})
}

// joinView is the community's latest request to join a circle.
func joinView(j intertrade.Join, ok bool) gin.H {
	if !ok {
		return gin.H{"state": "none"}
	}
	return gin.H{"state": j.State, "circle_url": j.CircleURL, "request": j.Request, "rate": j.Ticks,
		"reason": j.Reason, "circle_id": j.CircleID, "key_fingerprint": j.Fingerprint,
		"created_at": j.CreatedAt, "updated_at": j.UpdatedAt}
}

// canJoin answers 404 when this server cannot ask to join a circle.
func (h *Handlers) canJoin(c *gin.Context) bool {
	if h.Join == nil {
		writeError(c, http.StatusNotFound, "not_found", "this server cannot ask to join a circle", "")
		return false
	}
	return true
}

// adminJoin is GET /api/v1/admin/intertrade/join: the latest request to
// join a circle ({"state": "none"} before any).
func (h *Handlers) adminJoin(c *gin.Context) {
	if !h.canJoin(c) {
		return
	}
	j, ok, err := h.Join.Latest(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, joinView(j, ok))
}

// adminAskJoin is POST /api/v1/admin/intertrade/join {"circle_url","rate","message"}:
// ask a circle to let this community join (while alone) → 202 the request.
func (h *Handlers) adminAskJoin(c *gin.Context) {
	if !h.canJoin(c) {
		return
	}
	var r struct {
		CircleURL string `json:"circle_url"`
		Rate      string `json:"rate"`
		Message   string `json:"message"`
	}
	if !bindJSON(c, &r) {
		return
	}
	if _, err := h.Intertrade.Overview(c.Request.Context()); intertrade.CodeOf(err) != intertrade.ErrNotInCircle {
		writeError(c, http.StatusConflict, "in_circle", "this community is in an intertrading circle already", "")
		return
	}
	j, err := h.Join.Ask(c.Request.Context(), r.CircleURL, r.Rate, r.Message)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, joinView(j, true))
}

// adminCheckJoin is POST /api/v1/admin/intertrade/join/check: ask the
// circle for its answer now; joined, intertrading starts.
func (h *Handlers) adminCheckJoin(c *gin.Context) {
	if !h.canJoin(c) {
		return
	}
	if _, err := h.Join.Poll(c.Request.Context()); err != nil {
		h.fail(c, err)
		return
	}
	j, ok, err := h.Join.Latest(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, joinView(j, ok))
}
