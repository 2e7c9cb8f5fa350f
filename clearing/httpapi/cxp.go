package httpapi

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/clearing"
	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
)

// callerKey and bodyKey hold, in the gin context of a CXP call, the verified
// signer (httpsig.Verified) and the exact body that was signed.
const (
	callerKey = "sxp.cxp.caller"
	bodyKey   = "sxp.cxp.body"
)

// verifySignature is the middleware of every CXP call: it reads the body
// (bounded), verifies the RFC 9421 signature against the community's keys
// and the nonce store, throttles the community, refuses a blocked one (16),
// and hands the handler the verified caller and the signed body (signedCall).
func (s *Server) verifySignature(c *gin.Context) {
	body, berr := cxp.ReadBody(c.Request, s.opts.MaxBody)
	if berr != nil {
		if berr.Args["value"] != "unreadable" {
			s.writeCXP(c, http.StatusRequestEntityTooLarge, berr.Status())
		} else {
			s.cxpError(c, berr)
		}
		c.Abort()
		return
	}
	who, err := s.verifier.Verify(c.Request.Context(), c.Request, body)
	if err != nil {
		s.domainError(c, err)
		c.Abort()
		return
	}
	if ok, wait := s.limiter.Allow(who.KeyID, s.opts.Now()); !ok {
		c.Set(communityKey, who.KeyID)
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		s.writeCXP(c, http.StatusTooManyRequests, cxp.Errorf(cxp.CodeOther, "too many requests from community %s; try again later", who.KeyID).Status())
		c.Abort()
		return
	}
	if err := s.house.CheckCaller(c.Request.Context(), who.KeyID, c.FullPath()); err != nil {
		s.domainError(c, err)
		c.Abort()
		return
	}
	c.Set(communityKey, who.KeyID)
	c.Set(callerKey, who)
	c.Set(bodyKey, body)
	c.Next()
}

// signedCall is the verified caller and the signed body of a CXP call (set by
// verifySignature, which every CXP route runs first).
func signedCall(c *gin.Context) (httpsig.Verified, []byte) {
	who, _ := c.MustGet(callerKey).(httpsig.Verified)
	body, _ := c.Get(bodyKey)
	b, _ := body.([]byte)
	return who, b
}

func (s *Server) writeCXP(c *gin.Context, status int, v any) {
	c.Set("sxp.code", int(codeOfAnswer(v)))
	cxp.WriteJSON(c.Writer, status, v)
}

func codeOfAnswer(v any) cxp.Code {
	if st, ok := v.(cxp.Status); ok {
		return st.Code
	}
	return cxp.OK
}

func (s *Server) cxpError(c *gin.Context, e *cxp.Error) {
	if e.Code != cxp.OK {
		if id := c.GetString(communityKey); id != "" {
			s.house.RecordReject(c.Request.Context(), id, e.Code, c.FullPath())
		}
	}
	s.writeCXP(c, e.HTTPStatus(), e.Status())
}

// domainError answers an error of a CXP call: refusals with their code,
// anything else as code 27 (logged here, never sent).
func (s *Server) domainError(c *gin.Context, err error) {
	if e, ok := cxp.SignatureError(err); ok { // a refusal: a *cxp.Error or a signature's
		s.cxpError(c, e)
		return
	}
	if e, ok := describe(err); ok && e.cxp != cxp.OK {
		s.cxpError(c, cxp.Errorf(e.cxp, "%s", e.message))
		return
	}
	if clientGone(c, err) {
		c.Status(499)
		return
	}
	s.log.ErrorContext(c.Request.Context(), "cxp request failed", "route", c.FullPath(), "err", err)
	s.cxpError(c, cxp.Errorf(cxp.CodeOther, "internal error"))
}

// POST /server
func (s *Server) handshake(c *gin.Context) {
	who, body := signedCall(c)
	var req cxp.HandshakeRequest
	if e := cxp.Decode(body, &req); e != nil {
		s.cxpError(c, e)
		return
	}
	resp, err := s.house.Handshake(c.Request.Context(), who.KeyID, who.KeyIndex, req)
	if err != nil {
		s.domainError(c, err)
		return
	}
	s.writeCXP(c, http.StatusOK, resp)
}

// GET /server/clients
func (s *Server) clients(c *gin.Context) {
	who, body := signedCall(c)
	if len(bytes.TrimSpace(body)) > 0 {
		s.cxpError(c, cxp.InvalidField("body", "GET /server/clients takes no body"))
		return
	}
	if len(c.Request.URL.Query()) > 0 {
		for k := range c.Request.URL.Query() {
			s.cxpError(c, cxp.InvalidField(k, c.Query(k)))
			return
		}
	}
	if err := s.notBlocked(c, who.KeyID); err != nil {
		s.domainError(c, err)
		return
	}
	resp, err := s.house.Clients(c.Request.Context(), who.KeyID)
	if err != nil {
		s.domainError(c, err)
		return
	}
	s.writeCXP(c, http.StatusOK, resp)
}

func (s *Server) notBlocked(c *gin.Context, id string) error {
	com, err := s.house.Community(c.Request.Context(), id)
	if err != nil {
		return cxp.NewError(cxp.CodeNotPermitted, map[string]string{"keyid": id})
	}
	if com.Status != clearing.StatusTrading {
		return cxp.NewError(cxp.CodeNotPermitted, map[string]string{"keyid": id, "reason": com.BlockReason})
	}
	return nil
}

// GET /transactions: the prepare form, from the query parameters or a JSON body.
func (s *Server) prepare(c *gin.Context) {
	who, body := signedCall(c)
	var req cxp.PrepareRequest
	if len(bytes.TrimSpace(body)) > 0 {
		if len(c.Request.URL.Query()) > 0 {
			s.cxpError(c, cxp.InvalidField("body", "send the prepare fields as query parameters or as a body, not both"))
			return
		}
		if e := cxp.Decode(body, &req); e != nil {
			s.cxpError(c, e)
			return
		}
	} else {
		r, e := cxp.PrepareRequestFromQuery(c.Request.URL.Query())
		if e != nil {
			s.cxpError(c, e)
			return
		}
		req = r
	}
	resp, err := s.house.Prepare(c.Request.Context(), who.KeyID, req)
	if err != nil {
		s.domainError(c, err)
		return
	}
	s.writeCXP(c, http.StatusOK, resp)
}

// PUT /transactions: try (really=false validates, really=true writes and relays).
func (s *Server) try(c *gin.Context) {
	who, body := signedCall(c)
	var req cxp.TransactionRequest
	if e := cxp.Decode(body, &req); e != nil {
		s.cxpError(c, e)
		return
	}
	var probe struct {
		Really json.RawMessage `json:"really"`
	}
	if json.Unmarshal(body, &probe) != nil || probe.Really == nil || string(probe.Really) == "null" {
		s.cxpError(c, cxp.MissingField("really"))
		return
	}
	resp, err := s.house.Try(c.Request.Context(), who.KeyID, req)
	if err != nil {
		s.domainError(c, err)
		return
	}
	s.writeCXP(c, http.StatusOK, resp)
}
