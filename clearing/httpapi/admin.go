package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/clearing"
	"github.com/sxp-network/sxp/clearing/cxp"
)

// The admin API answers JSON; errors are {"error": {"code", "message", "field"}}.
// Amounts are base units as decimal strings.

const actorKey = "sxp.actor"

// admin authenticates a bearer token (SXP_ADMIN_TOKEN or one made by `sxp
// admin token add`) and remembers who it is for the audit log.
func (s *Server) admin(c *gin.Context) {
	h := c.GetHeader("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		c.Header("WWW-Authenticate", `Bearer realm="sxp-clearing-admin"`)
		adminError(c, http.StatusUnauthorized, "unauthorized", "", "send Authorization: Bearer TOKEN")
		c.Abort()
		return
	}
	actor, ok, err := s.house.AdminActor(c.Request.Context(), token, s.opts.AdminToken)
	if err != nil {
		s.log.ErrorContext(c.Request.Context(), "admin auth", "err", err)
		adminError(c, http.StatusInternalServerError, "internal", "", "internal error")
		c.Abort()
		return
	}
	if !ok {
		c.Header("WWW-Authenticate", `Bearer realm="sxp-clearing-admin", error="invalid_token"`)
		adminError(c, http.StatusUnauthorized, "unauthorized", "", "unknown or revoked token")
		c.Abort()
		return
	}
	c.Set(actorKey, actor)
	c.Next()
}

func adminError(c *gin.Context, status int, code, field, msg string) {
	e := gin.H{"code": code, "message": msg}
	if field != "" {
		e["field"] = field
	}
	c.JSON(status, gin.H{"error": e})
}

func (s *Server) fail(c *gin.Context, err error) {
	if e, ok := describe(err); ok {
		adminError(c, e.status, e.code, e.field, e.message)
		return
	}
	if clientGone(c, err) {
		c.Status(499)
		return
	}
	s.log.ErrorContext(c.Request.Context(), "admin request failed", "route", c.FullPath(), "err", err)
	adminError(c, http.StatusInternalServerError, "internal", "", "internal error")
}

// bind decodes a JSON body strictly into v (unknown fields and repeated
// keys refused), of at most MaxBody bytes.
func (s *Server) bind(c *gin.Context, v any) bool { return s.bindLimit(c, v, s.opts.MaxBody) }

// bindLimit is bind with a body of at most limit bytes.
func (s *Server) bindLimit(c *gin.Context, v any, limit int64) bool {
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, limit+1))
	if err != nil {
		adminError(c, http.StatusBadRequest, "invalid", "body", "unreadable body")
		return false
	}
	if int64(len(body)) > limit {
		adminError(c, http.StatusRequestEntityTooLarge, "invalid", "body", fmt.Sprintf("more than %d bytes", limit))
		return false
	}
	if path, dup := cxp.DuplicateKey(body); dup {
		adminError(c, http.StatusBadRequest, "invalid", path, fmt.Sprintf("the key %q appears more than once", path))
		return false
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		adminError(c, http.StatusBadRequest, "invalid", "body", "not the expected JSON object: "+err.Error())
		return false
	}
	if dec.More() {
		adminError(c, http.StatusBadRequest, "invalid", "body", "trailing data after the JSON object")
		return false
	}
	return true
}

func actor(c *gin.Context) string { return c.GetString(actorKey) }

// communityJSON shows a community's amounts as decimals of the base unit.
type communityJSON struct {
	clearing.Community
	Min             string  `json:"min"`
	Max             string  `json:"max"`
	Balance         string  `json:"balance"`
	PendingDebits   string  `json:"pending_debits"`
	PendingCredits  string  `json:"pending_credits"`
	ReportedBalance *string `json:"reported_balance,omitempty"`
	ReportedVolume  *string `json:"reported_volume,omitempty"`
}

func (s *Server) view(c *gin.Context, com clearing.Community) (communityJSON, bool) {
	circle, ok := s.circle(c)
	if !ok {
		return communityJSON{}, false
	}
	return viewOf(com, circle.Divisions), true
}

// circle reads the circle; when it cannot, it has answered c.
func (s *Server) circle(c *gin.Context) (clearing.Circle, bool) {
	circle, err := s.house.Circle(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return clearing.Circle{}, false
	}
	return circle, true
}

// respond answers 200 with v as JSON, or err.
func (s *Server) respond(c *gin.Context, v any, err error) {
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

func viewOf(com clearing.Community, d int) communityJSON {
	f := func(v int64) string { return clearing.FormatAmount(v, d) }
	v := communityJSON{Community: com, Min: f(com.Min), Max: f(com.Max), Balance: f(com.Balance),
		PendingDebits: f(com.PendingDebits), PendingCredits: f(com.PendingCredits)}
	if com.ReportedBalance != nil {
		x := f(*com.ReportedBalance)
		v.ReportedBalance = &x
	}
	if com.ReportedVolume != nil {
		x := f(*com.ReportedVolume)
		v.ReportedVolume = &x
	}
	return v
}

func (s *Server) respondCommunity(c *gin.Context, com clearing.Community, err error) {
	if err != nil {
		s.fail(c, err)
		return
	}
	if v, ok := s.view(c, com); ok {
		c.JSON(http.StatusOK, v)
	}
}

func (s *Server) getCircle(c *gin.Context) {
	circle, err := s.house.Circle(c.Request.Context())
	s.respond(c, circle, err)
}

func (s *Server) putPolicy(c *gin.Context) {
	var p clearing.Policy
	if !s.bind(c, &p) {
		return
	}
	circle, err := s.house.SetPolicy(c.Request.Context(), actor(c), p)
	s.respond(c, circle, err)
}

func (s *Server) listCommunities(c *gin.Context) {
	list, err := s.house.Communities(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	circle, ok := s.circle(c)
	if !ok {
		return
	}
	out := make([]communityJSON, 0, len(list))
	for _, com := range list {
		out = append(out, viewOf(com, circle.Divisions))
	}
	c.JSON(http.StatusOK, gin.H{"communities": out})
}

type addCommunityRequest struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	URI  string `json:"uri"`
	Mail string `json:"mail"`
	Rate string `json:"rate"`
	Min  string `json:"min"`
	Max  string `json:"max"`
}

func (s *Server) addCommunity(c *gin.Context) {
	var r addCommunityRequest
	if !s.bind(c, &r) {
		return
	}
	circle, min, max, ok := s.limits(c, r.Min, r.Max)
	if !ok {
		return
	}
	com, key, err := s.house.AddCommunity(c.Request.Context(), actor(c), clearing.NewCommunity{
		ID: r.ID, Name: r.Name, URI: r.URI, Mail: r.Mail, Ticks: r.Rate, Min: min, Max: max})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"community": viewOf(com, circle.Divisions), "key": key})
}

// limits reads the circle and parses minS and maxS in its base unit; when
// it cannot, it has answered c.
func (s *Server) limits(c *gin.Context, minS, maxS string) (clearing.Circle, int64, int64, bool) {
	circle, ok := s.circle(c)
	if !ok {
		return circle, 0, 0, false
	}
	min, max, ok := parseLimits(c, minS, maxS, circle.Divisions)
	return circle, min, max, ok
}

func parseLimits(c *gin.Context, minS, maxS string, d int) (int64, int64, bool) {
	min, err := clearing.ParseAmount(minS, d)
	if err != nil {
		adminError(c, http.StatusBadRequest, "invalid", "min", err.Error())
		return 0, 0, false
	}
	max, err := clearing.ParseAmount(maxS, d)
	if err != nil {
		adminError(c, http.StatusBadRequest, "invalid", "max", err.Error())
		return 0, 0, false
	}
	return min, max, true
}

func (s *Server) getCommunity(c *gin.Context) {
	com, err := s.house.Community(c.Request.Context(), c.Param("id"))
	s.respondCommunity(c, com, err)
}

func (s *Server) blockCommunity(c *gin.Context) {
	var r struct {
		Reason string `json:"reason"`
	}
	if !s.bind(c, &r) {
		return
	}
	com, err := s.house.Block(c.Request.Context(), actor(c), c.Param("id"), r.Reason)
	s.respondCommunity(c, com, err)
}

func (s *Server) unblockCommunity(c *gin.Context) {
	com, err := s.house.Unblock(c.Request.Context(), actor(c), c.Param("id"))
	s.respondCommunity(c, com, err)
}

func (s *Server) putLimits(c *gin.Context) {
	var r struct {
		Min string `json:"min"`
		Max string `json:"max"`
	}
	if !s.bind(c, &r) {
		return
	}
	_, min, max, ok := s.limits(c, r.Min, r.Max)
	if !ok {
		return
	}
	com, err := s.house.SetLimits(c.Request.Context(), actor(c), c.Param("id"), min, max)
	s.respondCommunity(c, com, err)
}

func (s *Server) deleteLimits(c *gin.Context) {
	com, err := s.house.ClearOverride(c.Request.Context(), actor(c), c.Param("id"))
	s.respondCommunity(c, com, err)
}

func (s *Server) putRate(c *gin.Context) {
	var r struct {
		Ticks string `json:"ticks"`
	}
	if !s.bind(c, &r) {
		return
	}
	com, err := s.house.SetRate(c.Request.Context(), actor(c), c.Param("id"), r.Ticks)
	s.respondCommunity(c, com, err)
}

func (s *Server) approveRate(c *gin.Context) {
	com, err := s.house.ApproveRate(c.Request.Context(), actor(c), c.Param("id"))
	s.respondCommunity(c, com, err)
}

func (s *Server) putFloating(c *gin.Context) {
	var r struct {
		Floating bool `json:"floating"`
	}
	if !s.bind(c, &r) {
		return
	}
	com, err := s.house.SetFloating(c.Request.Context(), actor(c), c.Param("id"), r.Floating)
	s.respondCommunity(c, com, err)
}

func (s *Server) listRates(c *gin.Context) {
	if _, err := s.house.Community(c.Request.Context(), c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	list, err := s.house.Rates(c.Request.Context(), c.Param("id"))
	s.respond(c, gin.H{"rates": list}, err)
}

func (s *Server) listKeys(c *gin.Context) {
	if _, err := s.house.Community(c.Request.Context(), c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	list, err := s.house.Keys(c.Request.Context(), c.Param("id"))
	s.respond(c, gin.H{"keys": list}, err)
}

func (s *Server) rotateKey(c *gin.Context) {
	var r struct {
		Overlap string `json:"overlap"`
	}
	if !s.bind(c, &r) {
		return
	}
	overlap := 24 * time.Hour
	if r.Overlap != "" {
		d, err := time.ParseDuration(r.Overlap)
		if err != nil {
			adminError(c, http.StatusBadRequest, "invalid", "overlap", "not a duration such as 24h")
			return
		}
		overlap = d
	}
	key, err := s.house.RotateKey(c.Request.Context(), actor(c), c.Param("id"), overlap)
	s.respond(c, gin.H{"community": c.Param("id"), "key": key, "overlap": overlap.String()}, err)
}

// timeRange reads ?from=&to= (RFC 3339 or YYYY-MM-DD).
func timeRange(c *gin.Context) (time.Time, time.Time, bool) {
	var out [2]time.Time
	for i, name := range []string{"from", "to"} {
		v := c.Query(name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			t, err = time.Parse("2006-01-02", v)
		}
		if err != nil {
			adminError(c, http.StatusBadRequest, "invalid", name, "want RFC 3339 or YYYY-MM-DD")
			return time.Time{}, time.Time{}, false
		}
		out[i] = t
	}
	return out[0], out[1], true
}

func wantCSV(c *gin.Context) (bool, bool) {
	switch c.DefaultQuery("format", "json") {
	case "json":
		return false, true
	case "csv":
		return true, true
	}
	adminError(c, http.StatusBadRequest, "invalid", "format", "want json or csv")
	return false, false
}

// reportQuery reads a report's ?from=&to=&format=; when they are bad, it has
// answered c.
func reportQuery(c *gin.Context) (from, to time.Time, csv, ok bool) {
	if from, to, ok = timeRange(c); !ok {
		return
	}
	csv, ok = wantCSV(c)
	return
}

// csvBody starts a 200 CSV answer and returns where to write it.
func csvBody(c *gin.Context) io.Writer {
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Status(http.StatusOK)
	return c.Writer
}

func (s *Server) statement(c *gin.Context) {
	from, to, csv, ok := reportQuery(c)
	if !ok {
		return
	}
	st, err := s.house.Statement(c.Request.Context(), c.Param("id"), from, to)
	if err != nil {
		s.fail(c, err)
		return
	}
	if csv {
		st.WriteCSV(csvBody(c))
		return
	}
	c.JSON(http.StatusOK, st)
}

func (s *Server) summary(c *gin.Context) {
	from, to, csv, ok := reportQuery(c)
	if !ok {
		return
	}
	part := c.DefaultQuery("part", "volume")
	if part != "balances" && part != "volume" && part != "matrix" {
		adminError(c, http.StatusBadRequest, "invalid", "part", "want balances, volume or matrix")
		return
	}
	sum, err := s.house.Summarise(c.Request.Context(), from, to, c.Query("period"))
	if err != nil {
		s.fail(c, err)
		return
	}
	if csv {
		sum.WriteCSV(csvBody(c), part)
		return
	}
	c.JSON(http.StatusOK, sum)
}

// paging reads ?before=ID&limit=N (both optional, positive).
func paging(c *gin.Context) (int64, int, bool) {
	var before, limit int64
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"before", &before}, {"limit", &limit}} {
		v := c.Query(p.name)
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			adminError(c, http.StatusBadRequest, "invalid", p.name, "want a positive integer")
			return 0, 0, false
		}
		*p.dst = n
	}
	if limit > 1000 {
		adminError(c, http.StatusBadRequest, "invalid", "limit", "at most 1000")
		return 0, 0, false
	}
	return before, int(limit), true
}

func (s *Server) listIntertrades(c *gin.Context) {
	before, limit, ok := paging(c)
	if !ok {
		return
	}
	list, err := s.house.Intertrades(c.Request.Context(), c.Query("community"), before, limit)
	s.respond(c, gin.H{"intertrades": list}, err)
}

func (s *Server) integrity(c *gin.Context) {
	list, err := s.house.Integrity(c.Request.Context())
	s.respond(c, gin.H{"communities": list}, err)
}

func (s *Server) monitoring(c *gin.Context) {
	var o clearing.MonitorOptions
	if v := c.Query("near_percent"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 || n > 100 {
			adminError(c, http.StatusBadRequest, "invalid", "near_percent", "want 1 to 100")
			return
		}
		o.NearPercent = n
	}
	alerts, err := s.house.Monitor(c.Request.Context(), o)
	s.respond(c, gin.H{"alerts": alerts}, err)
}

func (s *Server) records(c *gin.Context) {
	c.Header("Content-Type", "application/x-ndjson")
	c.Status(http.StatusOK)
	if _, _, err := s.house.ExportRecords(c.Request.Context(), c.Writer); err != nil {
		s.log.ErrorContext(c.Request.Context(), "export records", "err", err)
	}
}

func (s *Server) auditLog(c *gin.Context) {
	before, limit, ok := paging(c)
	if !ok {
		return
	}
	list, err := s.house.Audit(c.Request.Context(), before, limit)
	s.respond(c, gin.H{"entries": list}, err)
}

func (s *Server) runSchedule(c *gin.Context) {
	res, err := s.house.RunSchedule(c.Request.Context())
	s.respond(c, res, err)
}
