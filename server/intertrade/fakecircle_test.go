package intertrade

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/cxptest"
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

// newFakeCircle is a circle whose community leaf signs with testKey and
// that lists leaf, acorn (rate 2.5, the payee's rate it answers) and the
// blocked pine.
func newFakeCircle(t *testing.T) *cxptest.Circle {
	c := cxptest.NewCircle(t, map[string]string{"leaf": testKey},
		cxp.Exchange{ID: "leaf", Name: "Leaf", URI: testPublic, Ticks: "1", Status: cxp.AccountTrading},
		cxp.Exchange{ID: "acorn", Name: "Acorn", URI: testPeerURI, Ticks: "2.5", Status: cxp.AccountTrading},
		cxp.Exchange{ID: "pine", Name: "Pine", URI: "http://pine.example", Ticks: "1", Status: cxp.AccountBlocked},
	)
	c.Set(func(c *cxptest.Circle) { c.PayeeTicks = "2.5" })
	return c
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
