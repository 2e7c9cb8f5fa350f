package httpapi

// The arbiter T of the contract-signing protocol (design.md, "Deals and
// contracts"): public, unsigned HTTP (its requests carry their own Ed25519
// signatures), bodies bounded by Options.ArbiterMaxBody and each party key's
// requests by Options.ArbiterRate. Errors use the admin API's body
// {"error": {"code", "field", "message"}}: 400 for anything the rules
// refuse, 404 for no decision, 413, 429, 503 without SXP_CLEARING_SECRET.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

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
	if !s.arbiterLimit.allow(checked.PartyKey(), s.opts.Now()) {
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

// bindLimit decodes a JSON body of at most limit bytes strictly into v.
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
	dec := json.NewDecoder(bytes.NewReader(body))
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

// rateLimit is a token bucket per key: burst requests at once, refilled at
// perMinute a minute. Buckets that are full again are forgotten when the
// map grows.
type rateLimit struct {
	perMinute float64
	burst     float64
	mu        sync.Mutex
	buckets   map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

const maxBuckets = 10000

func newRateLimit(perMinute, burst int) *rateLimit {
	return &rateLimit{perMinute: float64(perMinute), burst: float64(burst), buckets: map[string]*bucket{}}
}

func (l *rateLimit) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.at).Minutes()*l.perMinute)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (l *rateLimit) prune(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Minutes()*l.perMinute >= l.burst {
			delete(l.buckets, k)
		}
	}
}
