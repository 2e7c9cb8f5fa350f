package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/cmd/sxp/sxptest"
	"github.com/sxp-network/sxp/migrations/pgtest"
)

// The setup the end-to-end tests share: community servers on their own
// databases and loopback ports, peered on the command line as organisers
// would, alone or in a circle whose clearing house serves T.

// migratedDB is a new database with the schema ('sxp migrate up'), and a
// pool on it closed when the test ends.
func migratedDB(t *testing.T, bin string) (string, *pgxpool.Pool) {
	t.Helper()
	db := pgtest.NewDatabase(t)
	sxptest.Run(t, bin, sxptest.WithoutSettings(), "migrate", "up", "--database", db)
	pool, err := pgxpool.New(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return db, pool
}

// startCommunity starts 'sxp community' on s.listen with s.args and the
// given flags, and waits until it is ready.
func startCommunity(t *testing.T, bin string, s *fedServer, flags ...string) {
	t.Helper()
	s.proc = startSXP(t, bin, s.id, append(append([]string{"community", "--listen", s.listen}, flags...), s.args...)...)
	s.proc.WaitReady(s.base+"/readyz", readyWithin)
}

// fedCommunity names one community of startCommunities.
type fedCommunity struct{ id, name, cur string }

// startCommunities starts a community server, alone (no circle), for each
// of coms, on a migrated database of its own and a free loopback port. Its
// settings are the community's database, id, name and currency (2
// divisions), its public URL, then what more gives it.
func startCommunities(t *testing.T, bin string, coms []fedCommunity, more func(s *fedServer) []string) []*fedServer {
	t.Helper()
	ports := sxptest.FreePorts(t, len(coms))
	var servers []*fedServer
	for i, c := range coms {
		s := &fedServer{id: c.id, listen: fmt.Sprintf("127.0.0.1:%d", ports[i]), base: fmt.Sprintf("http://127.0.0.1:%d", ports[i])}
		s.db, s.pool = migratedDB(t, bin)
		s.args = append([]string{"--database", s.db, "--community-id", c.id, "--community-name", c.name, "--currency", c.cur,
			"--currency-divisions", "2", "--public-url", s.base}, more(s)...)
		startFedServer(t, bin, s)
		servers = append(servers, s)
	}
	return servers
}

// peerServers makes a and b peers: a adds b, then b adds a and must say the
// peering is active.
func peerServers(t *testing.T, bin string, a, b *fedServer) {
	t.Helper()
	sxptest.Run(t, bin, sxptest.WithoutSettings(), append([]string{"peers", "add", b.base}, a.args...)...)
	if out := sxptest.Run(t, bin, sxptest.WithoutSettings(), append([]string{"peers", "add", a.base}, b.args...)...); !strings.Contains(out, ": active (") {
		t.Fatalf("%s peers %s: got %q", b.id, a.id, out)
	}
}

// contractsCommunity is a community server of a contractsCircle.
type contractsCommunity struct {
	fedServer
	cur   string
	admin string // an admin's token (ada's)
}

// contractsCircle is a clearing house (circle valley, unit VAL, serving T
// at /arbiter/v1) and three community servers in it, leaf, oak and pine
// (LEAF, OAK, PINE at rate 1), peered with each other, each with an admin
// ada; no server is given an --arbiter-url, so rounds name the circle's
// clearing house as T.
type contractsCircle struct {
	clearingURL, clearingDB string
	cpool                   *pgxpool.Pool // on the clearing house's database
	coms                    []*contractsCommunity
	// start starts c's server (again), with a handshake every 2s.
	start func(c *contractsCommunity)
}

// startContractsCircle starts a contractsCircle.
func startContractsCircle(t *testing.T, bin string) *contractsCircle {
	t.Helper()
	ports := sxptest.FreePorts(t, 4)
	cc := &contractsCircle{clearingURL: fmt.Sprintf("http://127.0.0.1:%d", ports[0]), clearingDB: pgtest.NewDatabase(t)}
	run := func(stdin string, args ...string) string {
		t.Helper()
		return sxptest.RunInput(t, bin, sxptest.WithoutSettings(), stdin, args...)
	}
	run("", "admin", "circle", "init", "valley", "--unit", "VAL", "--divisions", "2", "--name", "Valley circle", "--database", cc.clearingDB)
	for i, id := range []string{"leaf", "oak", "pine"} {
		c := &contractsCommunity{fedServer: fedServer{id: id, listen: fmt.Sprintf("127.0.0.1:%d", ports[i+1])}, cur: strings.ToUpper(id)}
		c.base = "http://" + c.listen
		out := run("", "admin", "community", "add", c.id, "--name", c.id, "--uri", c.base, "--rate", "1",
			"--min", "-1000", "--max", "1000", "--secret", e2eSecret, "--database", cc.clearingDB)
		c.db, c.pool = migratedDB(t, bin)
		c.args = []string{"--database", c.db, "--community-id", c.id, "--community-name", c.id, "--currency", c.cur,
			"--currency-divisions", "2", "--public-url", c.base, "--circle-url", cc.clearingURL, "--circle-id", "valley",
			"--circle-key", sxptest.KeyLine(t, out), "--rate", "1", "--default-min", "-100", "--default-max", "1000",
			"--registration", "open", "--federation-retry", "200ms", "--federation-timeout", "2s"}
		cc.coms = append(cc.coms, c)
	}
	clearing := startSXP(t, bin, "clearing", "clearing", "--listen", fmt.Sprintf("127.0.0.1:%d", ports[0]), "--database", cc.clearingDB,
		"--secret", e2eSecret, "--admin-token", e2eAdminToken, "--public-url", cc.clearingURL)
	clearing.WaitReady(cc.clearingURL+"/readyz", readyWithin)
	cpool, err := pgxpool.New(context.Background(), cc.clearingDB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cpool.Close)
	cc.cpool = cpool
	cc.start = func(c *contractsCommunity) {
		t.Helper()
		startCommunity(t, bin, &c.fedServer, "--handshake-interval", "2s")
	}
	for _, c := range cc.coms {
		cc.start(c)
	}
	leaf, oak, pine := cc.coms[0], cc.coms[1], cc.coms[2]
	for _, pair := range [][2]*contractsCommunity{{leaf, oak}, {oak, pine}, {leaf, pine}} {
		peerServers(t, bin, &pair[0].fedServer, &pair[1].fedServer)
	}
	for _, c := range cc.coms {
		run(e2ePassword+"\n", append([]string{"members", "add", "ada", "--password-stdin", "--admin", "--name", "Ada"}, c.args...)...)
		c.admin = login(t, c.base, "ada", e2ePassword)
	}
	return cc
}

// postOffer posts an offer (category goods) on base as token's member, a
// money offer when money is not nil, and returns its URL, which is its
// origin id: base/announcements/{id}.
func postOffer(t *testing.T, base, token, title string, money map[string]string) string {
	t.Helper()
	body := map[string]any{"kind": "offer", "title": title, "category": "goods"}
	if money != nil {
		body["money"] = money
	}
	st, out := apiJSON(t, base, "POST", "/api/v1/announcements", token, body)
	if st != 201 {
		t.Fatalf("offer %q: %d %v", title, st, out)
	}
	return fmt.Sprintf("%s/announcements/%d", base, int64(out["id"].(float64)))
}

// putWants sets the want list of offer (a URL of postOffer's): the offers,
// by origin id, its author would take for it.
func putWants(t *testing.T, base, token, offer string, accepts ...string) {
	t.Helper()
	id := offer[strings.LastIndex(offer, "/")+1:]
	if st, out := apiJSON(t, base, "PUT", "/api/v1/wantlists/"+id, token, map[string]any{"accepts": accepts}); st != 200 {
		t.Fatalf("want list of %s: %d %v", offer, st, out)
	}
}

// holdsAnnouncements says whether the database of pool holds every one of
// the announcements ids (origin ids).
func holdsAnnouncements(pool *pgxpool.Pool, ids ...string) bool {
	var n int
	err := pool.QueryRow(context.Background(), `SELECT count(*) FROM announcements WHERE origin_id = ANY($1)`, ids).Scan(&n)
	return err == nil && n == len(ids)
}

// promisesWithoutT checks each community's metrics: its server sent its
// member's 4 promises of a loop of three to the 2 others (8) and never
// called T.
func (cc *contractsCircle) promisesWithoutT(t *testing.T) {
	t.Helper()
	for _, c := range cc.coms {
		_, text := getText(t, c.base+"/metrics")
		for _, want := range []string{`sxp_contract_promises_sent_total{result="ok"} 8`,
			`sxp_contract_arbiter_requests_total{kind="resolve",result="ok"} 0`,
			`sxp_contract_arbiter_requests_total{kind="decision",result="ok"} 0`} {
			if !strings.Contains(text, want) {
				t.Errorf("%s/metrics has no %s", c.id, want)
			}
		}
	}
}

// reconciles checks the circle's integrity from each community's side: a
// handshake, then a reconcile that is ok with the base sum baseSum[id]
// (base units, e.g. "-20.00"); pine first, then oak, then leaf.
func (cc *contractsCircle) reconciles(t *testing.T, baseSum map[string]string) {
	t.Helper()
	for i := len(cc.coms) - 1; i >= 0; i-- {
		c := cc.coms[i]
		apiJSON(t, c.base, "POST", "/api/v1/admin/intertrade/handshake", c.admin, nil)
		st, out := apiJSON(t, c.base, "POST", "/api/v1/admin/intertrade/reconcile", c.admin, nil)
		t.Logf("%s reconcile: %d %v", c.id, st, out)
		if st != 200 || out["ok"] != true || out["base_sum"] != baseSum[c.id] || fmt.Sprint(out["problems"]) != "[]" {
			t.Errorf("%s integrity: got %d %v, want ok with base %s", c.id, st, out, baseSum[c.id])
		}
	}
}

// bundleVerifies downloads contract h's bundle from base as token's member
// and checks that 'sxp contract verify' finds it signed offline.
func bundleVerifies(t *testing.T, bin, base, token, h string) {
	t.Helper()
	st, bundle := apiJSON(t, base, "GET", "/api/v1/contracts/"+h+"/bundle", token, nil)
	if st != 200 {
		t.Fatalf("bundle: %d %v", st, bundle)
	}
	file := filepath.Join(t.TempDir(), "contract.json")
	raw, _ := json.Marshal(bundle)
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	verify := sxptest.Run(t, bin, sxptest.WithoutSettings(), "contract", "verify", file)
	t.Logf("sxp contract verify:\n%s", verify)
	if !strings.Contains(verify, "contract: "+h) || !strings.Contains(verify, "signed: yes, by M[4]") {
		t.Errorf("sxp contract verify: got %q", verify)
	}
}
