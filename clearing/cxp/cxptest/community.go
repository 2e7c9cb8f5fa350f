// Package cxptest holds the fakes that tests of both servers talk CXP to:
// Community, the relay endpoint of a community server (for tests of the
// clearing house), and Circle, a clearing house (for tests of a community
// server). Both speak the real protocol: they verify every request with
// httpsig.Verifier (RFC 9421 signatures, Content-Digest, nonces) and answer
// with the wire types of package cxp.
//
// Like everything under clearing/cxp it imports no server: both servers'
// tests may import it.
package cxptest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
)

// Community stands in for a community server: its PUT /transactions
// verifies relays signed by the circle (keyid the circle's id) with the
// community's key, records them and answers as SetAnswer or Refuse says
// (by default it accepts).
type Community struct {
	// URL is the community's base URL (its CXP uri).
	URL string

	circleID string
	srv      *httptest.Server
	nonces   httpsig.MemoryNonces

	mu        sync.Mutex
	key       string
	verifyKey string
	relays    []cxp.TransactionRequest
	answer    func(cxp.TransactionRequest) (int, any)
}

// NewCommunity starts a community whose relays come from circle circleID;
// it stops when the test ends. Give it its key with SetKey.
func NewCommunity(t testing.TB, circleID string) *Community {
	c := &Community{circleID: circleID}
	c.srv = httptest.NewServer(c)
	c.URL = c.srv.URL
	t.Cleanup(c.srv.Close)
	return c
}

// Close stops the community's server (a community that went away).
func (c *Community) Close() { c.srv.Close() }

// SetKey sets the key the circle issued to the community.
func (c *Community) SetKey(key string) {
	c.mu.Lock()
	c.key = key
	c.mu.Unlock()
}

// Key is the key the circle issued to the community.
func (c *Community) Key() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.key
}

// SetVerifyKey makes the community verify relays with key instead of its
// own (a community that believes in a wrong key); "" undoes it.
func (c *Community) SetVerifyKey(key string) {
	c.mu.Lock()
	c.verifyKey = key
	c.mu.Unlock()
}

// SetAnswer makes the community answer each verified relay with the HTTP
// status and JSON body f returns; nil: accept.
func (c *Community) SetAnswer(f func(cxp.TransactionRequest) (int, any)) {
	c.mu.Lock()
	c.answer = f
	c.mu.Unlock()
}

// Refuse makes the community refuse each verified relay with e; nil: accept.
func (c *Community) Refuse(e *cxp.Error) {
	if e == nil {
		c.SetAnswer(nil)
		return
	}
	c.SetAnswer(func(cxp.TransactionRequest) (int, any) { return e.HTTPStatus(), e.Status() })
}

// Relays are the verified relays received, in order.
func (c *Community) Relays() []cxp.TransactionRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]cxp.TransactionRequest(nil), c.relays...)
}

// Count is the number of verified relays received.
func (c *Community) Count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.relays)
}

// VerifyKeys implements httpsig.KeyStore: the circle's relays verify with the
// community's key.
func (c *Community) VerifyKeys(ctx context.Context, keyID string) ([][]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if keyID != c.circleID {
		return nil, cxp.NewError(cxp.CodeNotPermitted, nil)
	}
	key := c.key
	if c.verifyKey != "" {
		key = c.verifyKey
	}
	return [][]byte{[]byte(key)}, nil
}

func (c *Community) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPut || r.URL.Path != "/transactions" {
		cxp.WriteError(w, cxp.Errorf(cxp.CodeOther, "no route"))
		return
	}
	if _, err := (httpsig.Verifier{Keys: c, Nonces: &c.nonces}).Verify(r.Context(), r, body); err != nil {
		e, ok := cxp.SignatureError(err)
		if !ok {
			e = cxp.NewError(cxp.CodeWrongKey, nil)
		}
		cxp.WriteError(w, e)
		return
	}
	var req cxp.TransactionRequest
	if e := cxp.Decode(body, &req); e != nil {
		cxp.WriteError(w, e)
		return
	}
	c.mu.Lock()
	c.relays = append(c.relays, req)
	answer := c.answer
	c.mu.Unlock()
	if answer == nil {
		cxp.WriteJSON(w, http.StatusOK, cxp.TransactionResponse{Status: cxp.StatusOK("accepted"), TempID: req.TempID})
		return
	}
	status, resp := answer(req)
	cxp.WriteJSON(w, status, resp)
}
