package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/clearing"
	"github.com/sxp-network/sxp/clearing/app"
	"github.com/sxp-network/sxp/clearing/cxp/contract"
	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/migrations/pgtest"
	"github.com/sxp-network/sxp/server"
	"github.com/sxp-network/sxp/server/deals"
	"github.com/sxp-network/sxp/server/members"
)

// TestArbiterFromClearingHouse: a community whose arbiter is a real clearing
// house (SXP_ARBITER_URL, no key pinned) names it in its proposals with the
// key the clearing house serves at GET /arbiter/v1/key.
func TestArbiterFromClearingHouse(t *testing.T) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	var mu sync.Mutex
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := handler
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	init, err := clearing.New(pool, ledger.New(pool, ledger.Options{}), clearing.Options{Secret: "clearing secret"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := init.InitCircle(ctx, "Valley", "valley", "", "UVAL", 2); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, app.Config{Secret: "clearing secret", PublicURL: srv.URL}, pool, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	handler = a.Handler()
	mu.Unlock()
	resp, err := http.Get(srv.URL + "/arbiter/v1/key")
	if err != nil {
		t.Fatal(err)
	}
	var served struct{ Key string }
	json.NewDecoder(resp.Body).Decode(&served)
	resp.Body.Close()
	if _, err := contract.DecodeKey(served.Key); err != nil {
		t.Fatalf("the clearing house's arbiter key: got %q: %v", served.Key, err)
	}

	e := newEnv(t, func(c *server.Config) { c.ArbiterURL, c.ArbiterKey = srv.URL, "" })
	e.member("alice", members.RoleMember)
	e.member("bob", members.RoleMember)
	e.member("root", members.RoleAdmin)
	offer := func(user, title string) string {
		st, body := e.call(user, "POST", "/api/v1/announcements", `{"kind":"offer","title":"`+title+`","category":"goods"}`)
		if st != http.StatusCreated {
			t.Fatalf("offer: got %d %v", st, body)
		}
		return jsonNumber(body["id"].(float64))
	}
	bike, lamp := offer("alice", "Bike"), offer("bob", "Lamp")
	for _, w := range [][3]string{{"alice", bike, lamp}, {"bob", lamp, bike}} {
		if st, body := e.call(w[0], "PUT", "/api/v1/wantlists/"+w[1], `{"accepts":["`+w[2]+`"]}`); st != http.StatusOK {
			t.Fatalf("want list: got %d %v", st, body)
		}
	}
	res, err := e.srv.Deals.Round(ctx, deals.Options{})
	if err != nil || len(res.Proposals) != 1 {
		t.Fatalf("round: got %d proposals, %v; want 1", len(res.Proposals), err)
	}
	c := res.Proposals[0].Contract
	if c.TTP.URL != srv.URL || c.TTP.Key != served.Key {
		t.Errorf("ttp: got %+v, want %s with key %s", c.TTP, srv.URL, served.Key)
	}
	for _, p := range c.Parties {
		if want := contractKeyOf(t, e, p.Member[:len(p.Member)-len("@leaf")]); p.Key != want {
			t.Errorf("party %s: got key %s, want %s", p.Member, p.Key, want)
		}
	}
}

func contractKeyOf(t *testing.T, e *env, user string) string {
	t.Helper()
	pub, _, err := e.srv.Keys.Key(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	return contract.EncodeKey(pub)
}
