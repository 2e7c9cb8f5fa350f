package main

// Issue 10, holes 1 and 2: a relay whose answer is lost, and a clearing
// house killed right after the payee committed. A real `sxp clearing`
// process relays to a payee community (acorn, rate 2) through a TCP proxy
// that forwards the relay and can drop exactly its answer (and kill the
// clearing house at that moment); the payer community (leaf, rate 1) and
// the payee run in this test on their own databases. Each test asserts the
// exact balances on all three sides and that every integrity check holds.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/cmd/sxp/sxptest"
	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/migrations/pgtest"
	"github.com/sxp-network/sxp/server/intertrade"
	"github.com/sxp-network/sxp/server/members"
)

// answerProxy is a TCP proxy in front of a server. While dropping is set,
// the answer to a request whose body says "really":true is not forwarded:
// the connection to the caller is closed once the server's answer arrived
// (so the server did its work), after onDrop ran.
type answerProxy struct {
	t        *testing.T
	addr     string
	upstream string

	mu       sync.Mutex
	ln       net.Listener
	dropping bool
	onDrop   func()
	dropped  int
	conns    map[net.Conn]bool
}

func newAnswerProxy(t *testing.T, upstream string) *answerProxy {
	t.Helper()
	p := &answerProxy{t: t, upstream: upstream, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.down)
	return p
}

func (p *answerProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.handle(c)
		}
	}()
}

// down stops listening and cuts every connection: callers get "connection refused".
func (p *answerProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
}

// up listens again on the same address.
func (p *answerProxy) up() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.serve(ln)
}

func (p *answerProxy) drop(on bool, onDrop func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropping, p.onDrop = on, onDrop
}

func (p *answerProxy) droppedAnswers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped
}

func (p *answerProxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
}

func (p *answerProxy) handle(client net.Conn) {
	server, err := net.Dial("tcp", p.upstream)
	if err != nil {
		client.Close()
		return
	}
	p.track(client, true)
	p.track(server, true)
	defer func() {
		client.Close()
		server.Close()
		p.track(client, false)
		p.track(server, false)
	}()
	var really atomic.Bool // the request in flight is a write
	go func() {
		var tail []byte
		buf := make([]byte, 32<<10)
		for {
			n, err := client.Read(buf)
			if n > 0 {
				seen := append(tail, buf[:n]...)
				if bytes.Contains(seen, []byte(`"really":true`)) {
					really.Store(true)
				}
				tail = append([]byte(nil), seen[max(0, len(seen)-16):]...)
				if _, werr := server.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				server.Close()
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			p.mu.Lock()
			drop, hook := p.dropping && really.Load(), p.onDrop
			if drop {
				p.dropped++
			}
			p.mu.Unlock()
			if drop {
				if hook != nil {
					hook()
				}
				return // the answer is lost
			}
			really.Store(false)
			if _, werr := client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// safetyClock is a community's clock: real time plus an offset the test moves.
type safetyClock struct{ offset atomic.Int64 }

func (c *safetyClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// safetyCommunity is a community server's intertrading, in this test.
type safetyCommunity struct {
	svc    *intertrade.Service
	pool   *pgxpool.Pool
	ledger *ledger.Ledger
	clock  *safetyClock
	member map[string]members.Member
}

// safetyCircle is a clearing house process, leaf (payer side) and acorn
// (payee side, behind proxy).
type safetyCircle struct {
	t          *testing.T
	bin        string
	db         string // the clearing house's database URL
	clearing   string // base URL
	listen     string
	args       []string
	proc       *sxptest.Process
	clearingDB *pgxpool.Pool
	leaf       *safetyCommunity
	acorn      *safetyCommunity
	proxy      *answerProxy
}

func startSafetyCircle(t *testing.T) *safetyCircle {
	t.Helper()
	ctx := context.Background()
	c := &safetyCircle{t: t, bin: sxptest.BuildSXP(t)}
	clearingURL := pgtest.NewDatabase(t)
	port := sxptest.FreePort(t)
	c.listen = fmt.Sprintf("127.0.0.1:%d", port)
	c.clearing = "http://" + c.listen

	// acorn's server, behind the proxy whose address is acorn's public URL;
	// leaf's server (for relays to leaf) directly.
	var acornSvc, leafSvc atomic.Pointer[intertrade.Service]
	relays := func(svc *atomic.Pointer[intertrade.Service]) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// PUT /transactions as server/httpapi serves it: verify at the edge, then Receive.
			body, e := cxp.ReadBody(r, intertrade.MaxRelayBody)
			if e != nil {
				cxp.WriteError(w, e)
				return
			}
			v, _ := svc.Load().RelayVerifier()
			who, err := v.Verify(r.Context(), r, body)
			if err != nil {
				e, ok := cxp.SignatureError(err)
				if !ok {
					e = cxp.Errorf(cxp.CodeSaving, "verify: %v", err)
				}
				cxp.WriteJSON(w, e.HTTPStatus(), cxp.TransactionResponse{Status: e.Status()})
				return
			}
			answer, e := svc.Load().Receive(r.Context(), who.KeyID, body)
			if e != nil {
				cxp.WriteJSON(w, e.HTTPStatus(), cxp.TransactionResponse{Status: e.Status()})
				return
			}
			cxp.WriteJSON(w, http.StatusOK, answer)
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	acornSrv, leafSrv := relays(&acornSvc), relays(&leafSvc)
	c.proxy = newAnswerProxy(t, acornSrv.Listener.Addr().String())
	acornURL := "http://" + c.proxy.addr
	leafURL := leafSrv.URL
	c.db = clearingURL

	db := []string{"--database", clearingURL}
	sxptest.RunInput(t, c.bin, sxptest.WithoutSettings(), "", append([]string{"admin", "circle", "init", "valley", "--unit", "VAL", "--divisions", "2"}, db...)...)
	keys := map[string]string{}
	for _, com := range []struct{ id, uri, rate string }{{"leaf", leafURL, "1"}, {"acorn", acornURL, "2"}} {
		out := sxptest.RunInput(t, c.bin, sxptest.WithoutSettings(), "", append([]string{"admin", "community", "add", com.id,
			"--name", com.id, "--uri", com.uri, "--rate", com.rate, "--min", "-1000", "--max", "1000", "--secret", e2eSecret}, db...)...)
		keys[com.id] = sxptest.KeyLine(t, out)
	}
	// Short hold and relay times, so that a hold outlives its deadline
	// within the test; maintenance runs often.
	c.args = []string{"clearing", "--listen", c.listen, "--database", clearingURL, "--secret", e2eSecret,
		"--admin-token", e2eAdminToken, "--public-url", c.clearing, "--relay-timeout", "2s", "--hold-ttl", "3s",
		"--maintenance-interval", "300ms"}
	c.startClearing()

	var err error
	if c.clearingDB, err = pgxpool.New(ctx, clearingURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.clearingDB.Close)
	c.leaf = newSafetyCommunity(t, "leaf", "LEAF", "1", leafURL, c.clearing, keys["leaf"])
	c.acorn = newSafetyCommunity(t, "acorn", "ACORN", "2", acornURL, c.clearing, keys["acorn"])
	acornSvc.Store(c.acorn.svc)
	leafSvc.Store(c.leaf.svc)
	return c
}

func (c *safetyCircle) startClearing() {
	c.t.Helper()
	c.proc = startSXP(c.t, c.bin, "clearing", c.args...)
	c.proc.WaitReady(c.clearing+"/readyz", readyWithin)
}

// kill stops the clearing house at once (SIGKILL: no shutdown, no cleanup).
func (c *safetyCircle) kill() {
	c.proc.Cmd.Process.Kill()
	<-c.proc.Done()
}

func newSafetyCommunity(t *testing.T, id, currency, rate, public, circleURL, key string) *safetyCommunity {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	clk := &safetyClock{}
	led := ledger.New(pool, ledger.Options{Now: clk.Now})
	mem := members.New(pool, led, members.Options{Currency: currency, DefaultMin: -10000, DefaultMax: 100000, Now: clk.Now})
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := intertrade.New(pool, led, mem, intertrade.Config{
		CircleURL: circleURL, CircleID: "valley", CommunityID: id, Key: key, Rate: rate, PublicURL: public,
		Currency: currency, Divisions: 2, Timeout: 5 * time.Second,
	}, intertrade.Options{Now: clk.Now, Logger: logger, HTTP: &http.Client{Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	com := &safetyCommunity{svc: svc, pool: pool, ledger: led, clock: clk, member: map[string]members.Member{}}
	for _, name := range []string{"alice", "bob"} {
		m, err := mem.Add(ctx, members.Registration{Username: name, Password: "correct horse battery", DisplayName: name}, members.RoleMember)
		if err != nil {
			t.Fatal(err)
		}
		com.member[name] = m
	}
	return com
}

// balance is a member's (or, for "", the import/export account's) balance and held debits.
func (com *safetyCommunity) balance(t *testing.T, name string) (balance, held int64) {
	t.Helper()
	ctx := context.Background()
	var a ledger.Account
	var err error
	if name == "" {
		a, err = com.ledger.AccountByCode(ctx, intertrade.ImportExportCode)
	} else {
		a, err = com.ledger.Account(ctx, com.member[name].Account)
	}
	if err != nil {
		t.Fatal(err)
	}
	return a.Balance, a.PendingDebits
}

// settle runs the payer's retry of unconfirmed payments (after the retry delay).
func (com *safetyCommunity) settle(t *testing.T) {
	t.Helper()
	com.clock.offset.Add(int64(time.Minute))
	if _, err := com.svc.SettlePending(context.Background()); err != nil {
		t.Fatalf("settle pending: %v", err)
	}
}

// virtualCustomer is a community's balance and held debits on the clearing house.
func (c *safetyCircle) virtualCustomer(id string) (balance, held int64) {
	c.t.Helper()
	err := c.clearingDB.QueryRow(context.Background(), `SELECT a.balance, a.pending_debits FROM ledger_accounts a
		JOIN clearing_communities c ON c.account_id = a.id WHERE c.id = $1`, id).Scan(&balance, &held)
	if err != nil {
		c.t.Fatal(err)
	}
	return balance, held
}

// intertrade is the clearing house's only intertrade: its status and its hold's deadline.
func (c *safetyCircle) intertrade() (status string, holdStatus string, expires time.Time) {
	c.t.Helper()
	err := c.clearingDB.QueryRow(context.Background(), `SELECT i.status, p.status, p.expires_at FROM clearing_intertrades i
		JOIN ledger_pending p ON p.id = i.pending_id ORDER BY i.id DESC LIMIT 1`).Scan(&status, &holdStatus, &expires)
	if err != nil {
		c.t.Fatal(err)
	}
	return status, holdStatus, expires
}

// waitFor polls cond until it holds or within passes (a wait for work, not a timing assertion).
func (c *safetyCircle) waitFor(what string, within time.Duration, cond func() bool) {
	c.t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			status, hold, expires := c.intertrade()
			c.t.Fatalf("%s: not within %s (intertrade %s, hold %s until %s)", what, within, status, hold, expires.Format(time.RFC3339Nano))
		}
	}
}

// pay sends alice@leaf's payment of 5.00 LEAF to bob@acorn.
func (c *safetyCircle) pay(key string) (intertrade.Payment, error) {
	return c.leaf.svc.Pay(context.Background(), intertrade.PayRequest{PayerAccount: c.leaf.member["alice"].Account,
		PayerUsername: "alice", To: "bob@acorn", Amount: 500, Description: "plums", IdempotencyKey: key})
}

func (c *safetyCircle) payment(key string) intertrade.Payment {
	c.t.Helper()
	p, err := c.pay(key) // a repeat of the key: the recorded payment
	if err != nil && intertrade.CodeOf(err) != intertrade.ErrRefused {
		c.t.Fatalf("payment %s: %v", key, err)
	}
	return p
}

// wantSettled checks that the 5.00 LEAF (5.00 VAL, 2.50 ACORN) payment
// moved exactly once on every side, nothing is held, and every integrity
// check holds.
func (c *safetyCircle) wantSettled() {
	t := c.t
	t.Helper()
	ctx := context.Background()
	for _, tt := range []struct {
		name             string
		balance, held    int64
		wantBal, wantHld int64
	}{
		{name: "leaf alice", wantBal: -500},
		{name: "leaf import/export", wantBal: 500},
		{name: "clearing leaf", wantBal: -500},
		{name: "clearing acorn", wantBal: 500},
		{name: "acorn bob", wantBal: 250},
		{name: "acorn import/export", wantBal: -250},
	} {
		switch tt.name {
		case "leaf alice":
			tt.balance, tt.held = c.leaf.balance(t, "alice")
		case "leaf import/export":
			tt.balance, tt.held = c.leaf.balance(t, "")
		case "clearing leaf":
			tt.balance, tt.held = c.virtualCustomer("leaf")
		case "clearing acorn":
			tt.balance, tt.held = c.virtualCustomer("acorn")
		case "acorn bob":
			tt.balance, tt.held = c.acorn.balance(t, "bob")
		case "acorn import/export":
			tt.balance, tt.held = c.acorn.balance(t, "")
		}
		if tt.balance != tt.wantBal || tt.held != tt.wantHld {
			t.Errorf("%s: got balance %d held %d, want %d held %d", tt.name, tt.balance, tt.held, tt.wantBal, tt.wantHld)
		}
	}
	var credits int
	if err := c.acorn.pool.QueryRow(ctx, `SELECT count(*) FROM ledger_transfers t JOIN ledger_accounts a ON a.id = t.credit_account_id
		WHERE a.id = $1`, int64(c.acorn.member["bob"].Account)).Scan(&credits); err != nil || credits != 1 {
		t.Errorf("credits to bob: got %d (%v), want 1", credits, err)
	}
	for name, com := range map[string]*safetyCommunity{"leaf": c.leaf, "acorn": c.acorn} {
		rep, err := com.svc.Reconcile(ctx)
		if err != nil || !rep.OK {
			t.Errorf("%s integrity: got %+v, %v; want ok", name, rep, err)
		}
		lrep, err := com.ledger.CheckIntegrity(ctx)
		if err != nil || !lrep.OK {
			t.Errorf("%s ledger integrity: got %+v, %v; want ok", name, lrep, err)
		}
	}
	lrep, err := ledger.New(c.clearingDB, ledger.Options{}).CheckIntegrity(ctx)
	if err != nil || !lrep.OK {
		t.Errorf("clearing ledger integrity: got %+v, %v; want ok", lrep, err)
	}
	// The clearing house's own check: each community's reported
	// import/export balance is minus its virtual customer.
	var rep struct {
		Communities []struct {
			Community string `json:"community"`
			VC        string `json:"virtual_customer_balance"`
			OK        *bool  `json:"ok"`
		} `json:"communities"`
	}
	out := sxptest.RunInput(t, c.bin, sxptest.WithoutSettings(), "", "admin", "integrity", "--database", c.db, "--secret", e2eSecret)
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("admin integrity: %v\n%s", err, out)
	}
	for _, com := range rep.Communities {
		want := map[string]string{"leaf": "-5.00", "acorn": "5.00"}[com.Community]
		if com.VC != want || com.OK == nil || !*com.OK {
			t.Errorf("clearing integrity of %s: got %s (ok %v), want %s and ok", com.Community, com.VC, com.OK, want)
		}
	}
	if len(rep.Communities) != 2 {
		t.Errorf("clearing integrity: got %d communities, want 2", len(rep.Communities))
	}
}

// Hole 1: the payee's answer to the written relay is lost after the payee
// credited its member. The clearing house must not void: the payment stays
// pending everywhere (the payer is told so, not "failed"), the clearing
// house asks the payee again with the same temp_id, and it is posted on
// every side, once.
func TestRelayAnswerLostStaysPending(t *testing.T) {
	c := startSafetyCircle(t)
	c.proxy.drop(true, nil)

	p, err := c.pay("lost-1")
	if err != nil || p.State != intertrade.StatePending {
		t.Fatalf("payment whose relay answer was lost: got %+v, %v; want pending and no error", p, err)
	}
	if n := c.proxy.droppedAnswers(); n != 1 {
		t.Fatalf("dropped answers: got %d, want 1", n)
	}
	if bal, held := c.leaf.balance(t, "alice"); bal != 0 || held != 500 {
		t.Fatalf("alice while pending: got %d held %d, want 0 held 500", bal, held)
	}
	if bal, _ := c.acorn.balance(t, "bob"); bal != 250 {
		t.Fatalf("bob: got %d, want 250 (the payee committed before its answer was lost)", bal)
	}
	if status, hold, _ := c.intertrade(); status != "pending" || hold != "pending" {
		t.Fatalf("clearing intertrade: got %s with hold %s, want pending with an open hold", status, hold)
	}
	// The payer asks again while the answer is still unknown: still pending.
	c.leaf.settle(t)
	if p := c.payment("lost-1"); p.State != intertrade.StatePending {
		t.Fatalf("payer's retry while the answer is unknown: got %+v, want pending", p)
	}

	// The answers come through again: the clearing house's recovery asks the
	// payee, which repeats its first answer, and posts.
	c.proxy.drop(false, nil)
	c.waitFor("the clearing house posts the recovered relay", 30*time.Second, func() bool {
		status, _, _ := c.intertrade()
		return status != "pending"
	})
	if status, hold, _ := c.intertrade(); status != "posted" || hold != "posted" {
		t.Fatalf("clearing intertrade: got %s with hold %s, want posted", status, hold)
	}
	c.leaf.settle(t)
	if p := c.payment("lost-1"); p.State != intertrade.StateCompleted {
		t.Fatalf("payment after recovery: got %+v, want completed", p)
	}
	c.wantSettled()
}

// Hole 2: the clearing house is killed right after the payee committed
// (before it saw the answer), and the payee is down when the payer retries
// and when the hold's deadline passes. No hold may expire into a void while
// the payee's answer is unknown; the payer is never told "failed"; once the
// payee is back, recovery asks it and the payment is posted everywhere.
func TestClearingKilledAfterPayeeCommitted(t *testing.T) {
	c := startSafetyCircle(t)
	c.proxy.drop(true, c.kill)

	p, err := c.pay("kill-1")
	if err != nil || p.State != intertrade.StatePending {
		t.Fatalf("payment during which the clearing house died: got %+v, %v; want pending and no error", p, err)
	}
	if bal, _ := c.acorn.balance(t, "bob"); bal != 250 {
		t.Fatalf("bob: got %d, want 250 (the payee committed before the clearing house died)", bal)
	}
	status, hold, deadline := c.intertrade()
	if status != "pending" || hold != "pending" {
		t.Fatalf("clearing intertrade after the kill: got %s with hold %s, want pending", status, hold)
	}

	// The payee goes down; the clearing house comes back.
	c.proxy.drop(false, nil)
	c.proxy.down()
	c.startClearing()
	// Wait until the hold's deadline has passed and the clearing house's
	// maintenance acted on it: it either expired it (the bug) or extended it
	// while it asks the payee again.
	c.waitFor("maintenance acts on the overdue hold", 30*time.Second, func() bool {
		status, _, expires := c.intertrade()
		return status != "pending" || expires.After(deadline)
	})
	if status, hold, _ := c.intertrade(); status != "pending" || hold != "pending" {
		t.Fatalf("clearing intertrade while the payee is down: got %s with hold %s, want pending with an open hold", status, hold)
	}
	// The payer retries while the payee is down: not failed.
	c.leaf.settle(t)
	if p := c.payment("kill-1"); p.State != intertrade.StatePending {
		t.Fatalf("payer's retry while the payee is down: got %+v, want pending", p)
	}
	if bal, held := c.leaf.balance(t, "alice"); bal != 0 || held != 500 {
		t.Fatalf("alice while pending: got %d held %d, want 0 held 500", bal, held)
	}

	// The payee is back: recovery asks it, it repeats its first answer, posted.
	c.proxy.up()
	c.waitFor("the clearing house posts the recovered relay", 30*time.Second, func() bool {
		status, _, _ := c.intertrade()
		return status != "pending"
	})
	if status, hold, _ := c.intertrade(); status != "posted" || hold != "posted" {
		t.Fatalf("clearing intertrade: got %s with hold %s, want posted", status, hold)
	}
	c.leaf.settle(t)
	if p := c.payment("kill-1"); p.State != intertrade.StateCompleted {
		t.Fatalf("payment after recovery: got %+v, want completed", p)
	}
	c.wantSettled()
}

// Issue 10, hole 3 through the whole path: alice@leaf (rate 1) pays bob@acorn
// (rate 2) 0.03 LEAF, and bob pays everything he got back, twenty times.
// Half-away-from-zero rounding credited 0.02 ACORN (worth 0.04) for 0.03
// and turned 0.00 into +0.20 LEAF; truncation loses at most a fraction of a
// minor unit per conversion, never gains, and the rounding accounts explain
// every remainder.
func TestRoundingLoopGainsNothing(t *testing.T) {
	c := startSafetyCircle(t)
	ctx := context.Background()
	for i := range 20 {
		p, err := c.leaf.svc.Pay(ctx, intertrade.PayRequest{PayerAccount: c.leaf.member["alice"].Account, PayerUsername: "alice",
			To: "bob@acorn", Amount: 3, IdempotencyKey: fmt.Sprintf("out-%d", i)})
		if err != nil || p.State != intertrade.StateCompleted {
			t.Fatalf("cycle %d: alice pays 0.03 LEAF: got %+v, %v", i, p, err)
		}
		bob, _ := c.acorn.balance(t, "bob")
		if bob > 0 {
			p, err := c.acorn.svc.Pay(ctx, intertrade.PayRequest{PayerAccount: c.acorn.member["bob"].Account, PayerUsername: "bob",
				To: "alice@leaf", Amount: bob, IdempotencyKey: fmt.Sprintf("back-%d", i)})
			if err != nil || p.State != intertrade.StateCompleted {
				t.Fatalf("cycle %d: bob pays back %d: got %+v, %v", i, bob, p, err)
			}
		}
		if alice, _ := c.leaf.balance(t, "alice"); alice > 0 {
			t.Fatalf("cycle %d: alice has %d LEAF minor units: the loop created money", i, alice)
		}
	}
	// 0.03 LEAF = 0.03 VAL = 0.01 ACORN (0.015 truncated) = 0.02 VAL = 0.02 LEAF back: alice loses 0.01 a cycle.
	alice, _ := c.leaf.balance(t, "alice")
	bob, _ := c.acorn.balance(t, "bob")
	leafVC, _ := c.virtualCustomer("leaf")
	acornVC, _ := c.virtualCustomer("acorn")
	if alice != -20 || bob != 0 || leafVC != -20 || acornVC != 20 {
		t.Fatalf("after 20 cycles: alice %d, bob %d, virtual customers leaf %d acorn %d; want -20, 0, -20, 20", alice, bob, leafVC, acornVC)
	}
	// acorn kept 0.005 VAL of each 0.03 it received (0.01 ACORN is worth 0.02): its rounding account.
	for name, tt := range map[string]struct {
		com  *safetyCommunity
		want cxp.Decimal
	}{"leaf": {c.leaf, "0"}, "acorn": {c.acorn, "0.2"}} {
		rep, err := tt.com.svc.Reconcile(ctx)
		if err != nil || !rep.OK || rep.Rounding != tt.want {
			t.Errorf("%s integrity: got %+v, %v; want ok with a rounding account of %s", name, rep, err, tt.want)
		}
	}
}

// Issue 10, hole 7 through the whole path: the circle changes acorn's rate
// from 2 to 2.5; acorn has not handshaked since (its rate in force is still
// 2) and credits at the circle's rate, which the relay carries.
func TestPayeeCreditsAtTheCirclesNewRate(t *testing.T) {
	c := startSafetyCircle(t)
	if got := c.acorn.svc.Ticks(); got != "2" {
		t.Fatalf("acorn's rate in force: got %s, want 2", got)
	}
	sxptest.RunInput(t, c.bin, sxptest.WithoutSettings(), "", "admin", "rate", "set", "acorn", "2.5", "--database", c.db, "--secret", e2eSecret)
	p, err := c.pay("new-rate")
	if err != nil || p.State != intertrade.StateCompleted {
		t.Fatalf("payment: got %+v, %v", p, err)
	}
	if bob, _ := c.acorn.balance(t, "bob"); bob != 200 {
		t.Fatalf("bob: got %d, want 200 (5.00 VAL at the circle's new rate 2.5, not 250 at acorn's stale 2)", bob)
	}
	for name, com := range map[string]*safetyCommunity{"leaf": c.leaf, "acorn": c.acorn} {
		if rep, err := com.svc.Reconcile(context.Background()); err != nil || !rep.OK {
			t.Errorf("%s integrity: got %+v, %v; want ok", name, rep, err)
		}
	}
}
