package main

// The end-to-end test of intertrading between two community servers
// through a clearing house, all real `sxp` processes on loopback ports, each
// on its own database: leaf (LEAF, 2 divisions, rate 1) and acorn (ACORN,
// 2 divisions, rate 2.5) in circle "ring" (base unit HOUR, 2 divisions).
//
// acorn's CXP uri is a small proxy in this test in front of its server, so
// that the test can stop the acorn server when the clearing house's
// really=true relay reaches it.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/cmd/sxp/sxptest"
	"github.com/sxp-network/sxp/migrations/pgtest"
	"github.com/sxp-network/sxp/server/payments"
)

const (
	itSecret   = "intertrade e2e clearing secret"
	itPassword = "a long enough e2e password"
)

func TestCommunityIntertradingEndToEnd(t *testing.T) {
	w := newItWorld(t)

	// Members and admins of both communities, through the API and the CLI.
	alice := w.register(w.leaf, "alice")
	bob := w.register(w.acorn, "bob")
	leafAdmin := w.admin("leaf", w.leaf)
	acornAdmin := w.admin("acorn", w.acornDirect)

	// The pay form's list of the circle's communities.
	st, out := w.api(w.leaf, "GET", "/api/v1/intertrade/communities", alice, nil)
	if st != 200 || fmt.Sprint(out["communities"]) != fmt.Sprintf("[map[id:acorn name:Acorn Hill ticks:2.5 trading:true uri:%s]]", w.acorn) {
		t.Fatalf("communities: got %d %v", st, out)
	}

	// alice@leaf pays bob@acorn 25.00 LEAF = 25.00 HOUR = 10.00 ACORN.
	st, out = w.pay(w.leaf, alice, "bob@acorn", "25.00", "apples-1")
	if st != http.StatusCreated || out["status"] != "completed" || out["quantity"] != "25.00" || out["ticks"] != "1" {
		t.Fatalf("pay alice → bob@acorn: got %d %v, want 201 completed, 25.00 base at rate 1", st, out)
	}
	firstID := out["id"]
	w.expect(itBalances{alice: "-25.00", bob: "10.00", leafIE: "25.00", acornIE: "-10.00", leafVC: -2500, acornVC: 2500}, alice, bob, leafAdmin, acornAdmin)

	// The same idempotency key: the same payment, nothing moves again.
	st, out = w.pay(w.leaf, alice, "bob@acorn", "25.00", "apples-1")
	if st != http.StatusCreated || out["id"] != firstID || out["status"] != "completed" {
		t.Fatalf("repeated key: got %d %v, want 201 with id %v", st, out, firstID)
	}

	// bob@acorn pays alice@leaf 4.00 ACORN = 10.00 HOUR = 10.00 LEAF.
	st, out = w.pay(w.acornDirect, bob, "alice@leaf", "4.00", "pears-1")
	if st != http.StatusCreated || out["status"] != "completed" || out["quantity"] != "10.00" || out["ticks"] != "2.5" {
		t.Fatalf("pay bob → alice@leaf: got %d %v, want 201 completed, 10.00 base at rate 2.5", st, out)
	}
	want := itBalances{alice: "-15.00", bob: "6.00", leafIE: "15.00", acornIE: "-6.00", leafVC: -1500, acornVC: 1500}
	w.expect(want, alice, bob, leafAdmin, acornAdmin)
	w.integrityOK(leafAdmin, acornAdmin, "15.00", "-15.00")

	// Over the circle's limit (leaf's virtual customer may go down to
	// -100.00): 90.00 more would make it -105.00. Refused with code 4,
	// every balance unchanged.
	st, out = w.pay(w.leaf, alice, "bob@acorn", "90.00", "too-much")
	if e := itErrorOf(out); st != http.StatusUnprocessableEntity || e["cxp"] != float64(4) || e["message"] != "the circle's limit for our community would be exceeded" {
		t.Fatalf("over the circle's limit: got %d %v, want 422 with cxp 4", st, out)
	}
	w.expect(want, alice, bob, leafAdmin, acornAdmin)
	w.lastIntertrade(leafAdmin, "failed", 4)

	// Over bob's own limit (members' max 20.00 on acorn, bob has 6.00):
	// 50.00 LEAF = 20.00 ACORN. acorn refuses the relay with 24.
	st, out = w.pay(w.leaf, alice, "bob@acorn", "50.00", "too-much-for-bob")
	if e := itErrorOf(out); st != http.StatusUnprocessableEntity || e["cxp"] != float64(24) || e["message"] != "the other community can't accept that much for this member" {
		t.Fatalf("over bob's limit: got %d %v, want 422 with cxp 24", st, out)
	}
	w.expect(want, alice, bob, leafAdmin, acornAdmin)

	// acorn's server stops when the really=true relay reaches acorn's uri,
	// which gets no answer. The
	// clearing house cannot know whether acorn wrote it, so nothing is
	// voided (issue 10, hole 1; the clearing house used to void it and
	// answer 26): the payment is pending on leaf and on the clearing house,
	// alice's 2.00 held on both.
	w.proxy.stopOnWrite()
	st, out = w.pay(w.leaf, alice, "bob@acorn", "2.00", "while-stopping")
	if st != http.StatusAccepted || out["status"] != "pending" {
		t.Fatalf("relay to a stopping server: got %d %v, want 202 pending", st, out)
	}
	if !w.proxy.sawWrite() {
		t.Fatalf("the really=true relay never reached acorn's uri")
	}
	if _, out := w.api(w.leaf, "GET", "/api/v1/admin/intertrade/history?limit=1", leafAdmin, nil); fmt.Sprint(out["intertrades"]) == "" ||
		!strings.Contains(fmt.Sprint(out["intertrades"]), "state:pending") || !strings.Contains(fmt.Sprint(out["intertrades"]), "cxp_code:<nil>") {
		t.Fatalf("leaf's last intertrade: got %v, want pending without an answer code", out)
	}
	if n := w.clearingIntertrades("pending", 0); n != 1 {
		t.Fatalf("pending intertrades at the clearing house: got %d, want 1", n)
	}
	if n := w.clearingIntertrades("voided", 26); n != 0 {
		t.Fatalf("voided intertrades at the clearing house: got %d, want 0", n)
	}
	if got := w.account(w.leaf, alice); got != want.alice {
		t.Fatalf("alice while pending: got %s, want %s (2.00 held, not moved)", got, want.alice)
	}
	// A payment while acorn is down behind its proxy: the payer sends one
	// try, really=true (issue 15: no really=false try first), so the
	// clearing house holds and relays; the proxy answers for the stopped
	// server, so whether acorn wrote it is not certain: pending, held on
	// both sides, never voided.
	st, out = w.pay(w.leaf, alice, "bob@acorn", "2.00", "while-stopped")
	if st != http.StatusAccepted || out["status"] != "pending" {
		t.Fatalf("pay while acorn is stopped: got %d %v, want 202 pending", st, out)
	}
	if n := w.clearingIntertrades("voided", 26); n != 0 {
		t.Fatalf("voided intertrades at the clearing house: got %d, want 0", n)
	}

	// acorn's server comes back on its database. The clearing house's
	// recovery asks it again with the same temp_id (it never got the
	// relays, so it writes them now) and posts both; leaf's retries get the
	// written answers.
	startSXP(t, w.bin, "acorn again", append([]string{"community", "--listen", strings.TrimPrefix(w.acornDirect, "http://"), "--handshake-interval", "1h"}, w.acornArgs...)...).
		WaitReady(w.acornDirect+"/readyz", readyWithin)
	waitUntil(t, "the clearing house posts the recovered relay", 60*time.Second, func() bool {
		return w.clearingIntertrades("posted", 0) == 4
	})
	waitUntil(t, "leaf settles the payment", 60*time.Second, func() bool {
		w.api(w.leaf, "POST", "/api/v1/admin/intertrade/settle", leafAdmin, nil)
		_, out := w.api(w.leaf, "GET", "/api/v1/admin/intertrade/history?state=pending", leafAdmin, nil)
		list, _ := out["intertrades"].([]any)
		return len(list) == 0
	})
	// Twice 2.00 LEAF = 2.00 HOUR = 0.80 ACORN, each once on every side.
	want = itBalances{alice: "-19.00", bob: "7.60", leafIE: "19.00", acornIE: "-7.60", leafVC: -1900, acornVC: 1900}
	w.expect(want, alice, bob, leafAdmin, acornAdmin)
	w.integrityOK(leafAdmin, acornAdmin, "19.00", "-19.00")
}

// waitUntil polls cond until it holds, failing after within (a wait for
// work to happen, not a timing assertion).
func waitUntil(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !cond(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
	}
}

// itBalances are the six numbers every step asserts.
type itBalances struct {
	alice, bob      string // members' balances
	leafIE, acornIE string // import/export accounts
	leafVC, acornVC int64  // virtual customers, HOUR minor units
}

// expect asserts every balance, that nothing is held anywhere, and the
// ledgers' own integrity. acornAdmin "" reads acorn from its database (its
// server is stopped).
func (w *itWorld) expect(want itBalances, alice, bob, leafAdmin, acornAdmin string) {
	t := w.t
	t.Helper()
	if got := w.account(w.leaf, alice); got != want.alice {
		t.Fatalf("alice's balance: got %s, want %s", got, want.alice)
	}
	ieLeaf, heldLeaf := w.importExport(w.leaf, leafAdmin)
	if ieLeaf != want.leafIE || heldLeaf != "0.00" {
		t.Fatalf("leaf's import/export: got %s (held %s), want %s (held 0.00)", ieLeaf, heldLeaf, want.leafIE)
	}
	if acornAdmin != "" {
		if got := w.account(w.acornDirect, bob); got != want.bob {
			t.Fatalf("bob's balance: got %s, want %s", got, want.bob)
		}
		ie, held := w.importExport(w.acornDirect, acornAdmin)
		if ie != want.acornIE || held != "0.00" {
			t.Fatalf("acorn's import/export: got %s (held %s), want %s (held 0.00)", ie, held, want.acornIE)
		}
	} else {
		for code, wantBal := range map[string]string{"member:bob": want.bob, "intertrade:import-export": want.acornIE} {
			bal, pd, pc := w.dbAccount(w.acornDB, code)
			if got := (payments.Currency{Code: "ACORN", Divisions: 2}).Format(bal); got != wantBal || pd != 0 || pc != 0 {
				t.Fatalf("acorn's %s: got %s (held %d/%d), want %s", code, got, pd, pc, wantBal)
			}
		}
	}
	w.ledgersSumToZero()
	w.t.Logf("balances ok: alice %s, bob %s, import/export leaf %s acorn %s, virtual customers leaf %d acorn %d (HOUR minor units)",
		want.alice, want.bob, want.leafIE, want.acornIE, want.leafVC, want.acornVC)
	for id, wantBal := range map[string]int64{"leaf": want.leafVC, "acorn": want.acornVC} {
		var c struct {
			Balance        int64 `json:"balance"`
			PendingDebits  int64 `json:"pending_debits"`
			PendingCredits int64 `json:"pending_credits"`
		}
		w.sxpJSON(&c, "admin", "community", "show", id, "--database", w.clearingDB, "--secret", itSecret)
		if c.Balance != wantBal || c.PendingDebits != 0 || c.PendingCredits != 0 {
			t.Fatalf("virtual customer %s: got %+v, want balance %d, nothing held", id, c, wantBal)
		}
	}
}

// integrityOK reconciles both communities and checks their reports.
func (w *itWorld) integrityOK(leafAdmin, acornAdmin, leafBase, acornBase string) {
	t := w.t
	t.Helper()
	for _, c := range []struct{ name, base, token, sum string }{
		{"leaf", w.leaf, leafAdmin, leafBase}, {"acorn", w.acornDirect, acornAdmin, acornBase},
	} {
		st, out := w.api(c.base, "POST", "/api/v1/admin/intertrade/reconcile", c.token, nil)
		neg := "-" + c.sum
		if strings.HasPrefix(c.sum, "-") {
			neg = c.sum[1:]
		}
		if st != 200 || out["ok"] != true || out["base_sum"] != c.sum || out["circle_balance"] != neg || fmt.Sprint(out["problems"]) != "[]" {
			t.Fatalf("%s integrity: got %d %v, want ok with base %s and circle %s", c.name, st, out, c.sum, neg)
		}
	}
	w.clearingIntegrity(map[string]string{"leaf": acornBase, "acorn": leafBase})
}

// clearingIntegrity checks the clearing house's view: each community's
// reported import/export balance is minus its virtual customer's.
func (w *itWorld) clearingIntegrity(vc map[string]string) {
	t := w.t
	t.Helper()
	var rep struct {
		Communities []struct {
			Community string  `json:"community"`
			VC        string  `json:"virtual_customer_balance"`
			Reported  *string `json:"reported_balance"`
			OK        *bool   `json:"ok"`
		} `json:"communities"`
	}
	w.sxpJSON(&rep, "admin", "integrity", "--database", w.clearingDB, "--secret", itSecret)
	seen := 0
	for _, c := range rep.Communities {
		want, ok := vc[c.Community]
		if !ok {
			continue
		}
		seen++
		if c.VC != want || c.OK == nil || !*c.OK || c.Reported == nil {
			t.Fatalf("clearing integrity of %s: got %+v (reported %v, ok %v), want virtual customer %s, ok", c.Community, c, c.Reported, c.OK, want)
		}
	}
	if seen != len(vc) {
		t.Fatalf("clearing integrity: got %d communities, want %d: %+v", seen, len(vc), rep)
	}
}

// lastIntertrade checks the newest intertrade of a community.
func (w *itWorld) lastIntertrade(admin, state string, code int) {
	t := w.t
	t.Helper()
	st, out := w.api(w.leaf, "GET", "/api/v1/admin/intertrade/history?limit=1", admin, nil)
	list, _ := out["intertrades"].([]any)
	if st != 200 || len(list) != 1 {
		t.Fatalf("history: got %d %v", st, out)
	}
	row := list[0].(map[string]any)
	if row["state"] != state || row["cxp_code"] != float64(code) {
		t.Fatalf("last intertrade: got %v, want %s with code %d", row, state, code)
	}
}

// clearingIntertrades counts the clearing house's intertrades by status and code.
func (w *itWorld) clearingIntertrades(status string, code int) int {
	w.t.Helper()
	conn, err := pgx.Connect(w.t.Context(), w.clearingDB)
	if err != nil {
		w.t.Fatal(err)
	}
	defer conn.Close(w.t.Context())
	var n int
	if err := conn.QueryRow(w.t.Context(), `SELECT count(*) FROM clearing_intertrades WHERE status = $1 AND result_code = $2`,
		status, code).Scan(&n); err != nil {
		w.t.Fatal(err)
	}
	return n
}

func (w *itWorld) dbAccount(dbURL, code string) (balance, pendingDebits, pendingCredits int64) {
	w.t.Helper()
	conn, err := pgx.Connect(w.t.Context(), dbURL)
	if err != nil {
		w.t.Fatal(err)
	}
	defer conn.Close(w.t.Context())
	if err := conn.QueryRow(w.t.Context(), `SELECT balance, pending_debits, pending_credits FROM ledger_accounts WHERE code = $1`,
		code).Scan(&balance, &pendingDebits, &pendingCredits); err != nil {
		w.t.Fatalf("account %s: %v", code, err)
	}
	return
}

// ledgersSumToZero checks each database's ledger: every currency's
// balances sum to zero and every hold's two sides match.
func (w *itWorld) ledgersSumToZero() {
	w.t.Helper()
	for _, db := range []string{w.clearingDB, w.leafDB, w.acornDB} {
		conn, err := pgx.Connect(w.t.Context(), db)
		if err != nil {
			w.t.Fatal(err)
		}
		rows, err := conn.Query(w.t.Context(), `SELECT currency, sum(balance)::bigint, (sum(pending_debits) - sum(pending_credits))::bigint
			FROM ledger_accounts GROUP BY currency ORDER BY currency`)
		if err != nil {
			w.t.Fatal(err)
		}
		for rows.Next() {
			var cur string
			var sum, held int64
			if err := rows.Scan(&cur, &sum, &held); err != nil {
				w.t.Fatal(err)
			}
			if sum != 0 || held != 0 {
				w.t.Fatalf("ledger %s: balances sum to %d, holds to %d; want 0, 0", cur, sum, held)
			}
		}
		if err := rows.Err(); err != nil {
			w.t.Fatal(err)
		}
		conn.Close(w.t.Context())
	}
}

func itErrorOf(out map[string]any) map[string]any {
	e, _ := out["error"].(map[string]any)
	return e
}

// itWorld is the running circle.
type itWorld struct {
	t                                  *testing.T
	bin                                string
	clearingDB, leafDB, acornDB        string
	clearing, leaf, acorn, acornDirect string // acorn is its CXP uri (the proxy), acornDirect its server
	leafArgs, acornArgs                []string
	proxy                              *itProxy
}

func newItWorld(t *testing.T) *itWorld {
	w := &itWorld{t: t}
	w.bin = sxptest.BuildSXP(t)
	w.clearingDB, w.leafDB, w.acornDB = pgtest.NewDatabase(t), pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	for _, db := range []string{w.clearingDB, w.leafDB, w.acornDB} {
		if out := w.sxp("", "migrate", "up", "--database", db); !strings.HasPrefix(out, "schema at version ") {
			t.Fatalf("migrate up: %q", out)
		}
	}
	// The proxy listens before the free ports are chosen, so that none of
	// them (released until the servers take them) can be its port.
	w.proxy = newItProxy(t)
	w.acorn = w.proxy.srv.URL
	ports := sxptest.FreePorts(t, 3)
	pClearing, pLeaf, pAcorn := ports[0], ports[1], ports[2]
	w.clearing = fmt.Sprintf("http://127.0.0.1:%d", pClearing)
	w.leaf = fmt.Sprintf("http://127.0.0.1:%d", pLeaf)
	w.acornDirect = fmt.Sprintf("http://127.0.0.1:%d", pAcorn)
	w.proxy.setBackend(w.acornDirect)

	w.sxp("", "admin", "circle", "init", "ring", "--unit", "HOUR", "--divisions", "2", "--database", w.clearingDB)
	keys := map[string]string{}
	for _, c := range []struct{ id, name, uri, rate string }{{"leaf", "Leaf Valley", w.leaf, "1"}, {"acorn", "Acorn Hill", w.acorn, "2.5"}} {
		out := w.sxp("", "admin", "community", "add", c.id, "--name", c.name, "--uri", c.uri, "--rate", c.rate,
			"--min", "-100", "--max", "100", "--database", w.clearingDB, "--secret", itSecret)
		keys[c.id] = sxptest.KeyLine(t, out)
	}
	startSXP(t, w.bin, "clearing", "clearing", "--listen", fmt.Sprintf("127.0.0.1:%d", pClearing), "--database", w.clearingDB, "--secret", itSecret,
		"--relay-timeout", "2s", "--maintenance-interval", "300ms").
		WaitReady(w.clearing+"/readyz", readyWithin)

	settings := func(id, name, cur, rate, public, db string) []string {
		return []string{"--database", db, "--community-id", id, "--community-name", name, "--currency", cur,
			"--currency-divisions", "2", "--public-url", public, "--default-min", "-200", "--default-max", "20",
			"--registration", "open", "--circle-url", w.clearing, "--circle-id", "ring", "--circle-key", keys[id], "--rate", rate,
			"--circle-timeout", "3s"}
	}
	w.leafArgs = settings("leaf", "Leaf Valley", "LEAF", "1", w.leaf, w.leafDB)
	w.acornArgs = settings("acorn", "Acorn Hill", "ACORN", "2.5", w.acorn, w.acornDB)
	leaf := startSXP(t, w.bin, "leaf", append([]string{"community", "--listen", fmt.Sprintf("127.0.0.1:%d", pLeaf), "--handshake-interval", "1h"}, w.leafArgs...)...)
	acorn := startSXP(t, w.bin, "acorn", append([]string{"community", "--listen", fmt.Sprintf("127.0.0.1:%d", pAcorn), "--handshake-interval", "1h"}, w.acornArgs...)...)
	w.proxy.stop = acorn.Stop
	leaf.WaitReady(w.leaf+"/readyz", readyWithin)
	acorn.WaitReady(w.acornDirect+"/readyz", readyWithin)
	return w
}

// sxp runs the binary to completion and returns its stdout.
func (w *itWorld) sxp(stdin string, args ...string) string {
	w.t.Helper()
	return sxptest.RunInput(w.t, w.bin, sxptest.WithoutSettings(), stdin, args...)
}

func (w *itWorld) sxpJSON(v any, args ...string) {
	w.t.Helper()
	out := w.sxp("", args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		w.t.Fatalf("sxp %s: not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (w *itWorld) api(base, method, path, token string, body any) (int, map[string]any) {
	w.t.Helper()
	return apiJSON(w.t, base, method, path, token, body)
}

// register makes a member through the API and returns their token.
func (w *itWorld) register(base, username string) string {
	w.t.Helper()
	if st, out := w.api(base, "POST", "/api/v1/members", "", map[string]string{
		"username": username, "password": itPassword, "display_name": username}); st/100 != 2 {
		w.t.Fatalf("register %s: %d %v", username, st, out)
	}
	return w.login(base, username)
}

func (w *itWorld) login(base, username string) string {
	w.t.Helper()
	return login(w.t, base, username, itPassword)
}

// admin makes the community's admin on the command line and logs in.
func (w *itWorld) admin(community, base string) string {
	w.t.Helper()
	args := w.leafArgs
	if community == "acorn" {
		args = w.acornArgs
	}
	w.sxp(itPassword+"\n", append([]string{"members", "add", "ada", "--password-stdin", "--admin"}, args...)...)
	return w.login(base, "ada")
}

func (w *itWorld) pay(base, token, to, amount, key string) (int, map[string]any) {
	w.t.Helper()
	st, out := w.api(base, "POST", "/api/v1/payments", token, map[string]string{
		"to": to, "amount": amount, "description": "e2e " + key, "idempotency_key": key})
	if e := itErrorOf(out); e != nil {
		w.t.Logf("pay %s %s (%s): %d cxp=%v %q", to, amount, key, st, e["cxp"], e["message"])
	} else {
		w.t.Logf("pay %s %s (%s): %d %v quantity=%v ticks=%v", to, amount, key, st, out["status"], out["quantity"], out["ticks"])
	}
	return st, out
}

func (w *itWorld) account(base, token string) string {
	w.t.Helper()
	st, out := w.api(base, "GET", "/api/v1/me/account", token, nil)
	if st != 200 {
		w.t.Fatalf("account: %d %v", st, out)
	}
	s, _ := out["balance"].(string)
	return s
}

func (w *itWorld) importExport(base, admin string) (balance, held string) {
	w.t.Helper()
	st, out := w.api(base, "GET", "/api/v1/admin/intertrade", admin, nil)
	ie, _ := out["import_export"].(map[string]any)
	if st != 200 || ie == nil {
		w.t.Fatalf("admin intertrade: %d %v", st, out)
	}
	balance, _ = ie["balance"].(string)
	held, _ = ie["held"].(string)
	return balance, held
}

// itProxy forwards the clearing house's relays to acorn's server; after
// stopOnWrite it stops that server when the really=true relay arrives and
// drops the connection, as a server that died would.
type itProxy struct {
	t    *testing.T
	srv  *httptest.Server
	stop func()

	mu      sync.Mutex
	backend string
	armed   bool
	written bool
}

func newItProxy(t *testing.T) *itProxy {
	p := &itProxy{t: t}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *itProxy) setBackend(backend string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.backend = backend
}

func (p *itProxy) stopOnWrite() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed = true
}

func (p *itProxy) sawWrite() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.written
}

func (p *itProxy) serve(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(rw, "proxy: read", http.StatusBadGateway)
		return
	}
	var probe struct {
		Really bool `json:"really"`
	}
	_ = json.Unmarshal(body, &probe)
	p.mu.Lock()
	kill := p.armed && probe.Really
	if kill {
		p.written, p.armed = true, false // once: the server stops once
	}
	p.mu.Unlock()
	if kill {
		p.stop()
		conn, _, err := rw.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	p.mu.Lock()
	backend := p.backend
	p.mu.Unlock()
	req, err := http.NewRequestWithContext(r.Context(), r.Method, backend+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(rw, "proxy: request", http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		// The server is down: drop the connection like a closed port would.
		if conn, _, herr := rw.(http.Hijacker).Hijack(); herr == nil {
			conn.Close()
		}
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		for _, v := range vs {
			rw.Header().Add(k, v)
		}
	}
	rw.WriteHeader(resp.StatusCode)
	io.Copy(rw, resp.Body)
}
