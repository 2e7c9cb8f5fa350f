package httpapi

// Joining the circle (clearing/cxp/join.go has the protocol): a community's
// signed request to join and its signed polls for the answer. The signature
// is checked here, against the key the request carries (a submission) or the
// key stored with it (a poll); the domain gets checked, verified requests.
// Answers use the admin API's error shape ({"error": {"code", "message"}}).

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/clearing"
	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
	"github.com/sxp-network/sxp/ledger/ratelimit"
)

// joinMaxBody bounds a join request's body: a few short fields and two keys.
const joinMaxBody = 16 << 10

// Each address may submit joinSubmitBurst requests to join at once, refilled
// at joinSubmitRate a minute; each request may be polled joinPollBurst times
// at once, refilled at one a second. More are answered 429.
const (
	joinSubmitRate  = 20
	joinSubmitBurst = 20
	joinPollBurst   = 10
)

// joinRequest is POST /join/v1/requests: a community asks to join. 202 with
// the new request's status, 200 with the same one for a repeat.
func (s *Server) joinRequest(c *gin.Context) {
	if !s.allowJoin(c, s.joinSubmit, "addr:"+remoteHost(c.Request)) {
		return
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil || len(body) > joinMaxBody {
		adminError(c, http.StatusRequestEntityTooLarge, "invalid", "body", "a request to join is at most "+strconv.Itoa(joinMaxBody)+" bytes")
		return
	}
	var in cxp.JoinRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || dec.More() {
		adminError(c, http.StatusBadRequest, "invalid", "body", "the body must be one JSON object with the fields of a request to join")
		return
	}
	r, err := clearing.CheckJoinRequest(in)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !s.verifyJoin(c, body, r.KeyID, r.PublicKey) {
		return
	}
	out, created, err := s.house.RequestJoin(c.Request.Context(), r)
	if err != nil {
		s.fail(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusAccepted
		s.log.InfoContext(c.Request.Context(), "request to join", "community", r.CommunityID, "base_url", r.BaseURL, "request", out.ID)
	}
	c.JSON(status, out.Status())
}

// joinStatus is GET /join/v1/requests/:request: the request's state and,
// once approved, the sealed credentials; only for a poll signed by the key
// the request was made with.
func (s *Server) joinStatus(c *gin.Context) {
	id, err := strconv.ParseInt(c.Param("request"), 10, 64)
	if err != nil || id <= 0 {
		adminError(c, http.StatusNotFound, "not_found", "", "no such request to join")
		return
	}
	if !s.allowJoin(c, s.joinPoll, "request:"+strconv.FormatInt(id, 10)) {
		return
	}
	r, err := s.house.JoinRequestByID(c.Request.Context(), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !s.verifyJoin(c, nil, r.KeyID, r.PublicKey) {
		return
	}
	c.JSON(http.StatusOK, r.Status())
}

// verifyJoin checks the request's RFC 9421 signature (label sxp, ed25519)
// by keyID with pub; when it fails it answers 401 and returns false.
func (s *Server) verifyJoin(c *gin.Context, body []byte, keyID string, pub ed25519.PublicKey) bool {
	v := httpsig.Verifier{PublicKeys: httpsig.StaticPublicKeys{keyID: pub}, Nonces: s.house.NonceStore(),
		Label: cxp.JoinLabel, Now: s.opts.Now, Window: s.opts.Window, BaseURL: s.opts.PublicURL}
	_, err := v.Verify(c.Request.Context(), c.Request, body)
	if err == nil {
		return true
	}
	var se *httpsig.Error
	if !errors.As(err, &se) {
		s.fail(c, err) // the nonce store failed: ours, not the caller's
		return false
	}
	c.Header("WWW-Authenticate", `Signature realm="sxp-join"`)
	adminError(c, http.StatusUnauthorized, "unauthorized", "signature",
		"the request must be signed (RFC 9421, label sxp, ed25519) by the key it names: "+se.Error())
	return false
}

func (s *Server) allowJoin(c *gin.Context, l *ratelimit.Limiter, key string) bool {
	ok, wait := l.Allow(key, s.opts.Now())
	if ok {
		return true
	}
	c.Header("Retry-After", strconv.Itoa(max(1, int(wait.Seconds()+0.999))))
	adminError(c, http.StatusTooManyRequests, "rate_limited", "", "too many requests; try again later")
	return false
}

// remoteHost is the caller's address without its port (never a header the
// caller chose).
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// joinJSON is a request to join as the admin API shows it.
type joinJSON struct {
	clearing.JoinRequest
	Fingerprint string `json:"key_fingerprint"`
}

// adminJoins is GET /admin/api/joins: the waiting requests, oldest first,
// and the 50 latest decided ones, newest first.
func (s *Server) adminJoins(c *gin.Context) {
	pending, decided, err := s.house.JoinRequests(c.Request.Context(), 50)
	if err != nil {
		s.fail(c, err)
		return
	}
	view := func(list []clearing.JoinRequest) []joinJSON {
		out := make([]joinJSON, 0, len(list))
		for _, r := range list {
			out = append(out, joinJSON{r, r.Fingerprint()})
		}
		return out
	}
	c.JSON(http.StatusOK, gin.H{"pending": view(pending), "decided": view(decided)})
}

// adminApproveJoin is POST /admin/api/joins/:id/approve {"rate", "min", "max"}:
// the community is added and its key sealed to it (never shown).
func (s *Server) adminApproveJoin(c *gin.Context) {
	id, ok := joinID(c)
	if !ok {
		return
	}
	var r struct {
		Rate string `json:"rate"`
		Min  string `json:"min"`
		Max  string `json:"max"`
	}
	if !s.bind(c, &r) {
		return
	}
	_, min, max, ok := s.limits(c, r.Min, r.Max)
	if !ok {
		return
	}
	out, err := s.house.ApproveJoin(c.Request.Context(), actor(c), id, clearing.JoinApproval{Ticks: r.Rate, Min: min, Max: max,
		CircleURL: s.opts.PublicURL})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, joinJSON{out, out.Fingerprint()})
}

// adminRefuseJoin is POST /admin/api/joins/:id/refuse {"reason"}.
func (s *Server) adminRefuseJoin(c *gin.Context) {
	id, ok := joinID(c)
	if !ok {
		return
	}
	var r struct {
		Reason string `json:"reason"`
	}
	if !s.bind(c, &r) {
		return
	}
	out, err := s.house.RefuseJoin(c.Request.Context(), actor(c), id, r.Reason)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, joinJSON{out, out.Fingerprint()})
}

func joinID(c *gin.Context) (int64, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		adminError(c, http.StatusNotFound, "not_found", "", "no such request to join")
		return 0, false
	}
	return id, true
}
