package httpapi

// The governing body's HTML pages under /admin: every community's balance
// against its limits, the balance of trade over time, the trade matrix,
// monitoring alerts, the audit log, and block/unblock and limit changes,
// each confirmed on a second page before it is applied. Charts are SVG
// drawn here (ledger/chart); nothing is loaded from elsewhere.
//
// Log-in takes an admin token (SXP_ADMIN_TOKEN or one from `sxp admin token
// add`) and opens a server-side session (clearing.OpenAdminSession) whose
// random id goes in an HTTP-only, SameSite=Strict cookie scoped to /admin:
// the token itself never sits in the browser. Every form carries a CSRF
// token derived from the session id.

import (
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/clearing"
	"github.com/sxp-network/sxp/ledger/chart"
)

//go:embed pages/*.html
var pageFiles embed.FS

// pageTemplates holds each page parsed together with the layout.
var pageTemplates = func() map[string]*template.Template {
	funcs := template.FuncMap{
		"svg":   func(s string) template.HTML { return template.HTML(s) }, // ledger/chart escapes its text
		"deref": func(b *bool) bool { return b != nil && *b },
		"raw": func(b json.RawMessage) string { // an audit entry's before or after
			if len(b) == 0 || string(b) == "null" {
				return "—"
			}
			return string(b)
		},
		"levels": func(asked []int) string { // the arbiter's asked[j], "—" for not asked
			parts := make([]string, len(asked))
			for j, l := range asked {
				parts[j] = "—"
				if l >= 0 {
					parts[j] = strconv.Itoa(l)
				}
			}
			return "[" + strings.Join(parts, " ") + "]"
		},
		"members": func(s []bool) string { // the arbiter's S as party indexes
			var parts []string
			for j, in := range s {
				if in {
					parts = append(parts, strconv.Itoa(j))
				}
			}
			return "{" + strings.Join(parts, ", ") + "}"
		},
	}
	out := map[string]*template.Template{}
	for _, name := range []string{"landing", "login", "overview", "trade", "alerts", "audit", "arbiter", "community", "confirm", "error",
		"community_new", "community_key", "joins"} {
		out[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(pageFiles, "pages/layout.html", "pages/"+name+".html"))
	}
	return out
}()

const (
	adminCookie  = "sxp_admin"
	pageCSRFKey  = "sxp.csrf"
	sessionHours = 12
	// tradeDays is how far back the balance-of-trade chart goes by default.
	tradeDays = 30
	// maxPoints bounds the points drawn per community on the time chart.
	maxPoints = 400
)

// pageData is what every page template gets.
type pageData struct {
	Title  string
	Nav    string // the current section, for the menu
	Actor  string
	CSRF   string
	Circle clearing.Circle
	Notice string
	Error  string
	Body   any
	// PendingJoins is how many requests to join wait (shown in the menu).
	PendingJoins int
}

func (s *Server) renderPage(c *gin.Context, status int, name string, d pageData) {
	d.Actor = c.GetString(actorKey)
	d.CSRF = c.GetString(pageCSRFKey)
	if d.Actor != "" {
		if n, err := s.house.PendingJoins(c.Request.Context()); err == nil {
			d.PendingJoins = n
		}
	}
	if d.Circle.ID == "" {
		if circle, err := s.house.Circle(c.Request.Context()); err == nil {
			d.Circle = circle
		}
	}
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Status(status)
	if err := pageTemplates[name].Execute(c.Writer, d); err != nil {
		s.log.ErrorContext(c.Request.Context(), "render admin page", "page", name, "err", err)
	}
}

// pageFail shows a domain refusal on the error page, or logs an internal error.
func (s *Server) pageFail(c *gin.Context, err error) {
	if e, ok := describe(err); ok {
		s.renderPage(c, e.status, "error", pageData{Title: "Refused", Error: e.message})
		return
	}
	if clientGone(c, err) {
		c.Status(499)
		return
	}
	s.log.ErrorContext(c.Request.Context(), "admin page failed", "route", c.FullPath(), "err", err)
	s.renderPage(c, http.StatusInternalServerError, "error", pageData{Title: "Error", Error: "internal error; see the server's log"})
}

func csrfOf(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("sxp-clearing-admin-csrf"))
	return hex.EncodeToString(m.Sum(nil))
}

// pageHeaders sets the security headers of every admin page response
// (redirects included): no framing, no sniffing, no referrer outside, no
// caching, and a CSP that allows only inline styles and local images.
func pageHeaders(c *gin.Context) {
	hd := c.Writer.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'")
	c.Next()
}

// pageAuth lets a request through when its cookie holds an open admin
// session (and, for a POST, the form's CSRF token matches); otherwise it
// sends the browser to the log-in page.
func (s *Server) pageAuth(c *gin.Context) {
	token, _ := c.Cookie(adminCookie)                                  // the session id
	actor, ok, err := s.house.AdminSession(c.Request.Context(), token) // "" is not ok
	if err != nil {
		s.pageFail(c, err)
		c.Abort()
		return
	}
	if !ok {
		s.setAdminCookie(c, "", -1)
		c.Redirect(http.StatusSeeOther, "/admin/login?next="+url.QueryEscape(c.Request.URL.RequestURI()))
		c.Abort()
		return
	}
	csrf := csrfOf(token)
	if c.Request.Method == http.MethodPost && !hmac.Equal([]byte(c.PostForm("csrf")), []byte(csrf)) {
		s.renderPage(c, http.StatusForbidden, "error", pageData{Title: "Forbidden", Error: "the form is stale or was not sent from this site; reload the page and try again"})
		c.Abort()
		return
	}
	c.Set(actorKey, actor)
	c.Set(pageCSRFKey, csrf)
	c.Next()
}

func (s *Server) setAdminCookie(c *gin.Context, token string, maxAge int) {
	secure := c.Request.TLS != nil || strings.HasPrefix(s.opts.PublicURL, "https://")
	http.SetCookie(c.Writer, &http.Cookie{Name: adminCookie, Value: token, Path: "/admin", MaxAge: maxAge,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
}

// safeNext keeps a post-login redirect on this site's admin pages.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/admin") && !strings.HasPrefix(next, "/admin/api") && !strings.Contains(next, "//") && !strings.Contains(next, `\`) {
		return next
	}
	return "/admin"
}

// pageLanding is GET /: the address deploy/run prints, for a person who
// opens it in a browser.
func (s *Server) pageLanding(c *gin.Context) {
	s.renderPage(c, http.StatusOK, "landing", pageData{Title: "Clearing house"})
}

func (s *Server) pageLogin(c *gin.Context) {
	s.renderPage(c, http.StatusOK, "login", pageData{Title: "Log in", Body: safeNext(c.Query("next"))})
}

func (s *Server) pageLoginForm(c *gin.Context) {
	token := strings.TrimSpace(c.PostForm("token"))
	next := safeNext(c.PostForm("next"))
	actor, ok, err := s.house.AdminActor(c.Request.Context(), token, s.opts.AdminToken)
	if err != nil {
		s.pageFail(c, err)
		return
	}
	if !ok {
		s.renderPage(c, http.StatusUnauthorized, "login", pageData{Title: "Log in", Error: "unknown or revoked token", Body: next})
		return
	}
	session, err := s.house.OpenAdminSession(c.Request.Context(), actor, sessionHours*time.Hour)
	if err != nil {
		s.pageFail(c, err)
		return
	}
	s.log.InfoContext(c.Request.Context(), "admin logged in to the pages", "actor", actor)
	s.setAdminCookie(c, session, sessionHours*3600)
	c.Redirect(http.StatusSeeOther, next)
}

func (s *Server) pageLogout(c *gin.Context) {
	session, _ := c.Cookie(adminCookie)
	if err := s.house.CloseAdminSession(c.Request.Context(), session); err != nil {
		s.pageFail(c, err)
		return
	}
	s.setAdminCookie(c, "", -1)
	c.Redirect(http.StatusSeeOther, "/admin/login")
}

// communityRow is one community as the pages show it: amounts in base units.
type communityRow struct {
	ID, Name, URI, Status, BlockReason string
	Balance, Min, Max, Spend, Earn     string
	PendingDebits, PendingCredits      string
	Rate, LastHandshake, Integrity     string
	Reported                           string
	Override, Near                     bool
}

func rowOf(c clearing.Community, d int) communityRow {
	f := func(v int64) string { return clearing.FormatAmount(v, d) }
	r := communityRow{ID: c.ID, Name: c.Name, URI: c.URI, Status: c.Status, BlockReason: c.BlockReason,
		Balance: f(c.Balance), Min: f(c.Min), Max: f(c.Max), Spend: f(c.SpendHeadroom()), Earn: f(c.EarnHeadroom()),
		PendingDebits: f(c.PendingDebits), PendingCredits: f(c.PendingCredits),
		Rate: c.Ticks, LastHandshake: "never", Integrity: c.IntegrityState(), Reported: "—", Override: c.LimitsOverride,
		Near: chart.Bar{Balance: c.Balance, Min: c.Min, Max: c.Max}.Near()}
	if c.LastHandshakeAt != nil {
		r.LastHandshake = c.LastHandshakeAt.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	if c.ReportedBalance != nil {
		r.Reported = f(*c.ReportedBalance)
	}
	return r
}

// pageCommunities reads the circle and its communities; when it cannot, it
// has answered c with an error page.
func (s *Server) pageCommunities(c *gin.Context) (clearing.Circle, []clearing.Community, bool) {
	ctx := c.Request.Context()
	circle, err := s.house.Circle(ctx)
	if err != nil {
		s.pageFail(c, err)
		return circle, nil, false
	}
	list, err := s.house.Communities(ctx)
	if err != nil {
		s.pageFail(c, err)
		return circle, nil, false
	}
	return circle, list, true
}

func (s *Server) pageOverview(c *gin.Context) {
	circle, list, ok := s.pageCommunities(c)
	if !ok {
		return
	}
	f := func(v int64) string { return clearing.FormatAmount(v, circle.Divisions) }
	var rows []communityRow
	var bars []chart.Bar
	for _, com := range list {
		rows = append(rows, rowOf(com, circle.Divisions))
		bars = append(bars, chart.Bar{Label: com.ID, Balance: com.Balance, Min: com.Min, Max: com.Max})
	}
	s.renderPage(c, http.StatusOK, "overview", pageData{Title: "Communities", Nav: "overview", Circle: circle,
		Body: struct {
			Communities []communityRow
			Chart       string
		}{rows, chart.Limits(bars, f)}})
}

// tradeBody is the trade page: balances over time and the trade matrix.
type tradeBody struct {
	Days   int
	Chart  string
	Matrix string
	Labels []string
	Cells  [][]string // formatted, rows pay columns
	Totals []communityTotal
}

type communityTotal struct{ ID, Paid, Received string }

func (s *Server) pageTrade(c *gin.Context) {
	ctx := c.Request.Context()
	days := tradeDays
	if v := c.Query("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 3660 {
			s.renderPage(c, http.StatusBadRequest, "error", pageData{Title: "Bad request", Error: "days must be a whole number from 1 to 3660"})
			return
		}
		days = n
	}
	circle, list, ok := s.pageCommunities(c)
	if !ok {
		return
	}
	now := time.Now()
	from := now.Add(-time.Duration(days) * 24 * time.Hour)
	statements := make([]clearing.CommunityStatement, len(list))
	var first time.Time // the earliest line of any statement
	for i, com := range list {
		st, err := s.house.Statement(ctx, com.ID, from, time.Time{})
		if err != nil {
			s.pageFail(c, err)
			return
		}
		statements[i] = st
		if l := statements[i].Lines; len(l) > 0 && (first.IsZero() || l[0].Time.Before(first)) {
			first = l[0].Time
		}
	}
	// A young circle's chart starts a little before its first trade, not
	// at an empty stretch of days.
	start := from
	if !first.IsZero() && first.After(from) {
		start = first.Add(-max(now.Sub(first)/10, time.Second))
	}
	var series []chart.Series
	for i, com := range list {
		pts, err := balancePoints(statements[i], circle.Divisions, start, now, com.Balance)
		if err != nil {
			s.pageFail(c, err)
			return
		}
		series = append(series, chart.Series{Name: com.ID, Points: pts})
	}
	sum, err := s.house.Summarise(ctx, from, time.Time{}, "month")
	if err != nil {
		s.pageFail(c, err)
		return
	}
	m, err := tradeMatrix(list, sum.Matrix, circle.Divisions)
	if err != nil {
		s.pageFail(c, err)
		return
	}
	f := func(v int64) string { return clearing.FormatAmount(v, circle.Divisions) }
	body := tradeBody{Days: days, Chart: chart.TimeSeries(series, f), Matrix: chart.HeatMap(m, f), Labels: m.Labels}
	for i, l := range m.Labels {
		row := make([]string, len(m.Labels))
		var paid, received int64
		for j := range m.Labels {
			row[j] = f(m.Cells[i][j])
			paid += m.Cells[i][j]
			received += m.Cells[j][i]
		}
		body.Cells = append(body.Cells, row)
		body.Totals = append(body.Totals, communityTotal{ID: l, Paid: f(paid), Received: f(received)})
	}
	s.renderPage(c, http.StatusOK, "trade", pageData{Title: "Balance of trade", Nav: "trade", Circle: circle, Body: body})
}

// balancePoints turns a statement into the points of a balance line: the
// opening balance at from, the running balance after each line, and the
// current balance now. Long statements are thinned to maxPoints, always
// keeping the last line.
func balancePoints(st clearing.CommunityStatement, divisions int, from, now time.Time, current int64) ([]chart.Point, error) {
	opening, err := clearing.ParseAmount(st.Opening, divisions)
	if err != nil {
		return nil, err
	}
	pts := []chart.Point{{Time: from, Value: opening}}
	step := max(1, len(st.Lines)/maxPoints)
	for i, l := range st.Lines {
		if i%step != 0 && i != len(st.Lines)-1 {
			continue
		}
		b, err := clearing.ParseAmount(l.Balance, divisions)
		if err != nil {
			return nil, err
		}
		pts = append(pts, chart.Point{Time: l.Time, Value: b})
	}
	return append(pts, chart.Point{Time: now, Value: current}), nil
}

// tradeMatrix lays the summary's payer × payee rows out on every community.
func tradeMatrix(list []clearing.Community, rows []clearing.MatrixRow, divisions int) (chart.Matrix, error) {
	var labels []string
	for _, c := range list {
		labels = append(labels, c.ID)
	}
	sort.Strings(labels)
	at := map[string]int{}
	for i, l := range labels {
		at[l] = i
	}
	cells := make([][]int64, len(labels))
	for i := range cells {
		cells[i] = make([]int64, len(labels))
	}
	for _, r := range rows {
		i, ok1 := at[r.Payer]
		j, ok2 := at[r.Payee]
		if !ok1 || !ok2 {
			continue
		}
		q, err := clearing.ParseAmount(r.Quantity, divisions)
		if err != nil {
			return chart.Matrix{}, err
		}
		cells[i][j] += q
	}
	return chart.Matrix{Labels: labels, Cells: cells}, nil
}

func (s *Server) pageAlerts(c *gin.Context) {
	ctx := c.Request.Context()
	alerts, err := s.house.Monitor(ctx, clearing.MonitorOptions{})
	if err != nil {
		s.pageFail(c, err)
		return
	}
	integrity, err := s.house.Integrity(ctx)
	if err != nil {
		s.pageFail(c, err)
		return
	}
	s.renderPage(c, http.StatusOK, "alerts", pageData{Title: "Alerts", Nav: "alerts", Body: struct {
		Alerts    []clearing.Alert
		Integrity []clearing.IntegrityRow
	}{alerts, integrity}})
}

func (s *Server) pageAudit(c *gin.Context) {
	before, _ := strconv.ParseInt(c.Query("before"), 10, 64)
	entries, err := s.house.Audit(c.Request.Context(), before, 100)
	if err != nil {
		s.pageFail(c, err)
		return
	}
	var next int64
	if len(entries) == 100 {
		next = entries[len(entries)-1].ID
	}
	s.renderPage(c, http.StatusOK, "audit", pageData{Title: "Audit log", Nav: "audit", Body: struct {
		Entries []clearing.AuditEntry
		Next    int64
	}{entries, next}})
}

// notices are the fixed messages a redirect after a change may show.
var notices = map[string]string{
	"blocked":       "The community is blocked: its requests are refused with code 16.",
	"unblocked":     "The community is trading again.",
	"limits":        "The limits are changed.",
	"rate":          "The rate is changed.",
	"rate-approved": "The declared rate is in force.",
}

func (s *Server) pageCommunity(c *gin.Context) {
	circle, com, ok := s.pageCommunityOf(c, c.Param("id"))
	if !ok {
		return
	}
	body, err := s.communityBody(c, circle, com)
	if err != nil {
		s.pageFail(c, err)
		return
	}
	s.renderPage(c, http.StatusOK, "community", pageData{Title: com.Name, Nav: "overview", Circle: circle,
		Notice: notices[c.Query("done")], Body: body})
}

// communityBody is what the community page shows: its numbers, its limits
// chart, its declared rate and its rate history (newest first).
type communityBody struct {
	C        communityRow
	Chart    string
	Declared string
	Rates    []clearing.RateChange
}

func (s *Server) communityBody(c *gin.Context, circle clearing.Circle, com clearing.Community) (communityBody, error) {
	rates, err := s.house.Rates(c.Request.Context(), com.ID)
	if err != nil {
		return communityBody{}, err
	}
	for i, j := 0, len(rates)-1; i < j; i, j = i+1, j-1 {
		rates[i], rates[j] = rates[j], rates[i]
	}
	if len(rates) > 20 {
		rates = rates[:20]
	}
	f := func(v int64) string { return clearing.FormatAmount(v, circle.Divisions) }
	return communityBody{C: rowOf(com, circle.Divisions), Declared: com.DeclaredTicks, Rates: rates,
		Chart: chart.Limits([]chart.Bar{{Label: com.ID, Balance: com.Balance, Min: com.Min, Max: com.Max}}, f)}, nil
}

// confirmBody is the confirmation page of a change: what it does and the
// form fields to send again with confirm=yes.
type confirmBody struct {
	Action   string
	Summary  []string
	Fields   map[string]string
	Cancel   string
	Severity string
}

func (s *Server) pageBlockForm(c *gin.Context) {
	ctx := c.Request.Context()
	id := c.Param("id")
	reason := strings.TrimSpace(c.PostForm("reason"))
	com, err := s.house.Community(ctx, id)
	if err != nil {
		s.pageFail(c, err)
		return
	}
	if reason == "" {
		s.pageFail(c, &clearing.Error{Code: clearing.ErrInvalid, Field: "reason", Message: "a block needs a reason"})
		return
	}
	if c.PostForm("confirm") != "yes" {
		s.renderPage(c, http.StatusOK, "confirm", pageData{Title: "Block " + com.Name + "?", Nav: "overview", Body: confirmBody{
			Action:   c.Request.URL.Path,
			Summary:  []string{"Block " + com.Name + " (" + com.ID + ") from intertrading.", "Its requests will be refused with code 16 and payments to its members refused.", "Reason: " + reason},
			Fields:   map[string]string{"reason": reason},
			Cancel:   "/admin/communities/" + url.PathEscape(id),
			Severity: "danger",
		}})
		return
	}
	_, err = s.house.Block(ctx, c.GetString(actorKey), id, reason)
	s.pageDone(c, id, "blocked", err)
}

// pageDone ends a community's form: the error page for err, else back to
// the community's page saying what was done.
func (s *Server) pageDone(c *gin.Context, id, done string, err error) {
	if err != nil {
		s.pageFail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/communities/"+url.PathEscape(id)+"?done="+done)
}

func (s *Server) pageUnblockForm(c *gin.Context) {
	ctx := c.Request.Context()
	id := c.Param("id")
	com, err := s.house.Community(ctx, id)
	if err != nil {
		s.pageFail(c, err)
		return
	}
	if c.PostForm("confirm") != "yes" {
		s.renderPage(c, http.StatusOK, "confirm", pageData{Title: "Unblock " + com.Name + "?", Nav: "overview", Body: confirmBody{
			Action:  c.Request.URL.Path,
			Summary: []string{"Let " + com.Name + " (" + com.ID + ") trade again.", "It was blocked: " + com.BlockReason},
			Fields:  map[string]string{},
			Cancel:  "/admin/communities/" + url.PathEscape(id),
		}})
		return
	}
	_, err = s.house.Unblock(ctx, c.GetString(actorKey), id)
	s.pageDone(c, id, "unblocked", err)
}

func (s *Server) pageLimitsForm(c *gin.Context) {
	ctx := c.Request.Context()
	id := c.Param("id")
	circle, err := s.house.Circle(ctx)
	if err != nil {
		s.pageFail(c, err)
		return
	}
	com, err := s.house.Community(ctx, id)
	if err != nil {
		s.pageFail(c, err)
		return
	}
	minS, maxS := strings.TrimSpace(c.PostForm("min")), strings.TrimSpace(c.PostForm("max"))
	lo, err := clearing.ParseAmount(minS, circle.Divisions)
	if err != nil || lo > 0 {
		s.pageCommunityError(c, circle, com, "Lower limit must be zero or a negative amount of "+circle.Unit+" ("+places(circle.Divisions)+"), e.g. -1000")
		return
	}
	hi, err := clearing.ParseAmount(maxS, circle.Divisions)
	if err != nil || hi < 0 {
		s.pageCommunityError(c, circle, com, "Upper limit must be zero or a positive amount of "+circle.Unit+" ("+places(circle.Divisions)+"), e.g. 1000")
		return
	}
	f := func(v int64) string { return clearing.FormatAmount(v, circle.Divisions) }
	if c.PostForm("confirm") != "yes" {
		s.renderPage(c, http.StatusOK, "confirm", pageData{Title: "Change the limits of " + com.Name + "?", Nav: "overview", Body: confirmBody{
			Action: c.Request.URL.Path,
			Summary: []string{
				"Lower limit: " + f(com.Min) + " → " + f(lo) + " " + circle.Unit,
				"Upper limit: " + f(com.Max) + " → " + f(hi) + " " + circle.Unit,
				"Current balance: " + f(com.Balance) + " " + circle.Unit,
				"The limit policy will no longer recompute them until the override is cleared.",
			},
			Fields: map[string]string{"min": f(lo), "max": f(hi)},
			Cancel: "/admin/communities/" + url.PathEscape(id),
		}})
		return
	}
	_, err = s.house.SetLimits(ctx, c.GetString(actorKey), id, lo, hi)
	s.pageDone(c, id, "limits", err)
}
