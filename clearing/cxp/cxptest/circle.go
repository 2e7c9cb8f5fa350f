package cxptest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
)

// Circle stands in for a clearing house: it serves the CXP routes (POST
// /server, GET /server/clients, GET and PUT /transactions), verifies every
// request's signature with the communities' keys, records what it got and
// answers as its fields say. Read and change the fields inside Set.
type Circle struct {
	// URL is the circle's base URL.
	URL string

	srv *httptest.Server
	ver httpsig.Verifier

	mu          sync.Mutex
	Ticks       cxp.Decimal // the caller's rate in force, answered by the handshake
	Div         int         // the base unit's decimal places
	Balance     int64       // the caller's virtual customer, base minor units
	Limit       int64       // its limits are ±Limit whole base units
	SpendLimit  cxp.Decimal // answered by prepare
	RefuseTry   cxp.Code    // answer to really=false (0: accept)
	RefuseWrite cxp.Code    // answer to really=true (0: write)
	Delay       time.Duration
	Garbage     bool // answer really=true with a proxy's HTML error page
	// BlockReason, when set, refuses handshakes with code 16 and this
	// reason, as the clearing house refuses a blocked community.
	BlockReason string
	// PayeeTicks is the payee's rate in a written transaction's answer.
	PayeeTicks cxp.Decimal
	// Exchanges are the circle's communities (GET /server/clients).
	Exchanges  []cxp.Exchange
	Written    map[string]cxp.TransactionResponse // by temp_id
	Writes     int                                // really=true transactions written
	Tries      []cxp.TransactionRequest
	Prepares   []cxp.PrepareRequest
	Handshakes []cxp.HandshakeRequest
}

// NewCircle starts a circle whose communities sign with keys (community id
// → key) and that lists exchanges; it stops when the test ends. It answers
// rate 1, 2 decimal places, limits ±500.00, spend limit 1000.00.
func NewCircle(t testing.TB, keys map[string]string, exchanges ...cxp.Exchange) *Circle {
	sk := httpsig.StaticKeys{}
	for id, k := range keys {
		sk[id] = [][]byte{[]byte(k)}
	}
	c := &Circle{
		Ticks: "1", Div: 2, Limit: 500, SpendLimit: "1000.00", PayeeTicks: "1",
		Exchanges: exchanges, Written: map[string]cxp.TransactionResponse{},
		ver: httpsig.Verifier{Keys: sk, Nonces: &httpsig.MemoryNonces{}},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /server", c.handshake)
	mux.HandleFunc("GET /server/clients", c.clients)
	mux.HandleFunc("GET /transactions", c.prepare)
	mux.HandleFunc("PUT /transactions", c.try)
	c.srv = httptest.NewServer(mux)
	c.URL = c.srv.URL
	t.Cleanup(c.srv.Close)
	return c
}

// Close stops the circle's server (a circle that is down); it waits for
// the requests in progress.
func (c *Circle) Close() { c.srv.Close() }

// Restart serves the circle again on its address, with its state, until
// the test ends.
func (c *Circle) Restart(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", strings.TrimPrefix(c.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	back := &httptest.Server{Listener: ln, Config: &http.Server{Handler: c.srv.Config.Handler}}
	back.Start()
	t.Cleanup(back.Close)
}

// Set runs fn with the circle locked: read or change its fields there.
func (c *Circle) Set(fn func(c *Circle)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fn(c)
}

// Snapshot is the caller's balance, the transactions written and the tries.
func (c *Circle) Snapshot() (balance int64, writes, tries int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Balance, c.Writes, len(c.Tries)
}

func (c *Circle) verify(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, e := cxp.ReadBody(r, 1<<16)
	if e != nil {
		cxp.WriteError(w, e)
		return nil, false
	}
	if _, err := c.ver.Verify(r.Context(), r, body); err != nil {
		e, ok := cxp.SignatureError(err)
		if !ok {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return nil, false
		}
		cxp.WriteError(w, e)
		return nil, false
	}
	return body, true
}

func (c *Circle) handshake(w http.ResponseWriter, r *http.Request) {
	body, ok := c.verify(w, r)
	if !ok {
		return
	}
	var req cxp.HandshakeRequest
	if e := cxp.Decode(body, &req); e != nil {
		cxp.WriteError(w, e)
		return
	}
	if e := req.Validate(); e != nil {
		cxp.WriteError(w, e)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.BlockReason != "" {
		cxp.WriteError(w, cxp.NewError(cxp.CodeNotPermitted, map[string]string{"reason": c.BlockReason}))
		return
	}
	c.Handshakes = append(c.Handshakes, req)
	cxp.WriteJSON(w, 200, cxp.HandshakeResponse{
		Status: cxp.StatusOK(""), AccountStatus: cxp.AccountTrading,
		Balance: cxp.FromMinor(c.Balance, c.Div), Min: cxp.FromMinor(-c.Limit*pow10(c.Div), c.Div), Max: cxp.FromMinor(c.Limit*pow10(c.Div), c.Div),
		Count: int64(c.Writes), Keymatch: true, Ticks: c.Ticks,
	})
}

func (c *Circle) clients(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.verify(w, r); !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	clients := map[string]string{}
	for _, x := range c.Exchanges {
		clients[x.URI] = x.Name
	}
	cxp.WriteJSON(w, 200, cxp.ClientsResponse{Status: cxp.StatusOK(""), Clients: clients, Exchanges: c.Exchanges})
}

func (c *Circle) prepare(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.verify(w, r); !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	req, e := cxp.PrepareRequestFromQuery(r.URL.Query())
	if e == nil {
		_, _, e = req.Validate(c.Div)
	}
	if e != nil {
		cxp.WriteError(w, e)
		return
	}
	c.Prepares = append(c.Prepares, req)
	cxp.WriteJSON(w, 200, cxp.PrepareResponse{Status: cxp.StatusOK(""), SpendLimit: c.SpendLimit, EarnLimit: "1000.00"})
}

func (c *Circle) try(w http.ResponseWriter, r *http.Request) {
	body, ok := c.verify(w, r)
	if !ok {
		return
	}
	var req cxp.TransactionRequest
	if e := cxp.Decode(body, &req); e != nil {
		cxp.WriteError(w, e)
		return
	}
	c.mu.Lock()
	div := c.Div
	c.mu.Unlock()
	q, e := req.Validate(div)
	if e != nil {
		cxp.WriteError(w, e)
		return
	}
	c.mu.Lock()
	c.Tries = append(c.Tries, req)
	delay, garbage := c.Delay, c.Garbage
	c.mu.Unlock()
	if req.Really && delay > 0 {
		time.Sleep(delay)
	}
	if req.Really && garbage {
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte("<html>502 Bad Gateway</html>"))
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !req.Really {
		if c.RefuseTry != cxp.OK {
			cxp.WriteError(w, cxp.NewError(c.RefuseTry, nil))
			return
		}
		cxp.WriteJSON(w, 200, cxp.TransactionResponse{Status: cxp.StatusOK(""), TempID: req.TempID, Quantity: req.Quantity})
		return
	}
	if prev, ok := c.Written[req.TempID]; ok {
		cxp.WriteJSON(w, 200, prev)
		return
	}
	if c.RefuseWrite != cxp.OK {
		cxp.WriteError(w, cxp.NewError(c.RefuseWrite, map[string]string{"server": req.DestURL}))
		return
	}
	c.Balance -= q
	c.Writes++
	resp := cxp.TransactionResponse{Status: cxp.StatusOK(""), ID: "tx-1", TempID: req.TempID, Quantity: req.Quantity, PayerTicks: c.Ticks, PayeeTicks: c.PayeeTicks}
	c.Written[req.TempID] = resp
	cxp.WriteJSON(w, 200, resp)
}

func pow10(n int) int64 {
	v := int64(1)
	for range n {
		v *= 10
	}
	return v
}
