// Package httpapi is the HTTP layer of the clearing house: the CXP endpoints
// (signed with RFC 9421 by the member communities), the governing body's
// admin API (bearer tokens) and its HTML pages, in one route table. Handlers bind and check the
// request, call one domain method, and map the result.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/clearing"
	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
	"github.com/sxp-network/sxp/ledger/httpmetrics"
	"github.com/sxp-network/sxp/ledger/ratelimit"
)

// Options configures the HTTP layer.
type Options struct {
	// PublicURL is the circle's base URL as communities call it: the scheme
	// and host of the signed @target-uri. Required: a signature is never
	// checked against the Host header a caller chose (sxp clearing defaults
	// it to http://<listen address>).
	PublicURL string
	// AdminToken is SXP_ADMIN_TOKEN: a bearer token for the admin API (besides
	// tokens made with `sxp admin token add`). Empty disables it.
	AdminToken string
	// Window is how far a signature's created time may be off, and how long
	// nonces are remembered (the circle's signature_window; 300 s by default).
	Window time.Duration
	// MaxBody bounds request bodies (64 KiB by default).
	MaxBody int64
	// CXPRate is how many CXP calls a second each community key may make on
	// average, CXPBurst how many at once (SXP_CXP_RATE, SXP_CXP_BURST); the
	// excess gets 429 with Retry-After. Zero CXPRate: no limit.
	CXPRate  float64
	CXPBurst int
	// ArbiterMaxBody bounds a resolve request to the arbiter (a contract with
	// its evidence; 512 KiB by default).
	ArbiterMaxBody int64
	// ArbiterRate and ArbiterBurst limit the resolve requests of each party
	// key: ArbiterBurst at once, refilled at ArbiterRate a minute (30 and 10
	// by default); more are answered 429.
	ArbiterRate, ArbiterBurst int
	// Ready reports whether the server can serve (database reachable,
	// migrations current); nil means always ready.
	Ready func(ctx context.Context) error
	// Observe, when set, is told of every request (route template, method,
	// status, duration), e.g. for Prometheus.
	Observe func(route, method string, status int, d time.Duration)
	// Metrics, when set, is served at GET /metrics.
	Metrics http.Handler
	// MetricsToken, when set, is the bearer token GET /metrics requires
	// (SXP_METRICS_TOKEN): the metrics show every community's balance.
	MetricsToken string
	Logger       *slog.Logger
	Now          func() time.Time
}

// Server serves the clearing house's HTTP API.
type Server struct {
	house    *clearing.House
	verifier httpsig.Verifier
	limiter  *ratelimit.Limiter
	opts     Options
	log      *slog.Logger

	arbiterLimit *ratelimit.Limiter
	joinSubmit   *ratelimit.Limiter // requests to join, per caller address
	joinPoll     *ratelimit.Limiter // polls, per request
}

// New returns the HTTP layer over house.
func New(house *clearing.House, opts Options) *Server {
	if opts.PublicURL == "" {
		panic("httpapi: Options.PublicURL is required")
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 64 << 10
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Window <= 0 {
		opts.Window = httpsig.DefaultWindow
	}
	if opts.ArbiterMaxBody <= 0 {
		opts.ArbiterMaxBody = 512 << 10
	}
	if opts.ArbiterRate <= 0 {
		opts.ArbiterRate = 30
	}
	if opts.ArbiterBurst <= 0 {
		opts.ArbiterBurst = 10
	}
	return &Server{
		house: house,
		verifier: httpsig.Verifier{Keys: house.KeyStore(), Nonces: house.NonceStore(), Now: opts.Now,
			Window: opts.Window, BaseURL: opts.PublicURL},
		limiter:      ratelimit.New(opts.CXPRate, opts.CXPBurst),
		opts:         opts,
		log:          opts.Logger,
		arbiterLimit: ratelimit.New(float64(opts.ArbiterRate)/60, opts.ArbiterBurst),
		joinSubmit:   ratelimit.New(joinSubmitRate/60.0, joinSubmitBurst),
		joinPoll:     ratelimit.New(1, joinPollBurst),
	}
}

// Handler is the whole API: the one route table of the clearing house.
func (s *Server) Handler() http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.Use(s.logRequests, gin.CustomRecovery(s.recovered), s.limitBody)
	r.NoRoute(func(c *gin.Context) {
		s.writeCXP(c, http.StatusNotFound, cxp.Errorf(cxp.CodeOther, "no route %s %s", c.Request.Method, c.Request.URL.Path).Status())
	})
	r.NoMethod(func(c *gin.Context) {
		c.Status(http.StatusMethodNotAllowed)
		s.writeCXP(c, http.StatusMethodNotAllowed, cxp.Errorf(cxp.CodeOther, "method %s not allowed here", c.Request.Method).Status())
	})

	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	if s.opts.Metrics != nil {
		r.GET("/metrics", gin.WrapH(httpmetrics.Protect(s.opts.Metrics, s.opts.MetricsToken)))
	}

	// CXP Intertrading API 1.0, signed by member communities.
	signed := r.Group("", s.verifySignature) // the caller is verified here, handlers get it
	signed.POST("/server", s.handshake)
	signed.GET("/server/clients", s.clients)
	signed.GET("/transactions", s.prepare)
	signed.PUT("/transactions", s.try)

	// The arbiter T of the contract-signing protocol (requests signed inside their bodies).
	r.POST("/arbiter/v1/resolve", s.arbiterResolve)
	r.GET("/arbiter/v1/contracts/:h", s.arbiterContract)
	r.GET("/arbiter/v1/key", s.arbiterPublicKey)

	// Joining the circle (join.go): requests signed by the asking community's own key.
	r.POST("/join/v1/requests", s.joinRequest)        // cxp.JoinRequest → 202 (new) | 200 (repeat) cxp.JoinStatus
	r.GET("/join/v1/requests/:request", s.joinStatus) // → cxp.JoinStatus, credentials sealed once approved

	// Governing body, bearer token.
	a := r.Group("/admin/api", s.admin)
	a.GET("/circle", s.getCircle)
	a.PUT("/circle/policy", s.putPolicy)
	a.GET("/communities", s.listCommunities)
	a.POST("/communities", s.addCommunity)
	a.GET("/communities/:id", s.getCommunity)
	a.POST("/communities/:id/block", s.blockCommunity)
	a.POST("/communities/:id/unblock", s.unblockCommunity)
	a.PUT("/communities/:id/limits", s.putLimits)
	a.DELETE("/communities/:id/limits", s.deleteLimits)
	a.PUT("/communities/:id/rate", s.putRate)
	a.POST("/communities/:id/rate/approve", s.approveRate)
	a.PUT("/communities/:id/floating", s.putFloating)
	a.GET("/communities/:id/rates", s.listRates)
	a.GET("/communities/:id/keys", s.listKeys)
	a.POST("/communities/:id/keys", s.rotateKey)
	a.GET("/communities/:id/statement", s.statement)
	a.GET("/intertrades", s.listIntertrades)
	a.GET("/integrity", s.integrity)
	a.GET("/monitoring", s.monitoring)
	a.GET("/reports/summary", s.summary)
	a.GET("/records", s.records)
	a.GET("/audit", s.auditLog)
	a.GET("/arbiter/contracts", s.adminArbiterCases)
	a.GET("/arbiter/contracts/:h", s.adminArbiterCase)
	a.POST("/schedule/run", s.runSchedule)
	a.GET("/joins", s.adminJoins)                    // requests to join (join.go)
	a.POST("/joins/:id/approve", s.adminApproveJoin) // {"rate","min","max"}: add it, seal its key to it
	a.POST("/joins/:id/refuse", s.adminRefuseJoin)   // {"reason"}

	// Governing body, HTML pages (session cookie holding an admin token, CSRF on forms).
	r.GET("/", pageHeaders, s.pageLanding)
	r.GET("/admin/login", pageHeaders, s.pageLogin)
	r.POST("/admin/login", pageHeaders, s.pageLoginForm)
	p := r.Group("/admin", pageHeaders, s.pageAuth)
	p.GET("", s.pageOverview)
	p.POST("/logout", s.pageLogout)
	p.GET("/trade", s.pageTrade)
	p.GET("/alerts", s.pageAlerts)
	p.GET("/audit", s.pageAudit)
	p.GET("/arbiter", s.pageArbiter)
	p.GET("/communities/new", s.pageNewCommunity)      // add a community (communitypages.go)
	p.POST("/communities/new", s.pageNewCommunityForm) // {id, name, uri, rate, min, max, mail}: confirm, add, show its key once
	p.GET("/communities/:id", s.pageCommunity)
	p.POST("/communities/:id/block", s.pageBlockForm)
	p.POST("/communities/:id/unblock", s.pageUnblockForm)
	p.POST("/communities/:id/limits", s.pageLimitsForm)
	p.POST("/communities/:id/rate", s.pageRateForm)                // {rate}: fix it
	p.POST("/communities/:id/rate/approve", s.pageApproveRateForm) // put the declared rate in force
	p.GET("/joins", s.pageJoins)                                   // requests to join (joinpages.go)
	p.POST("/joins/:id/approve", s.pageApproveJoinForm)            // {rate, min, max}: add it, seal its key to it
	p.POST("/joins/:id/refuse", s.pageRefuseJoinForm)              // {reason}
	return r
}

const communityKey = "sxp.community"

// limitBody bounds every request body to MaxBody (the arbiter's to
// ArbiterMaxBody), whatever the route: a
// declared length above it is refused with 413 before any handler runs, an
// undeclared (chunked) body stops being read one byte past it, which the
// handlers' own reads (cxp.ReadBody, bind, forms) then refuse.
func (s *Server) limitBody(c *gin.Context) {
	limit, path := s.opts.MaxBody, c.Request.URL.Path
	if strings.HasPrefix(path, "/arbiter/") {
		limit = s.opts.ArbiterMaxBody // a contract with its evidence
	}
	if strings.HasPrefix(path, "/join/") {
		limit = min(limit, joinMaxBody)
	}
	if c.Request.ContentLength > limit {
		msg := "more than " + strconv.FormatInt(limit, 10) + " bytes"
		if strings.HasPrefix(path, "/admin/") || strings.HasPrefix(path, "/arbiter/") || strings.HasPrefix(path, "/join/") {
			adminError(c, http.StatusRequestEntityTooLarge, "invalid", "body", msg) // the admin API's and pages' shape
		} else {
			s.writeCXP(c, http.StatusRequestEntityTooLarge, cxp.InvalidField("body", msg).Status())
		}
		c.Abort()
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit+1)
	c.Next()
}

// logRequests logs each request once: route template, status, duration and
// the community that signed it.
func (s *Server) logRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	if s.opts.Observe != nil {
		s.opts.Observe(route, c.Request.Method, c.Writer.Status(), time.Since(start))
	}
	level := slog.LevelInfo
	if c.Writer.Status() >= 500 {
		level = slog.LevelWarn
	}
	s.log.LogAttrs(c.Request.Context(), level, "request",
		slog.String("method", c.Request.Method), slog.String("route", route),
		slog.Int("status", c.Writer.Status()), slog.Duration("duration", time.Since(start)),
		slog.String("community", c.GetString(communityKey)), slog.Int("cxp_code", c.GetInt("sxp.code")))
}

func (s *Server) recovered(c *gin.Context, v any) {
	s.log.ErrorContext(c.Request.Context(), "panic in handler", "panic", v, "route", c.FullPath())
	s.cxpError(c, cxp.Errorf(cxp.CodeOther, "internal error"))
}

func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	err := s.house.Ping(ctx)
	if err == nil && s.opts.Ready != nil {
		err = s.opts.Ready(ctx)
	}
	if err != nil {
		// The cause names the database's user, host and port: log only.
		s.log.WarnContext(ctx, "not ready", "err", err)
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable",
			"reason": "the database is unreachable or its schema is not current; see the server's log"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

// clientGone says whether the caller went away (not a server error).
func clientGone(c *gin.Context, err error) bool {
	return errors.Is(err, context.Canceled) && c.Request.Context().Err() != nil
}
