package intertrade

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/migrations/pgtest"
	"github.com/sxp-network/sxp/server/members"
)

const (
	testKey      = "s3cret-key-of-leaf"
	testCircle   = "circle"
	testPublic   = "http://leaf.example"
	testPeerURI  = "http://acorn.example"
	testCurrency = "LEAF"
)

// fakeCircle is a clearing house for tests: it checks every request's
// signature with httpsig.Verifier and answers as configured.
type fakeCircle struct {
	t   *testing.T
	srv *httptest.Server
	ver httpsig.Verifier

	mu          sync.Mutex
	ticks       cxp.Decimal // the rate in force it answers
	div         int         // its base unit's decimal places
	balance     int64       // our virtual customer, base minor units
	spendLimit  cxp.Decimal
	refuseTry   cxp.Code      // answer to really=false (0: accept)
	refuseWrite cxp.Code      // answer to really=true (0: write)
	delay       time.Duration // before answering really=true
	garbage     bool          // answer really=true with a proxy's HTML error page
	written     map[string]cxp.TransactionResponse
	writes      int // really=true transactions written
	tries       []cxp.TransactionRequest
	prepares    []cxp.PrepareRequest
	handshakes  []cxp.HandshakeRequest
}

func newFakeCircle(t *testing.T) *fakeCircle {
	f := &fakeCircle{
		t: t, ticks: "1", div: 2, spendLimit: "1000.00", written: map[string]cxp.TransactionResponse{},
		ver: httpsig.Verifier{Keys: httpsig.StaticKeys{"leaf": {[]byte(testKey)}}, Nonces: &httpsig.MemoryNonces{}},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /server", f.handshake)
	mux.HandleFunc("GET /server/clients", f.clients)
	mux.HandleFunc("GET /transactions", f.prepare)
	mux.HandleFunc("PUT /transactions", f.try)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCircle) verify(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, e := cxp.ReadBody(r, 1<<16)
	if e != nil {
		cxp.WriteError(w, e)
		return nil, false
	}
	if _, err := f.ver.Verify(r.Context(), r, body); err != nil {
		e, _ := cxp.AsError(err)
		cxp.WriteError(w, e)
		return nil, false
	}
	return body, true
}

func (f *fakeCircle) handshake(w http.ResponseWriter, r *http.Request) {
	body, ok := f.verify(w, r)
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
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handshakes = append(f.handshakes, req)
	cxp.WriteJSON(w, 200, cxp.HandshakeResponse{
		Status: cxp.StatusOK(""), AccountStatus: cxp.AccountTrading,
		Balance: cxp.FromMinor(f.balance, f.div), Min: cxp.FromMinor(-500*pow10(f.div), f.div), Max: cxp.FromMinor(500*pow10(f.div), f.div),
		Count: int64(f.writes), Keymatch: true, Ticks: f.ticks,
	})
}

func (f *fakeCircle) clients(w http.ResponseWriter, r *http.Request) {
	if _, ok := f.verify(w, r); !ok {
		return
	}
	cxp.WriteJSON(w, 200, cxp.ClientsResponse{
		Status:  cxp.StatusOK(""),
		Clients: map[string]string{testPublic: "Leaf", testPeerURI: "Acorn", "http://pine.example": "Pine"},
		Exchanges: []cxp.Exchange{
			{ID: "leaf", Name: "Leaf", URI: testPublic, Ticks: "1", Status: cxp.AccountTrading},
			{ID: "acorn", Name: "Acorn", URI: testPeerURI, Ticks: "2.5", Status: cxp.AccountTrading},
			{ID: "pine", Name: "Pine", URI: "http://pine.example", Ticks: "1", Status: cxp.AccountBlocked},
		},
	})
}

func (f *fakeCircle) prepare(w http.ResponseWriter, r *http.Request) {
	if _, ok := f.verify(w, r); !ok {
		return
	}
	req, e := cxp.PrepareRequestFromQuery(r.URL.Query())
	if e == nil {
		_, _, e = req.Validate(f.div)
	}
	if e != nil {
		cxp.WriteError(w, e)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.prepares = append(f.prepares, req)
	cxp.WriteJSON(w, 200, cxp.PrepareResponse{Status: cxp.StatusOK(""), SpendLimit: f.spendLimit, EarnLimit: "1000.00"})
}

func (f *fakeCircle) try(w http.ResponseWriter, r *http.Request) {
	body, ok := f.verify(w, r)
	if !ok {
		return
	}
	var req cxp.TransactionRequest
	if e := cxp.Decode(body, &req); e != nil {
		cxp.WriteError(w, e)
		return
	}
	f.mu.Lock()
	div := f.div
	f.mu.Unlock()
	q, e := req.Validate(div)
	if e != nil {
		cxp.WriteError(w, e)
		return
	}
	f.mu.Lock()
	f.tries = append(f.tries, req)
	delay := f.delay
	f.mu.Unlock()
	if req.Really && delay > 0 {
		time.Sleep(delay)
	}
	f.mu.Lock()
	garbage := f.garbage
	f.mu.Unlock()
	if req.Really && garbage {
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte("<html>502 Bad Gateway</html>"))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !req.Really {
		if f.refuseTry != cxp.OK {
			cxp.WriteError(w, cxp.NewError(f.refuseTry, nil))
			return
		}
		cxp.WriteJSON(w, 200, cxp.TransactionResponse{Status: cxp.StatusOK(""), TempID: req.TempID, Quantity: req.Quantity})
		return
	}
	if prev, ok := f.written[req.TempID]; ok {
		cxp.WriteJSON(w, 200, prev)
		return
	}
	if f.refuseWrite != cxp.OK {
		cxp.WriteError(w, cxp.NewError(f.refuseWrite, map[string]string{"server": req.DestURL}))
		return
	}
	f.balance -= q
	f.writes++
	resp := cxp.TransactionResponse{Status: cxp.StatusOK(""), ID: "tx-1", TempID: req.TempID, Quantity: req.Quantity, PayerTicks: f.ticks, PayeeTicks: "2.5"}
	f.written[req.TempID] = resp
	cxp.WriteJSON(w, 200, resp)
}

func (f *fakeCircle) set(fn func(f *fakeCircle)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeCircle) snapshot() (balance int64, writes, tries int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.balance, f.writes, len(f.tries)
}

// env is a community "leaf" with members alice and bob, on its own database.
type env struct {
	svc     *Service
	pool    *pgxpool.Pool
	ledger  *ledger.Ledger
	members *members.Service
	alice   members.Member
	bob     members.Member
	clock   *clock
}

type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

func newEnv(t *testing.T, circleURL string, mutate func(*Config)) *env {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	clk := &clock{}
	led := ledger.New(pool, ledger.Options{Now: clk.Now})
	mem := members.New(pool, led, members.Options{Currency: testCurrency, DefaultMin: -10000, DefaultMax: 10000, Now: clk.Now})
	cfg := Config{
		CircleURL: circleURL, CircleID: testCircle, CommunityID: "leaf", Key: testKey, Rate: "1",
		PublicURL: testPublic, Currency: testCurrency, Divisions: 2, Mail: "admin@leaf.example",
		Timeout: 2 * time.Second,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	svc, err := New(pool, led, mem, cfg, Options{Now: clk.Now, HTTP: &http.Client{Timeout: cfg.Timeout}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := svc.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	e := &env{svc: svc, pool: pool, ledger: led, members: mem, clock: clk}
	for _, name := range []string{"alice", "bob"} {
		m, err := mem.Add(ctx, members.Registration{Username: name, Password: "correct horse battery", DisplayName: name}, members.RoleMember)
		if err != nil {
			t.Fatalf("add %s: %v", name, err)
		}
		if name == "alice" {
			e.alice = m
		} else {
			e.bob = m
		}
	}
	return e
}

// account is an account's balance and holds.
func (e *env) account(t *testing.T, id ledger.AccountID) ledger.Account {
	t.Helper()
	a, err := e.ledger.Account(context.Background(), id)
	if err != nil {
		t.Fatalf("account %d: %v", id, err)
	}
	return a
}

func (e *env) importExport(t *testing.T) ledger.Account {
	t.Helper()
	a, err := e.ledger.AccountByCode(context.Background(), ImportExportCode)
	if err != nil {
		t.Fatalf("import/export account: %v", err)
	}
	return a
}

func (e *env) count(t *testing.T, where string) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM intertrades WHERE `+where).Scan(&n); err != nil {
		t.Fatalf("count: %v", err)
	}
	return n
}

// deadURL is a loopback URL nothing listens on.
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String()
	l.Close()
	return u
}

// relay builds a relay from the circle to leaf, signed with key.
func relay(t *testing.T, key string, req cxp.TransactionRequest) (*http.Request, []byte) {
	t.Helper()
	body, err := jsonMarshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return signedRelay(t, key, body), body
}

func signedRelay(t *testing.T, key string, body []byte) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPut, testPublic+"/transactions", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	if key != "" {
		if err := (httpsig.Signer{KeyID: testCircle, Key: []byte(key)}).Sign(r, body); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func pow10(n int) int64 {
	v := int64(1)
	for range n {
		v *= 10
	}
	return v
}
