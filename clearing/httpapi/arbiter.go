package httpapi

// The arbiter T of the contract-signing protocol (design.md, "Deals and
// contracts"): public, unsigned HTTP (its requests carry their own Ed25519
// signatures), bodies bounded by Options.ArbiterMaxBody and each party key's
// requests by Options.ArbiterRate. Errors use the admin API's body
// {"error": {"code", "field", "message"}}: 400 for anything the rules
// refuse, 404 for no decision, 413, 429, 503 without SXP_CLEARING_SECRET.

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/clearing"
)

// arbiterResolve is POST /arbiter/v1/resolve.
func (s *Server) arbiterResolve(c *gin.Context) {
	var req clearing.ResolveRequest
	if !s.bindLimit(c, &req, s.opts.ArbiterMaxBody) {
		return
	}
	ctx := c.Request.Context()
	checked, err := s.house.CheckResolve(ctx, req)
	if err != nil {
		s.fail(c, err)
		return
	}
	if ok, _ := s.arbiterLimit.Allow(checked.PartyKey(), s.opts.Now()); !ok {
		c.Header("Retry-After", "60")
		adminError(c, http.StatusTooManyRequests, "rate_limited", "", "too many requests for this party key; try again later")
		return
	}
	answer, err := s.house.Resolve(ctx, checked)
	s.respond(c, answer, err)
}

// arbiterContract is GET /arbiter/v1/contracts/{hex h}: T's current decision.
func (s *Server) arbiterContract(c *gin.Context) {
	answer, err := s.house.ArbiterDecision(c.Request.Context(), c.Param("h"))
	s.respond(c, answer, err)
}

// arbiterPublicKey is GET /arbiter/v1/key.
func (s *Server) arbiterPublicKey(c *gin.Context) {
	key, err := s.house.ArbiterPublicKey(c.Request.Context())
	s.respond(c, gin.H{"key": key}, err)
}

// adminArbiterCases is GET /admin/api/arbiter/contracts.
func (s *Server) adminArbiterCases(c *gin.Context) {
	cases, err := s.house.ArbiterCases(c.Request.Context(), 0)
	s.respond(c, gin.H{"contracts": cases}, err)
}

// adminArbiterCase is GET /admin/api/arbiter/contracts/{hex h}.
func (s *Server) adminArbiterCase(c *gin.Context) {
	cs, err := s.house.ArbiterCase(c.Request.Context(), c.Param("h"))
	s.respond(c, cs, err)
}

// pageArbiter is the admin page of T's decisions.
func (s *Server) pageArbiter(c *gin.Context) {
	ctx := c.Request.Context()
	cases, err := s.house.ArbiterCases(ctx, 0)
	if err != nil {
		s.pageFail(c, err)
		return
	}
	key, err := s.house.ArbiterPublicKey(ctx)
	if err != nil {
		key = "(none: " + err.Error() + ")"
	}
	s.renderPage(c, http.StatusOK, "arbiter", pageData{Title: "Arbiter", Nav: "arbiter", Body: struct {
		Key   string
		Cases []clearing.ArbiterCase
	}{key, cases}})
}
