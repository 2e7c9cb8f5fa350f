package deals_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
	"github.com/sxp-network/sxp/server/deals"
	"github.com/sxp-network/sxp/server/memberkeys"
)

// keyOf is a fixed public key made from s (a remote party's, in tests).
func keyOf(s string) ed25519.PublicKey {
	seed := sha256.Sum256([]byte(s))
	return ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
}

// testTTP is the arbiter the tests' servers trust, its key given.
var testTTP = contract.TTP{URL: "http://arbiter.test", Key: contract.EncodeKey(keyOf("arbiter"))}

// arbiterServer serves GET /arbiter/v1/key with key and counts the requests.
func arbiterServer(t *testing.T, key string) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/arbiter/v1/key" {
			http.NotFound(w, r)
			return
		}
		n.Add(1)
		json.NewEncoder(w).Encode(map[string]string{"key": key})
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// TestProposalKeys: every party of a proposal has its key (a local member's
// current one, a remote one from their want list), the ttp is the arbiter
// with its fetched key; a loop with a party whose key is unknown is not
// proposed.
func TestProposalKeys(t *testing.T) {
	ctx := context.Background()
	m := newMarket(t)
	bike, lamp := m.offer("alice", "Bike", nil), m.offer("bob", "Lamp", nil)
	canoe := m.oakOffer(5, "carol", "Canoe")
	drill := m.oakOffer(6, "dave", "Drill")
	m.wants("alice", bike, canoe)
	m.oakWants(canoe, bike) // alice ⇄ carol (carol's key came with her want list)
	m.wants("bob", lamp, drill)
	if _, err := m.pool.Exec(ctx, `INSERT INTO remote_wantlists (object_id, origin, offer, accepts) VALUES ($1, $2, $3, $4)`,
		oak+"/wantlists/6", oak, drill, []string{lamp}); err != nil { // bob ⇄ dave, whose want list came without a key
		t.Fatal(err)
	}
	arbKey := contract.EncodeKey(keyOf("the real arbiter"))
	arb, fetched := arbiterServer(t, arbKey)
	keys, _ := memberkeys.New(m.pool, "a secret")
	svc := deals.New(m.pool, deals.Config{BaseURL: leaf, CommunityID: "leaf", Currency: "LEAF", Divisions: 2,
		Now: func() time.Time { return now }, TTP: contract.TTP{URL: arb.URL + "/"}, Keys: keys})
	res, err := svc.Round(ctx, deals.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Proposals) != 1 || len(res.Loops) != 1 || res.Trades != 2 {
		t.Fatalf("round: got %d proposals, loops %q; want only alice ⇄ carol (dave has no key)", len(res.Proposals), res.Loops)
	}
	c := res.Proposals[0].Contract
	alicePub, _, _ := keys.Key(ctx, "alice")
	want := map[string]string{"alice@leaf": contract.EncodeKey(alicePub), "carol@oak": contract.EncodeKey(keyOf(canoe))}
	for _, p := range c.Parties {
		if p.Key != want[p.Member] {
			t.Errorf("party %s: got key %q, want %q", p.Member, p.Key, want[p.Member])
		}
	}
	if c.TTP != (contract.TTP{URL: arb.URL, Key: arbKey}) {
		t.Errorf("ttp: got %+v, want %s with the fetched key", c.TTP, arb.URL)
	}
	body, _ := json.Marshal(c)
	if _, err := contract.Parse(body); err != nil {
		t.Errorf("the proposal is not a valid sxp-contract/1: %v", err)
	}
	// The key is fetched once and kept: a second round proposes again.
	if _, err := m.pool.Exec(ctx, `DELETE FROM deal_proposals`); err != nil {
		t.Fatal(err)
	}
	if res, err := svc.Round(ctx, deals.Options{}); err != nil || len(res.Proposals) != 1 {
		t.Fatalf("second round: got %d proposals, %v; want 1", len(res.Proposals), err)
	}
	if got := fetched.Load(); got != 1 {
		t.Errorf("arbiter key fetched %d times, want 1", got)
	}

	// A server without an arbiter proposes nothing and says why.
	m.wants("bob", lamp, bike)
	alone := deals.New(m.pool, deals.Config{BaseURL: leaf, CommunityID: "leaf", Currency: "LEAF", Divisions: 2,
		Now: func() time.Time { return now }})
	if _, err := m.pool.Exec(ctx, `DELETE FROM deal_proposals`); err != nil {
		t.Fatal(err)
	}
	if _, err := alone.Round(ctx, deals.Options{}); err == nil || !strings.Contains(err.Error(), "SXP_ARBITER_URL") {
		t.Errorf("round without an arbiter: got %v, want an error naming SXP_ARBITER_URL", err)
	}
}

// TestReceiveKeys: a proposal naming a party of this server with a key that
// is not the member's, or another arbiter, is refused and nothing stored.
func TestReceiveKeys(t *testing.T) {
	ctx := context.Background()
	m := newMarket(t)
	bike := m.offer("alice", "Bike", nil)
	canoe := m.oakOffer(5, "carol", "Canoe")
	keys, _ := memberkeys.New(m.pool, "a secret")
	svc := deals.New(m.pool, deals.Config{BaseURL: leaf, CommunityID: "leaf", Currency: "LEAF", Divisions: 2,
		Now: func() time.Time { return now }, TTP: testTTP, Keys: keys})
	alicePub, _, err := keys.Key(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	proposal := func(edit func(c *contract.Contract)) json.RawMessage {
		c := contract.Contract{Type: "sxp-contract/1", ID: "0b6c3c1e-9a4f-4d7e-8a51-6f0d2c1b9e10", Proposer: oak,
			CreatedAt: now.Format(time.RFC3339), Deadline: now.Add(time.Hour).Format(time.RFC3339), RoundTimeoutS: 60, Nonce: "n1",
			Parties: []contract.Party{{Member: "alice@leaf", Server: leaf, Key: contract.EncodeKey(alicePub)},
				{Member: "carol@oak", Server: oak, Key: contract.EncodeKey(keyOf("carol"))}},
			Legs: []contract.Leg{{From: 0, To: 1, Offer: bike, Title: "Bike"}, {From: 1, To: 0, Offer: canoe, Title: "Canoe"}},
			TTP:  testTTP}
		edit(&c)
		b, _ := json.Marshal(c)
		return b
	}
	for _, tt := range []struct {
		name string
		edit func(c *contract.Contract)
		want string
	}{
		{"forged key of alice", func(c *contract.Contract) { c.Parties[0].Key = contract.EncodeKey(keyOf("mallory")) },
			`key "` + contract.EncodeKey(keyOf("mallory")) + `" is not alice@leaf's contract key`},
		{"no key", func(c *contract.Contract) { c.Parties[0].Key = "" }, "parties[0].key"},
		{"another arbiter", func(c *contract.Contract) { c.TTP.URL = "http://other-arbiter.test" }, "is not the arbiter this server trusts"},
		{"another arbiter key", func(c *contract.Contract) { c.TTP.Key = contract.EncodeKey(keyOf("mallory")) }, "is not the arbiter this server trusts"},
		{"no arbiter", func(c *contract.Contract) { c.TTP = contract.TTP{} }, "ttp.url"},
		{"a member unknown here", func(c *contract.Contract) {
			c.Parties = append(c.Parties, contract.Party{Member: "zed@leaf", Server: leaf, Key: contract.EncodeKey(keyOf("zed"))})
		},
			"zed@leaf has no contract key here"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := svc.Receive(ctx, oak, proposal(tt.edit))
			if e, ok := err.(*deals.Error); !ok || e.Code != deals.CodeInvalid || !strings.Contains(e.Message, tt.want) {
				t.Errorf("got %v, want invalid: …%s…", err, tt.want)
			}
			var n int
			if err := m.pool.QueryRow(ctx, `SELECT count(*) FROM deal_proposals`).Scan(&n); err != nil || n != 0 {
				t.Errorf("got %d proposals stored (%v), want 0", n, err)
			}
		})
	}
	h, err := svc.Receive(ctx, oak, proposal(func(*contract.Contract) {}))
	if err != nil || len(h) != 64 {
		t.Fatalf("the true proposal: got %q, %v; want it stored", h, err)
	}
	// Once alice registers her own key, the server-held one no longer passes.
	own := keyOf("alice's own")
	if err := keys.SetOwn(ctx, "alice", own); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Receive(ctx, oak, proposal(func(c *contract.Contract) { c.Nonce = "n2" }))
	if e, ok := err.(*deals.Error); !ok || !strings.Contains(e.Message, "is not alice@leaf's contract key") {
		t.Errorf("her old key after SetOwn: got %v, want refused", err)
	}
	if _, err := svc.Receive(ctx, oak, proposal(func(c *contract.Contract) { c.Nonce = "n3"; c.Parties[0].Key = contract.EncodeKey(own) })); err != nil {
		t.Errorf("her own key: got %v, want stored", err)
	}
}

// TestProposalSharedKey: a peer that sends one key for two of its members
// gets no proposal naming both (a contract's parties have distinct keys).
func TestProposalSharedKey(t *testing.T) {
	ctx := context.Background()
	m := newMarket(t)
	bike := m.offer("alice", "Bike", nil)
	canoe, drill := m.oakOffer(5, "carol", "Canoe"), m.oakOffer(6, "dave", "Drill")
	m.wants("alice", bike, drill)
	for _, w := range [][2]string{{canoe, bike}, {drill, canoe}} {
		if _, err := m.pool.Exec(ctx, `INSERT INTO remote_wantlists (object_id, origin, offer, accepts, key) VALUES ($1, $2, $3, $4, $5)`,
			w[0]+"#w", oak, w[0], []string{w[1]}, []byte(keyOf("one key for both"))); err != nil {
			t.Fatal(err)
		}
	}
	svc := deals.New(m.pool, deals.Config{BaseURL: leaf, CommunityID: "leaf", Currency: "LEAF", Divisions: 2,
		Now: func() time.Time { return now }, TTP: testTTP})
	res, err := svc.Round(ctx, deals.Options{})
	if err != nil || len(res.Proposals) != 0 || res.WantLists != 3 {
		t.Fatalf("round: got %d proposals over %d want lists, %v; want none over 3", len(res.Proposals), res.WantLists, err)
	}
	// With distinct keys the same loop is proposed.
	if _, err := m.pool.Exec(ctx, `UPDATE remote_wantlists SET key = $2 WHERE offer = $1`, drill, []byte(keyOf("dave"))); err != nil {
		t.Fatal(err)
	}
	if res, err := svc.Round(ctx, deals.Options{}); err != nil || len(res.Proposals) != 1 || res.Trades != 3 {
		t.Fatalf("round with distinct keys: got %d proposals, %d trades, %v; want the loop of 3", len(res.Proposals), res.Trades, err)
	}
}
