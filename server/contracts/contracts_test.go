package contracts_test

// The parties' side against real databases: two community servers (leaf
// with alice and carol, oak with bob), each its own PostgreSQL database and
// contracts.Service, their federation sends wired to each other in process
// (the signed HTTP edge is the end-to-end test's), and the arbiter T a real
// clearing house behind httptest. Time is a test clock; each server's
// worker is its Step, called by the test.

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/clearing"
	"github.com/sxp-network/sxp/clearing/app"
	"github.com/sxp-network/sxp/clearing/cxp/contract"
	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/migrations/pgtest"
	"github.com/sxp-network/sxp/server/contracts"
	"github.com/sxp-network/sxp/server/members"
	"github.com/sxp-network/sxp/server/payments"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// keys are the members' contract keys, deterministic; a member in own signs
// through the API.
type keys struct {
	priv map[string]ed25519.PrivateKey
	own  map[string]bool
}

func (k keys) Key(_ context.Context, username string) (ed25519.PublicKey, bool, error) {
	p, ok := k.priv[username]
	if !ok {
		return nil, false, &contracts.Error{Code: contracts.CodeNotFound, Message: "no key of " + username}
	}
	return p.Public().(ed25519.PublicKey), k.own[username], nil
}

func (k keys) Sign(_ context.Context, username string, msg []byte) ([]byte, error) {
	if k.own[username] {
		return nil, contracts.ErrOwnKey
	}
	p, ok := k.priv[username]
	if !ok {
		return nil, errors.New("no key")
	}
	return ed25519.Sign(p, msg), nil
}

func keyOf(name string) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte(name[:1]), ed25519.SeedSize))
}

// community is one server under test.
type community struct {
	id, base string
	pool     *pgxpool.Pool
	svc      *contracts.Service
	mem      *members.Service
	pay      *payments.Service
	down     bool // its sends fail and nothing reaches it
}

type world struct {
	t     *testing.T
	clock *clock
	keys  keys
	ttp   contract.TTP
	tPool *pgxpool.Pool
	coms  map[string]*community
	// sent counts the promises delivered, by sender base URL.
	mu   sync.Mutex
	sent map[string]int
	// cut, when not zero, fails every delivery to or from cutOff of a
	// promise of round cut or later (that server stopped after round cut-1).
	cut    int
	cutOff string
	// money is the value of carol's money leg ("20.00" when empty).
	money string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{t: t, clock: &clock{now: time.Date(2026, 11, 29, 23, 0, 0, 0, time.UTC)}, coms: map[string]*community{}, sent: map[string]int{},
		keys: keys{priv: map[string]ed25519.PrivateKey{}, own: map[string]bool{}}}
	for _, n := range []string{"alice", "bob", "carol"} {
		w.keys.priv[n] = keyOf(n)
	}
	// T: a real clearing house's arbiter.
	w.tPool = pgtest.NewPool(t)
	house, err := clearing.New(w.tPool, ledger.New(w.tPool, ledger.Options{}), clearing.Options{Secret: "test secret"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := house.InitCircle(ctx, "test", "valley", "Valley", "VAL", 2); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	a, err := app.New(ctx, app.Config{PublicURL: "http://" + srv.Listener.Addr().String(), Secret: "test secret",
		AdminToken: "admin-token-0123456789abcdef"}, w.tPool, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = a.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	tkey, err := a.House.ArbiterPublicKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.ttp = contract.TTP{URL: srv.URL, Key: tkey}
	for _, c := range []struct{ id, cur string }{{"leaf", "LEAF"}, {"oak", "OAK"}} {
		pool := pgtest.NewPool(t)
		led := ledger.New(pool, ledger.Options{})
		mem := members.New(pool, led, members.Options{Currency: c.cur, Community: c.id, DefaultMin: -10000, DefaultMax: 100000})
		if err := mem.CheckCurrency(ctx); err != nil {
			t.Fatal(err)
		}
		pay := payments.New(pool, led, mem, payments.Currency{Code: c.cur, Divisions: 2}, nil)
		com := &community{id: c.id, base: "https://" + c.id + ".example", pool: pool, mem: mem, pay: pay}
		com.svc = contracts.New(pool, contracts.Config{BaseURL: com.base, CommunityID: c.id, Currency: c.cur, Divisions: 2,
			Now: w.clock.Now, Keys: w.keys, Members: mem, Payments: pay, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Send: func(ctx context.Context, target string, body []byte) error { return w.deliver(ctx, com, target, body) }})
		w.coms[c.id] = com
	}
	for _, m := range []struct{ com, name string }{{"leaf", "alice"}, {"leaf", "carol"}, {"oak", "bob"}} {
		if _, err := w.coms[m.com].mem.Register(ctx, members.Registration{Username: m.name, Password: "correct horse battery staple",
			DisplayName: m.name}); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// deliver is the federation in process: a signed POST from com to target.
func (w *world) deliver(ctx context.Context, from *community, target string, body []byte) error {
	if from.down {
		return errors.New("down")
	}
	for _, to := range w.coms {
		rest, ok := strings.CutPrefix(target, to.base+"/federation/v1/contracts/")
		if !ok {
			continue
		}
		if to.down {
			return errors.New("connection refused")
		}
		h, ok := strings.CutSuffix(rest, "/promises")
		if !ok {
			return errors.New("404")
		}
		var b struct {
			Party int    `json:"party"`
			Round int    `json:"round"`
			Sig   string `json:"sig"`
		}
		if err := json.Unmarshal(body, &b); err != nil {
			return err
		}
		if w.cut > 0 && b.Round >= w.cut && (from.id == w.cutOff || to.id == w.cutOff) {
			return errors.New("connection refused")
		}
		if _, err := to.svc.ReceivePromise(ctx, from.base, h, b.Party, b.Round, b.Sig); err != nil {
			return err
		}
		w.mu.Lock()
		w.sent[from.base]++
		w.mu.Unlock()
		return nil
	}
	return fmt.Errorf("no server at %s", target)
}

// loop is the contract of the three-party loop: alice gives bob a Bike, bob
// gives carol a Canoe, carol pays alice 20.00 LEAF (a local payment on
// leaf). Every party's key is filled in.
func (w *world) loop(nonce string, timeout int) (string, []byte) {
	w.t.Helper()
	party := func(name, com string) map[string]any {
		return map[string]any{"member": name + "@" + com, "server": "https://" + com + ".example",
			"key": contract.EncodeKey(keyOf(name).Public().(ed25519.PublicKey))}
	}
	c := map[string]any{"type": "sxp-contract/1", "id": "0b6e8c3a-1f2d-4e5a-9b7c-8d9e0f1a2b3c", "proposer": "https://leaf.example",
		"created_at": "2026-11-29T22:00:00Z", "deadline": "2026-11-30T22:00:00Z", "round_timeout_s": timeout, "nonce": nonce,
		"parties": []any{party("alice", "leaf"), party("bob", "oak"), party("carol", "leaf")},
		"legs": []any{
			map[string]any{"from": 0, "to": 1, "offer": "https://leaf.example/announcements/1", "title": "Bike", "money": nil},
			map[string]any{"from": 1, "to": 2, "offer": "https://oak.example/announcements/1", "title": "Canoe", "money": nil},
			map[string]any{"from": 2, "to": 0, "offer": "https://leaf.example/announcements/2", "title": "Twenty leaves",
				"money": map[string]any{"value": cmp.Or(w.money, "20.00"), "currency": "LEAF"}},
		},
		"ttp": map[string]any{"url": w.ttp.URL, "key": w.ttp.Key}}
	raw, err := json.Marshal(c)
	if err != nil {
		w.t.Fatal(err)
	}
	p, err := contract.Parse(raw)
	if err != nil {
		w.t.Fatal(err)
	}
	// Every party accepted: the proposal is ready on both servers.
	for _, com := range w.coms {
		if _, err := com.pool.Exec(context.Background(), `INSERT INTO deal_proposals (h, contract, state, deadline) VALUES ($1, $2, 'ready', $3)`,
			p.Hash(), raw, time.Date(2026, 11, 30, 22, 0, 0, 0, time.UTC)); err != nil {
			w.t.Fatal(err)
		}
	}
	return p.Hash(), raw
}

// run steps every server that is up until nothing moves (bounded).
func (w *world) run() {
	w.t.Helper()
	for range 50 {
		var moved int64
		for _, id := range []string{"leaf", "oak"} {
			com := w.coms[id]
			if com.down {
				continue
			}
			n, err := com.svc.Step(context.Background())
			if err != nil {
				w.t.Fatalf("%s: step: %v", id, err)
			}
			moved += n
		}
		if moved == 0 {
			return
		}
	}
	w.t.Fatal("the servers never settled down")
}

func (w *world) state(com, h string, party int) string {
	w.t.Helper()
	var st string
	if err := w.coms[com].pool.QueryRow(context.Background(), `SELECT state FROM contracts WHERE h = $1 AND party = $2`, h, party).Scan(&st); err != nil {
		w.t.Fatalf("%s party %d of %s: %v", com, party, h[:8], err)
	}
	return st
}

func (w *world) balance(com, username string) int64 {
	w.t.Helper()
	m, err := w.coms[com].mem.ByUsername(context.Background(), username)
	if err != nil {
		w.t.Fatal(err)
	}
	a, err := w.coms[com].pay.Account(context.Background(), m)
	if err != nil {
		w.t.Fatal(err)
	}
	return a.Balance
}

func (w *world) tRows() int {
	w.t.Helper()
	var n int
	if err := w.tPool.QueryRow(context.Background(), `SELECT count(*) FROM clearing_arbiter_contracts`).Scan(&n); err != nil {
		w.t.Fatal(err)
	}
	return n
}

func (w *world) count(com, sql string, args ...any) int {
	w.t.Helper()
	var n int
	if err := w.coms[com].pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		w.t.Fatal(err)
	}
	return n
}

func TestLoopSignsWithoutT(t *testing.T) {
	w := newWorld(t)
	h, _ := w.loop("happy", 60)
	w.run()
	for _, p := range []struct {
		com   string
		party int
	}{{"leaf", 0}, {"oak", 1}, {"leaf", 2}} {
		if got := w.state(p.com, h, p.party); got != contracts.StateSigned {
			t.Errorf("%s party %d: got %s, want signed", p.com, p.party, got)
		}
	}
	if n := w.tRows(); n != 0 {
		t.Errorf("T was asked about %d contracts, want 0", n)
	}
	// Every promise of every round on both servers: 3 parties × 4 rounds.
	for _, com := range []string{"leaf", "oak"} {
		if n := w.count(com, `SELECT count(*) FROM contract_promises WHERE h = $1`, h); n != 12 {
			t.Errorf("%s holds %d promises, want 12", com, n)
		}
	}
	// leaf sent 2 parties × 4 rounds to oak, oak 4 to leaf.
	if w.sent["https://leaf.example"] != 8 || w.sent["https://oak.example"] != 4 {
		t.Errorf("promises sent: got %v, want leaf 8, oak 4", w.sent)
	}
	// The money leg paid once, locally: carol → alice 20.00 LEAF.
	if a, c := w.balance("leaf", "alice"), w.balance("leaf", "carol"); a != 2000 || c != -2000 {
		t.Errorf("balances: alice %d, carol %d; want 2000, -2000", a, c)
	}
	w.clock.add(time.Hour)
	w.run()
	if a := w.balance("leaf", "alice"); a != 2000 {
		t.Errorf("after another sweep alice has %d, want 2000 (paid once)", a)
	}
	if n := w.count("leaf", `SELECT count(*) FROM ledger_transfers WHERE idempotency_key LIKE '%' || $1 || ':2'`, h); n != 1 {
		t.Errorf("transfers with key h:2: got %d, want 1", n)
	}
	// The bundle proves it signed, offline.
	b, err := w.coms["oak"].svc.Bundle(context.Background(), "bob", false, h)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(b)
	v, err := contract.VerifyBundle(raw)
	if err != nil || !v.Signed || v.By[0] != "promises" {
		t.Errorf("bundle: got %+v %v, want signed by promises", v, err)
	}
	// Items: carol confirms the canoe on leaf; bob the bike on oak; alice
	// cannot confirm carol's.
	ctx := context.Background()
	if err := w.coms["leaf"].svc.ConfirmItem(ctx, "alice", h, 1); err == nil {
		t.Error("alice confirmed carol's canoe")
	}
	if err := w.coms["leaf"].svc.ConfirmItem(ctx, "carol", h, 1); err != nil {
		t.Errorf("carol confirms: %v", err)
	}
	if err := w.coms["oak"].svc.ConfirmItem(ctx, "bob", h, 0); err != nil {
		t.Errorf("bob confirms: %v", err)
	}
	v2, err := w.coms["leaf"].svc.Get(ctx, "alice", false, h)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range v2.Legs {
		got = append(got, l.State)
	}
	if strings.Join(got, ",") != ",confirmed,paid" {
		t.Errorf("legs as leaf sees them: got %q, want [\"\" confirmed paid]", got)
	}
}
