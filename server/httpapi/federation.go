package httpapi

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/server/federation"
)

// Federation (sxp-fed/1): GET /.well-known/sxp, the signed server-to-server
// routes under /federation/v1, and the admin's /api/v1/admin/federation.

// Keys of the gin context set by verifyServer.
const (
	ctxPeer      = "sxp.peer"
	ctxDiscovery = "sxp.discovery"
	ctxBody      = "sxp.body"
)

func (h *Handlers) wellKnown(c *gin.Context) {
	if h.Federation == nil {
		h.notFound(c)
		return
	}
	d, err := h.Federation.Discovery(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, d)
}

// verifyServer is the signature check at the edge of /federation/v1: it
// reads the body (at most 1 MiB), verifies the sxp signature and stores the
// verified peer (or, for the peering request, the sender's discovery) for
// the handler. Refusals are 401 and 403 as sxp-fed/1 fixes them.
func (h *Handlers) verifyServer(c *gin.Context) {
	if h.Federation == nil {
		h.notFound(c)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, federation.MaxBatchBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(c, http.StatusRequestEntityTooLarge, "too_large", "the body is larger than 1 MiB", "")
			return
		}
		writeError(c, http.StatusBadRequest, "invalid", "the body could not be read", "")
		return
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	c.Set(ctxBody, body)
	ctx := c.Request.Context()
	if c.Request.Method == http.MethodPost && c.FullPath() == "/federation/v1/peers" {
		d, keys, err := h.Federation.AuthenticatePeering(ctx, c.Request, body)
		if err != nil {
			h.fail(c, err)
			return
		}
		c.Set(ctxDiscovery, peering{d, keys})
		c.Next()
		return
	}
	p, err := h.Federation.Authenticate(ctx, c.Request, body)
	if err != nil {
		h.fail(c, err)
		return
	}
	if ok, wait := h.PeerLimit.Allow(p.BaseURL, time.Now()); !ok {
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		writeError(c, http.StatusTooManyRequests, "too_many_requests",
			"this peer sends more requests than the server takes; retry later", "")
		return
	}
	c.Set(ctxPeer, p)
	c.Next()
}

type peering struct {
	d    federation.Discovery
	keys map[string]ed25519.PublicKey
}

func verifiedPeer(c *gin.Context) federation.Peer {
	v, _ := c.Get(ctxPeer)
	p, _ := v.(federation.Peer)
	return p
}

// decodeFederation decodes the verified body into v: one JSON value; fields
// this server does not know are ignored (peers may be newer).
func decodeFederation(c *gin.Context, v any) bool {
	raw, _ := c.Get(ctxBody)
	body, _ := raw.([]byte)
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		field, msg := jsonProblem(err)
		badRequest(c, field, msg)
		return false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		badRequest(c, "", "the body must be one JSON object")
		return false
	}
	return true
}

// peeringRequest: POST /federation/v1/peers {"base_url"} → 202 {"state":"requested"} or 200 {"state":"active"}.
func (h *Handlers) peeringRequest(c *gin.Context) {
	v, _ := c.Get(ctxDiscovery)
	pr := v.(peering)
	var body struct {
		BaseURL string `json:"base_url"`
	}
	if !decodeFederation(c, &body) {
		return
	}
	if u, err := federation.NormalizeURL(body.BaseURL); err != nil || u != pr.d.BaseURL {
		badRequest(c, "base_url", "base_url must be the sender's base URL, the server its keyid names")
		return
	}
	state, err := h.Federation.Requested(c.Request.Context(), pr.d, pr.keys)
	if err != nil {
		h.fail(c, err)
		return
	}
	status := http.StatusAccepted
	if state == federation.StateActive {
		status = http.StatusOK
	}
	c.JSON(status, gin.H{"state": state})
}

// peeringEnd: DELETE /federation/v1/peers → 200 {"state":"removed"}.
func (h *Handlers) peeringEnd(c *gin.Context) {
	if err := h.Federation.Removed(c.Request.Context(), verifiedPeer(c)); err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"state": "removed"})
}

// inbox: POST /federation/v1/inbox {"events":[…]} → 200 {"applied","ignored"}.
func (h *Handlers) inbox(c *gin.Context) {
	var body struct {
		Events []federation.Event `json:"events"`
	}
	if !decodeFederation(c, &body) {
		return
	}
	if body.Events == nil {
		badRequest(c, "events", "events is required: an array of at most 100 events")
		return
	}
	if len(body.Events) > federation.MaxBatchEvents {
		badRequest(c, "events", "at most 100 events per request")
		return
	}
	applied, ignored, err := h.Federation.Apply(c.Request.Context(), verifiedPeer(c), body.Events)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"applied": applied, "ignored": ignored})
}

// events: GET /federation/v1/events?after=&limit= → {"events":[…],"next":"…"}.
func (h *Handlers) events(c *gin.Context) {
	limit := 100
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > federation.MaxPullLimit {
			badRequest(c, "limit", "limit must be between 1 and 500")
			return
		}
		limit = n
	}
	events, next, err := h.Federation.Events(c.Request.Context(), c.Query("after"), limit)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"events": events, "next": next})
}

// ---- admin API

type peerJSON struct {
	BaseURL        string     `json:"base_url"`
	ID             string     `json:"id"`
	Name           string     `json:"name"`
	Currency       string     `json:"currency"`
	CircleID       *string    `json:"circle_id"`
	State          string     `json:"state"`
	Keys           []string   `json:"keys"`
	LastDeliveryAt *time.Time `json:"last_delivery_at"`
	Backlog        int64      `json:"backlog"`
	Failures       int        `json:"failures"`
	FailingSince   *time.Time `json:"failing_since"`
	PausedUntil    *time.Time `json:"paused_until"`
	LastError      string     `json:"last_error"`
}

func peerOut(p federation.Peer) peerJSON {
	out := peerJSON{BaseURL: p.BaseURL, ID: p.CommunityID, Name: p.Name, Currency: p.Currency, State: p.State,
		Keys: p.Keys, LastDeliveryAt: p.LastDeliveryAt, Backlog: p.Backlog, Failures: p.Failures,
		FailingSince: p.FailingSince, PausedUntil: p.PausedUntil, LastError: p.LastError}
	if p.CircleID != "" {
		out.CircleID = &p.CircleID
	}
	if out.Keys == nil {
		out.Keys = []string{}
	}
	return out
}

type keyJSON struct {
	KeyID     string     `json:"keyid"`
	Alg       string     `json:"alg"`
	PublicKey string     `json:"public_key"`
	CreatedAt time.Time  `json:"created_at"`
	RetiresAt *time.Time `json:"retires_at"`
}

func keysOut(keys []federation.Key) []keyJSON {
	out := []keyJSON{}
	for _, k := range keys {
		out = append(out, keyJSON{KeyID: k.KeyID, Alg: "ed25519", PublicKey: base64.StdEncoding.EncodeToString(k.PublicKey),
			CreatedAt: k.CreatedAt.UTC(), RetiresAt: k.RetiresAt})
	}
	return out
}

// adminFederation: GET /api/v1/admin/federation → {"base_url","keys","peers"}.
func (h *Handlers) adminFederation(c *gin.Context) {
	if h.Federation == nil {
		h.notFound(c)
		return
	}
	ctx := c.Request.Context()
	keys, err := h.Federation.Keys(ctx)
	if err != nil {
		h.fail(c, err)
		return
	}
	peers, err := h.Federation.Peers(ctx)
	if err != nil {
		h.fail(c, err)
		return
	}
	list := []peerJSON{}
	for _, p := range peers {
		list = append(list, peerOut(p))
	}
	c.JSON(http.StatusOK, gin.H{"base_url": h.Federation.BaseURL(), "keys": keysOut(keys), "peers": list})
}

// adminPeerAction: POST /api/v1/admin/federation/peers {"url"} (add or
// approve), …/peers/refuse {"url"}, …/peers/remove {"url"}.
func (h *Handlers) adminPeerAction(action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if h.Federation == nil {
			h.notFound(c)
			return
		}
		var body struct {
			URL string `json:"url"`
		}
		if !bindJSON(c, &body) {
			return
		}
		ctx := c.Request.Context()
		switch action {
		case "add":
			p, err := h.Federation.Add(ctx, body.URL)
			if err != nil {
				h.fail(c, err)
				return
			}
			c.JSON(http.StatusOK, peerOut(p))
		case "refuse":
			p, err := h.Federation.Refuse(ctx, body.URL)
			if err != nil {
				h.fail(c, err)
				return
			}
			c.JSON(http.StatusOK, peerOut(p))
		case "remove":
			told, err := h.Federation.Remove(ctx, body.URL)
			if err != nil {
				h.fail(c, err)
				return
			}
			out := gin.H{"state": "removed", "told": told == nil}
			if told != nil {
				out["warning"] = "removed here, but the peer was not told: " + told.Error()
			}
			c.JSON(http.StatusOK, out)
		}
	}
}

// adminRotateKey: POST /api/v1/admin/federation/keys/rotate {"overlap":"168h"} → the keys.
func (h *Handlers) adminRotateKey(c *gin.Context) {
	if h.Federation == nil {
		h.notFound(c)
		return
	}
	var body struct {
		Overlap string `json:"overlap"`
	}
	if c.Request.ContentLength != 0 && !bindJSON(c, &body) {
		return
	}
	var overlap time.Duration
	if body.Overlap != "" {
		d, err := time.ParseDuration(body.Overlap)
		if err != nil || d <= 0 {
			badRequest(c, "overlap", "overlap must be a positive duration such as 168h")
			return
		}
		overlap = d
	}
	ctx := c.Request.Context()
	if _, err := h.Federation.Rotate(ctx, overlap); err != nil {
		h.fail(c, err)
		return
	}
	keys, err := h.Federation.Keys(ctx)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"keys": keysOut(keys)})
}

// ---- admin page

type federationPageData struct {
	BaseURL string
	Keys    []federation.Key
	Peers   []federation.Peer
}

func (h *Handlers) adminFederationPage(c *gin.Context) {
	h.showFederation(c, h.newPage(c, h.tr(c, "title.federation")), http.StatusOK)
}

func (h *Handlers) showFederation(c *gin.Context, p page, status int) {
	if h.Federation == nil {
		h.pageError(c, http.StatusNotFound, h.tr(c, "error.no_federation"))
		return
	}
	ctx := c.Request.Context()
	d := federationPageData{BaseURL: h.Federation.BaseURL()}
	var err error
	if d.Keys, err = h.Federation.Keys(ctx); err == nil {
		d.Peers, err = h.Federation.Peers(ctx)
	}
	if err != nil {
		h.pageError(c, h.pageRefusal(c, &p, err), p.Error)
		return
	}
	p.Data = d
	h.render(c, status, "admin_federation.html", p)
}

// adminFederationForm: POST /admin/federation/:action (add | approve | refuse | remove | rotate).
func (h *Handlers) adminFederationForm(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "title.federation"))
	if h.Federation == nil {
		h.pageError(c, http.StatusNotFound, h.tr(c, "error.no_federation"))
		return
	}
	ctx := c.Request.Context()
	u := c.PostForm("url")
	var err error
	notice := ""
	switch c.Param("action") {
	case "add", "approve":
		var peer federation.Peer
		peer, err = h.Federation.Add(ctx, u)
		if err == nil {
			notice = h.tr(c, "notice.fed_approved", "URL", peer.BaseURL, "State", peer.State)
		}
	case "refuse":
		_, err = h.Federation.Refuse(ctx, u)
		notice = h.tr(c, "notice.fed_refused", "URL", u)
	case "remove":
		var told error
		told, err = h.Federation.Remove(ctx, u)
		notice = h.tr(c, "notice.fed_removed", "URL", u)
		if told != nil {
			notice += " " + h.tr(c, "notice.fed_not_told", "Error", told.Error())
		}
	case "rotate":
		var k federation.Key
		k, err = h.Federation.Rotate(ctx, 0)
		notice = h.tr(c, "notice.fed_rotated", "Key", k.KeyID)
	default:
		h.pageError(c, http.StatusNotFound, h.tr(c, "error.no_admin_action"))
		return
	}
	status := http.StatusOK
	if err != nil {
		status = h.pageRefusal(c, &p, err)
	} else {
		p.Notice = notice
	}
	h.showFederation(c, p, status)
}
