package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/migrations/pgtest"
	"github.com/sxp-network/sxp/server"
	"github.com/sxp-network/sxp/server/members"
)

// env is a community server (LEAF, 2 decimals, limits -100..1000) on its
// own database, served by httptest, with helpers to call its API.
type env struct {
	t      *testing.T
	pool   *pgxpool.Pool
	srv    *server.Server
	http   *httptest.Server
	tokens map[string]string
}

func newEnv(t *testing.T, change func(*server.Config)) *env {
	t.Helper()
	url := pgtest.NewDatabase(t)
	cfg := server.Config{
		DatabaseURL: url, Listen: "127.0.0.1:0", CommunityID: "leaf", CommunityName: "Leaf Valley",
		Currency: "LEAF", CurrencyDivisions: 2, PublicURL: "http://127.0.0.1:1", DefaultMin: "-100", DefaultMax: "1000",
		Registration: "open", ArbiterURL: testArbiterURL, ArbiterKey: testArbiterKey, // the arbiter: memberkeys_test.go
	}
	if change != nil {
		change(&cfg)
	}
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	srv, err := server.New(context.Background(), cfg, pool, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, pool: pool, srv: srv, http: httptest.NewServer(srv.Handler()), tokens: map[string]string{}}
	t.Cleanup(e.http.Close)
	return e
}

// member adds an active member (admin when role is admin) and logs them in.
func (e *env) member(name string, role members.Role) {
	e.t.Helper()
	if _, err := e.srv.Members.Add(context.Background(), members.Registration{Username: name, Password: "password-" + name}, role); err != nil {
		e.t.Fatalf("add %s: %v", name, err)
	}
	e.login(name)
}

func (e *env) login(name string) {
	e.t.Helper()
	st, body := e.call("", "POST", "/api/v1/session", `{"username":"`+name+`","password":"password-`+name+`"}`)
	if st != http.StatusCreated {
		e.t.Fatalf("login %s: got %d %s, want 201", name, st, body)
	}
	e.tokens[name] = body["token"].(string)
}

// call sends a JSON request as user ("" for nobody) and decodes the answer.
func (e *env) call(user, method, path, body string) (int, map[string]any) {
	e.t.Helper()
	st, raw, _ := e.raw(user, method, path, body)
	var out map[string]any
	if len(raw) > 0 && strings.HasPrefix(strings.TrimSpace(raw), "{") {
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			e.t.Fatalf("%s %s: bad JSON %q: %v", method, path, raw, err)
		}
	}
	return st, out
}

func (e *env) raw(user, method, path, body string) (int, string, http.Header) {
	e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.http.URL+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+e.tokens[user])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// balance is user's balance as the API shows it.
func (e *env) balance(user string) string {
	e.t.Helper()
	st, body := e.call(user, "GET", "/api/v1/me/account", "")
	if st != http.StatusOK {
		e.t.Fatalf("account of %s: got %d %v", user, st, body)
	}
	return body["balance"].(string)
}

// balances are the balances of users, in order.
func (e *env) balances(users ...string) []string {
	var out []string
	for _, u := range users {
		out = append(out, e.balance(u))
	}
	return out
}

func (e *env) count(table string) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func errCode(body map[string]any) (code, field string) {
	e, _ := body["error"].(map[string]any)
	code, _ = e["code"].(string)
	field, _ = e["field"].(string)
	return code, field
}

func equal(a, b []string) bool {
	return strings.Join(a, ",") == strings.Join(b, ",")
}

func TestHealth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, path := range []string{"/healthz", "/readyz"} {
		if st, body := e.call("", "GET", path, ""); st != http.StatusOK {
			t.Errorf("%s: got %d %v, want 200", path, st, body)
		}
	}
	st, text, _ := e.raw("", "GET", "/metrics", "")
	if st != http.StatusOK || !strings.Contains(text, `sxp_http_requests_total{code="200",method="GET",route="/healthz"} 1`) ||
		!strings.Contains(text, `sxp_community_members{status="active"} 0`) {
		t.Errorf("metrics: got %d\n%s", st, text)
	}
	if _, err := e.pool.Exec(context.Background(), `UPDATE schema_migrations SET version = version - 1`); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.call("", "GET", "/readyz", ""); st != http.StatusServiceUnavailable {
		t.Errorf("readyz with an old schema: got %d, want 503", st)
	}
}

func TestRegistrationOpen(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	st, body := e.call("", "POST", "/api/v1/members", `{"username":"alice","password":"password-alice","display_name":"Alice Green"}`)
	if st != http.StatusCreated || body["status"] != "active" || body["role"] != "member" || body["display_name"] != "Alice Green" {
		t.Fatalf("register: got %d %v, want 201 active member", st, body)
	}
	e.login("alice")
	st, body = e.call("alice", "GET", "/api/v1/me/account", "")
	want := map[string]any{"balance": "0.00", "currency": "LEAF", "min": "-100.00", "max": "1000.00"}
	if st != http.StatusOK || len(body) != 4 || body["balance"] != want["balance"] || body["currency"] != want["currency"] || body["min"] != want["min"] || body["max"] != want["max"] {
		t.Fatalf("account: got %d %v, want %v", st, body, want)
	}
	st, body = e.call("", "POST", "/api/v1/members", `{"username":"alice","password":"password-other"}`)
	if code, _ := errCode(body); st != http.StatusConflict || code != "username_taken" {
		t.Fatalf("duplicate: got %d %v, want 409 username_taken", st, body)
	}
}

func TestRegistrationApproval(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *server.Config) { c.Registration = "approval" })
	e.member("root", members.RoleAdmin)
	st, body := e.call("", "POST", "/api/v1/members", `{"username":"bob","password":"password-bob"}`)
	if st != http.StatusCreated || body["status"] != "pending" {
		t.Fatalf("register: got %d %v, want 201 pending", st, body)
	}
	st, body = e.call("", "POST", "/api/v1/session", `{"username":"bob","password":"password-bob"}`)
	if code, _ := errCode(body); st != http.StatusForbidden || code != "not_approved" {
		t.Fatalf("login pending: got %d %v, want 403 not_approved", st, body)
	}
	st, body = e.call("root", "GET", "/api/v1/admin/members?status=pending", "")
	if list, _ := body["members"].([]any); st != http.StatusOK || len(list) != 1 {
		t.Fatalf("pending list: got %d %v, want bob alone", st, body)
	}
	if st, body = e.call("root", "POST", "/api/v1/admin/members/bob/approve", ""); st != http.StatusOK || body["status"] != "active" {
		t.Fatalf("approve: got %d %v, want 200 active", st, body)
	}
	e.login("bob")
}

func TestLoginSlowdown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.member("alice", members.RoleMember)
	for i := 0; i < 5; i++ {
		st, body := e.call("", "POST", "/api/v1/session", `{"username":"alice","password":"wrong-password"}`)
		if code, _ := errCode(body); st != http.StatusUnauthorized || code != "bad_credentials" {
			t.Fatalf("failure %d: got %d %v, want 401 bad_credentials", i, st, body)
		}
	}
	st, raw, hdr := e.raw("", "POST", "/api/v1/session", `{"username":"alice","password":"password-alice"}`)
	if st != http.StatusTooManyRequests || !strings.Contains(raw, `"too_many_attempts"`) {
		t.Fatalf("after 5 failures: got %d %s, want 429 too_many_attempts", st, raw)
	}
	if ra := hdr.Get("Retry-After"); !regexp.MustCompile(`^[1-9][0-9]*$`).MatchString(ra) {
		t.Fatalf("Retry-After: got %q, want a positive number of seconds", ra)
	}
	if st, _ := e.call("", "POST", "/api/v1/session", `{"username":"nobody","password":"x"}`); st != http.StatusUnauthorized {
		t.Fatalf("unknown user: got %d, want 401", st)
	}
}

func TestAuthorisation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.member("alice", members.RoleMember)
	e.member("bob", members.RoleMember)
	e.member("root", members.RoleAdmin)
	// bob bills root; alice must not see or act on it.
	st, body := e.call("bob", "POST", "/api/v1/payment-requests", `{"from":"root","amount":"5.00","description":"eggs"}`)
	if st != http.StatusCreated {
		t.Fatalf("request: got %d %v", st, body)
	}
	id := body["id"].(float64)
	path := "/api/v1/payment-requests/" + jsonNumber(id)

	tests := []struct {
		name, user, method, path, body string
		status                         int
	}{
		{"no token", "", "GET", "/api/v1/me/account", "", 401},
		{"no token statement", "", "GET", "/api/v1/me/statement", "", 401},
		{"no token pay", "", "POST", "/api/v1/payments", `{"to":"bob","amount":"1.00"}`, 401},
		{"other's request", "alice", "GET", path, "", 404},
		{"accept other's request", "alice", "POST", path + "/accept", "", 404},
		{"reject other's request", "alice", "POST", path + "/reject", "", 404},
		{"cancel other's request", "alice", "POST", path + "/cancel", "", 404},
		{"payee accepts own request", "bob", "POST", path + "/accept", "", 404},
		{"pay from another's account", "alice", "POST", "/api/v1/payments", `{"from":"bob","to":"alice","amount":"1.00"}`, 400},
		{"admin list", "alice", "GET", "/api/v1/admin/members", "", 403},
		{"admin member", "alice", "GET", "/api/v1/admin/members/bob", "", 403},
		{"admin statement", "alice", "GET", "/api/v1/admin/members/bob/statement", "", 403},
		{"admin approve", "alice", "POST", "/api/v1/admin/members/bob/approve", "", 403},
		{"admin block", "alice", "POST", "/api/v1/admin/members/bob/block", "", 403},
		{"admin unblock", "alice", "POST", "/api/v1/admin/members/bob/unblock", "", 403},
		{"admin limits", "alice", "PUT", "/api/v1/admin/members/alice/limits", `{"min":"-10000","max":"10000"}`, 403},
		{"admin role", "alice", "PUT", "/api/v1/admin/members/alice/role", `{"role":"admin"}`, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, body := e.call(tt.user, tt.method, tt.path, tt.body)
			if st != tt.status {
				t.Fatalf("got %d %v, want %d", st, body, tt.status)
			}
		})
	}
	req, _ := http.NewRequest("GET", e.http.URL+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer not-a-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad token: got %d, want 401", resp.StatusCode)
	}
	if got := e.balances("alice", "bob", "root"); !equal(got, []string{"0.00", "0.00", "0.00"}) {
		t.Fatalf("balances: got %v, want all 0.00", got)
	}
	st, body = e.call("root", "GET", path, "")
	if st != http.StatusOK || body["status"] != "open" {
		t.Fatalf("request after the attempts: got %d %v, want open", st, body)
	}
	if st, _ := e.call("root", "GET", "/api/v1/admin/members/bob/statement", ""); st != http.StatusOK {
		t.Fatalf("admin reads bob's statement: got %d, want 200", st)
	}
}

func jsonNumber(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

func TestPayments(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, u := range []string{"alice", "bob", "carol"} {
		e.member(u, members.RoleMember)
	}
	e.member("root", members.RoleAdmin)

	st, body := e.call("alice", "POST", "/api/v1/payments", `{"to":"bob","amount":"12.50","description":"bread","idempotency_key":"k1"}`)
	if st != http.StatusCreated || body["amount"] != "12.50" || body["balance"] != "-12.50" || body["to"] != "bob" || body["status"] != "completed" {
		t.Fatalf("pay: got %d %v, want 201 12.50 balance -12.50", st, body)
	}
	first := body["id"]
	// The same key and content: the first result, nothing more moves.
	st, body = e.call("alice", "POST", "/api/v1/payments", `{"to":"bob","amount":"12.50","description":"bread","idempotency_key":"k1"}`)
	if st != http.StatusCreated || body["id"] != first {
		t.Fatalf("repeat: got %d %v, want the first payment %v", st, body, first)
	}
	// bob@leaf is local (this community's id).
	if st, body = e.call("bob", "POST", "/api/v1/payments", `{"to":"carol@leaf","amount":"0.5"}`); st != http.StatusCreated {
		t.Fatalf("pay carol@leaf: got %d %v", st, body)
	}
	want := []string{"-12.50", "12.00", "0.50"}
	if got := e.balances("alice", "bob", "carol"); !equal(got, want) {
		t.Fatalf("balances: got %v, want %v", got, want)
	}

	// Refusals: each answers its status and code, and nothing moves.
	e.call("root", "PUT", "/api/v1/admin/members/carol/limits", `{"min":"-100","max":"1.00"}`)
	e.member("dave", members.RoleMember)
	e.call("root", "POST", "/api/v1/admin/members/dave/block", "")
	bad := []struct {
		name, body  string
		status      int
		code, field string
	}{
		{"same key other amount", `{"to":"bob","amount":"12.00","description":"bread","idempotency_key":"k1"}`, 409, "idempotency_conflict", "idempotency_key"},
		{"over my limit", `{"to":"bob","amount":"87.51"}`, 422, "over_limit", ""},
		{"payee over limit", `{"to":"carol","amount":"0.51"}`, 422, "payee_over_limit", ""},
		{"blocked payee", `{"to":"dave","amount":"1.00"}`, 422, "payee_inactive", "to"},
		{"unknown payee", `{"to":"zed","amount":"1.00"}`, 422, "unknown_payee", "to"},
		{"myself", `{"to":"alice","amount":"1.00"}`, 400, "invalid", "to"},
		{"no payee", `{"amount":"1.00"}`, 400, "invalid", "to"},
		{"other community, no circle", `{"to":"bob@acorn","amount":"1.00"}`, 422, "not_in_circle", "to"},
		{"three decimals", `{"to":"bob","amount":"1.005"}`, 400, "invalid", "amount"},
		{"number amount", `{"to":"bob","amount":1.5}`, 400, "invalid", "amount"},
		{"zero", `{"to":"bob","amount":"0.00"}`, 400, "invalid", "amount"},
		{"negative", `{"to":"bob","amount":"-1.00"}`, 400, "invalid", "amount"},
		{"exponent", `{"to":"bob","amount":"1e2"}`, 400, "invalid", "amount"},
		{"missing amount", `{"to":"bob"}`, 400, "invalid", "amount"},
		{"unknown field", `{"to":"bob","amount":"1.00","currency":"LEAF"}`, 400, "invalid", "currency"},
		{"long description", `{"to":"bob","amount":"1.00","description":"` + strings.Repeat("x", 501) + `"}`, 400, "invalid", "description"},
		{"key with space", `{"to":"bob","amount":"1.00","idempotency_key":"a b"}`, 400, "invalid", "idempotency_key"},
		{"not JSON", `to=bob`, 400, "invalid", ""},
		{"two objects", `{"to":"bob","amount":"1.00"}{}`, 400, "invalid", ""},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			st, body := e.call("alice", "POST", "/api/v1/payments", tt.body)
			code, field := errCode(body)
			if st != tt.status || code != tt.code || field != tt.field {
				t.Fatalf("got %d %s %q (%v), want %d %s %q", st, code, field, body, tt.status, tt.code, tt.field)
			}
			if got := e.balances("alice", "bob", "carol"); !equal(got, want) {
				t.Fatalf("balances: got %v, want %v unchanged", got, want)
			}
		})
	}
	// Exactly to the limit works: alice at -12.50 can pay 87.50 more.
	if st, body = e.call("alice", "POST", "/api/v1/payments", `{"to":"bob","amount":"87.50"}`); st != http.StatusCreated || body["balance"] != "-100.00" {
		t.Fatalf("pay to the limit: got %d %v, want balance -100.00", st, body)
	}
	// A blocked payer's token is gone.
	e.call("root", "POST", "/api/v1/admin/members/bob/block", "")
	if st, _ := e.call("bob", "POST", "/api/v1/payments", `{"to":"alice","amount":"1.00"}`); st != http.StatusUnauthorized {
		t.Fatalf("blocked payer: got %d, want 401", st)
	}
}

func TestPaymentRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, u := range []string{"alice", "bob", "carol"} {
		e.member(u, members.RoleMember)
	}
	st, body := e.call("bob", "POST", "/api/v1/payment-requests", `{"from":"alice","amount":"5.25","description":"eggs","idempotency_key":"r1"}`)
	if st != http.StatusCreated || body["status"] != "open" || body["payer"] != "alice" || body["payee"] != "bob" || body["amount"] != "5.25" {
		t.Fatalf("create: got %d %v", st, body)
	}
	id := jsonNumber(body["id"].(float64))
	if st, again := e.call("bob", "POST", "/api/v1/payment-requests", `{"from":"alice","amount":"5.25","description":"eggs","idempotency_key":"r1"}`); st != http.StatusCreated || again["id"] != body["id"] {
		t.Fatalf("repeat create: got %d %v, want the first request", st, again)
	}
	if st, b := e.call("bob", "POST", "/api/v1/payment-requests", `{"from":"alice","amount":"6.00","description":"eggs","idempotency_key":"r1"}`); st != 409 {
		t.Fatalf("conflicting create: got %d %v, want 409", st, b)
	}
	if n := e.count("payment_requests"); n != 1 {
		t.Fatalf("requests: got %d rows, want 1", n)
	}
	st, body = e.call("alice", "GET", "/api/v1/payment-requests?role=payer&status=open", "")
	if list, _ := body["requests"].([]any); st != 200 || len(list) != 1 {
		t.Fatalf("alice's open bills: got %d %v, want 1", st, body)
	}
	st, body = e.call("alice", "POST", "/api/v1/payment-requests/"+id+"/accept", "")
	if st != 200 || body["status"] != "paid" || body["transfer_id"] == nil || body["resolved_at"] == nil {
		t.Fatalf("accept: got %d %v, want paid", st, body)
	}
	// Accepting again returns it unchanged and pays nothing more.
	if st, body = e.call("alice", "POST", "/api/v1/payment-requests/"+id+"/accept", ""); st != 200 || body["status"] != "paid" {
		t.Fatalf("accept twice: got %d %v", st, body)
	}
	if got := e.balances("alice", "bob"); !equal(got, []string{"-5.25", "5.25"}) {
		t.Fatalf("balances: got %v, want -5.25 5.25", got)
	}
	for _, tt := range []struct{ user, action string }{{"alice", "reject"}, {"bob", "cancel"}} {
		st, body := e.call(tt.user, "POST", "/api/v1/payment-requests/"+id+"/"+tt.action, "")
		if code, _ := errCode(body); st != 409 || code != "not_open" {
			t.Fatalf("%s a paid bill: got %d %v, want 409 not_open", tt.action, st, body)
		}
	}

	// Reject and cancel.
	_, b2 := e.call("carol", "POST", "/api/v1/payment-requests", `{"from":"alice","amount":"1.00"}`)
	_, b3 := e.call("carol", "POST", "/api/v1/payment-requests", `{"from":"alice","amount":"2.00"}`)
	id2, id3 := jsonNumber(b2["id"].(float64)), jsonNumber(b3["id"].(float64))
	if st, body := e.call("alice", "POST", "/api/v1/payment-requests/"+id2+"/reject", ""); st != 200 || body["status"] != "rejected" {
		t.Fatalf("reject: got %d %v", st, body)
	}
	if st, body := e.call("carol", "POST", "/api/v1/payment-requests/"+id3+"/cancel", ""); st != 200 || body["status"] != "cancelled" {
		t.Fatalf("cancel: got %d %v", st, body)
	}
	for _, id := range []string{id2, id3} {
		if st, body := e.call("alice", "POST", "/api/v1/payment-requests/"+id+"/accept", ""); st != 409 {
			t.Fatalf("accept closed %s: got %d %v, want 409", id, st, body)
		}
	}
	// Over the payer's limit: refused, the bill stays open.
	_, b4 := e.call("carol", "POST", "/api/v1/payment-requests", `{"from":"alice","amount":"95.00"}`)
	id4 := jsonNumber(b4["id"].(float64))
	if st, body := e.call("alice", "POST", "/api/v1/payment-requests/"+id4+"/accept", ""); st != 422 {
		t.Fatalf("accept over limit: got %d %v, want 422", st, body)
	}
	if _, body := e.call("carol", "GET", "/api/v1/payment-requests/"+id4, ""); body["status"] != "open" {
		t.Fatalf("after a refused accept: got %v, want open", body["status"])
	}
	if got := e.balances("alice", "bob", "carol"); !equal(got, []string{"-5.25", "5.25", "0.00"}) {
		t.Fatalf("balances: got %v", got)
	}

	before := e.count("payment_requests")
	bad := []struct {
		name, method, path, body string
		status                   int
		field                    string
	}{
		{"bill myself", "POST", "/api/v1/payment-requests", `{"from":"bob","amount":"1.00"}`, 400, "from"},
		{"unknown payer", "POST", "/api/v1/payment-requests", `{"from":"zed","amount":"1.00"}`, 400, "from"},
		{"remote payer", "POST", "/api/v1/payment-requests", `{"from":"zed@acorn","amount":"1.00"}`, 400, "from"},
		{"bad amount", "POST", "/api/v1/payment-requests", `{"from":"alice","amount":"1.001"}`, 400, "amount"},
		{"no amount", "POST", "/api/v1/payment-requests", `{"from":"alice"}`, 400, "amount"},
		{"unknown field", "POST", "/api/v1/payment-requests", `{"from":"alice","amount":"1","x":1}`, 400, "x"},
		{"bad id", "POST", "/api/v1/payment-requests/abc/accept", "", 400, "id"},
		{"zero id", "GET", "/api/v1/payment-requests/0", "", 400, "id"},
		{"missing id", "GET", "/api/v1/payment-requests/99999", "", 404, ""},
		{"bad role", "GET", "/api/v1/payment-requests?role=boss", "", 400, "role"},
		{"bad status", "GET", "/api/v1/payment-requests?status=done", "", 400, "status"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			st, body := e.call("bob", tt.method, tt.path, tt.body)
			if _, field := errCode(body); st != tt.status || field != tt.field {
				t.Fatalf("got %d %v, want %d field %q", st, body, tt.status, tt.field)
			}
		})
	}
	if n := e.count("payment_requests"); n != before {
		t.Fatalf("requests: got %d rows, want %d", n, before)
	}
}

func TestStatement(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, u := range []string{"alice", "bob", "carol"} {
		e.member(u, members.RoleMember)
	}
	pays := []struct{ from, to, amount, desc string }{
		{"alice", "bob", "10.00", "bread"},
		{"bob", "alice", "2.50", "jam, \"strawberry\""},
		{"carol", "alice", "0.25", "=SUM(A1)"},
		{"alice", "carol", "1.00", "bread rolls"},
	}
	for _, p := range pays {
		if st, body := e.call(p.from, "POST", "/api/v1/payments", `{"to":"`+p.to+`","amount":"`+p.amount+`","description":`+quote(p.desc)+`}`); st != 201 {
			t.Fatalf("pay: got %d %v", st, body)
		}
	}
	st, body := e.call("alice", "GET", "/api/v1/me/statement", "")
	if st != 200 {
		t.Fatalf("statement: got %d %v", st, body)
	}
	type line struct{ with, amount, balance string }
	want := []line{{"bob", "-10.00", "-10.00"}, {"bob", "2.50", "-7.50"}, {"carol", "0.25", "-7.25"}, {"carol", "-1.00", "-8.25"}}
	lines, _ := body["lines"].([]any)
	if len(lines) != len(want) || body["balance"] != "-8.25" || body["opening"] != "0.00" {
		t.Fatalf("statement: got %v, want %d lines, balance -8.25", body, len(want))
	}
	for i, l := range lines {
		m := l.(map[string]any)
		got := line{m["counterparty"].(string), m["amount"].(string), m["balance"].(string)}
		if got != want[i] {
			t.Errorf("line %d: got %v, want %v", i, got, want[i])
		}
	}
	// Search by description and by counterparty.
	for _, tt := range []struct {
		q    string
		want int
	}{{"bread", 2}, {"BREAD", 2}, {"carol", 2}, {"jam", 1}, {"nothing", 0}} {
		_, body := e.call("alice", "GET", "/api/v1/me/statement?q="+url.QueryEscape(tt.q), "")
		if lines, _ := body["lines"].([]any); len(lines) != tt.want {
			t.Errorf("q=%s: got %d lines, want %d", tt.q, len(lines), tt.want)
		}
	}
	// Paging: two lines, then the rest.
	_, body = e.call("alice", "GET", "/api/v1/me/statement?limit=2", "")
	next, _ := body["next"].(float64)
	if lines, _ := body["lines"].([]any); len(lines) != 2 || next == 0 {
		t.Fatalf("page 1: got %v, want 2 lines and a next cursor", body)
	}
	_, body = e.call("alice", "GET", "/api/v1/me/statement?limit=2&after="+jsonNumber(next), "")
	if lines, _ := body["lines"].([]any); len(lines) != 2 || body["next"] != nil || body["opening"] != "-7.50" {
		t.Fatalf("page 2: got %v, want 2 lines, opening -7.50, no next", body)
	}
	// CSV: a header, every line, quoting, formulas defused.
	st, csv, hdr := e.raw("alice", "GET", "/api/v1/me/statement?format=csv", "")
	if st != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: got %d %s", st, hdr.Get("Content-Type"))
	}
	rows := strings.Split(strings.TrimSpace(csv), "\n")
	if len(rows) != 5 || rows[0] != "time,transfer_id,counterparty,description,amount,balance,currency" {
		t.Fatalf("csv: got %q", csv)
	}
	for i, want := range []string{
		`,bob,bread,-10.00,-10.00,LEAF`,
		`,bob,"jam, ""strawberry""",2.50,-7.50,LEAF`,
		`,carol,'=SUM(A1),0.25,-7.25,LEAF`,
		`,carol,bread rolls,-1.00,-8.25,LEAF`,
	} {
		if !strings.HasSuffix(rows[i+1], want) {
			t.Errorf("csv row %d: got %q, want it to end with %q", i+1, rows[i+1], want)
		}
	}
	for _, q := range []string{"from=yesterday", "limit=0", "limit=1001", "after=-1", "format=xml", "from=2026-02-01&to=2026-01-01"} {
		if st, body := e.call("alice", "GET", "/api/v1/me/statement?"+q, ""); st != 400 {
			t.Errorf("?%s: got %d %v, want 400", q, st, body)
		}
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestAdminAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.member("root", members.RoleAdmin)
	e.member("alice", members.RoleMember)
	e.member("bob", members.RoleMember)

	st, body := e.call("root", "PUT", "/api/v1/admin/members/alice/limits", `{"min":"-250.50","max":"20"}`)
	acc, _ := body["account"].(map[string]any)
	if st != 200 || acc["min"] != "-250.50" || acc["max"] != "20.00" {
		t.Fatalf("limits: got %d %v", st, body)
	}
	if st, _ := e.call("alice", "POST", "/api/v1/payments", `{"to":"bob","amount":"250.50"}`); st != 201 {
		t.Fatalf("pay with the new limit: got %d, want 201", st)
	}
	// Limits that exclude the balance are refused.
	st, body = e.call("root", "PUT", "/api/v1/admin/members/alice/limits", `{"min":"-100","max":"20"}`)
	if code, _ := errCode(body); st != 422 || code != "limits_exclude_balance" {
		t.Fatalf("limits excluding the balance: got %d %v", st, body)
	}
	if st, body = e.call("root", "PUT", "/api/v1/admin/members/bob/role", `{"role":"admin"}`); st != 200 || body["role"] != "admin" {
		t.Fatalf("make admin: got %d %v", st, body)
	}
	if st, _ := e.call("bob", "GET", "/api/v1/admin/members", ""); st != 200 {
		t.Fatalf("new admin: got %d, want 200", st)
	}
	if st, body = e.call("root", "POST", "/api/v1/admin/members/alice/block", ""); st != 200 || body["status"] != "blocked" {
		t.Fatalf("block: got %d %v", st, body)
	}
	if st, body = e.call("root", "POST", "/api/v1/admin/members/alice/unblock", ""); st != 200 || body["status"] != "active" {
		t.Fatalf("unblock: got %d %v", st, body)
	}
	bad := []struct {
		name, method, path, body string
		status                   int
		field                    string
	}{
		{"limits min positive", "PUT", "/api/v1/admin/members/alice/limits", `{"min":"1","max":"20"}`, 400, "min"},
		{"limits max negative", "PUT", "/api/v1/admin/members/alice/limits", `{"min":"-1","max":"-20"}`, 400, "max"},
		{"limits bad decimal", "PUT", "/api/v1/admin/members/alice/limits", `{"min":"-1.001","max":"20"}`, 400, "min"},
		{"limits missing", "PUT", "/api/v1/admin/members/alice/limits", `{"min":"-1"}`, 400, "max"},
		{"limits unknown member", "PUT", "/api/v1/admin/members/zed/limits", `{"min":"-1","max":"1"}`, 404, ""},
		{"role bad", "PUT", "/api/v1/admin/members/alice/role", `{"role":"king"}`, 400, "role"},
		{"demote myself", "PUT", "/api/v1/admin/members/root/role", `{"role":"member"}`, 400, "role"},
		{"block myself", "POST", "/api/v1/admin/members/root/block", "", 400, "username"},
		{"approve active", "POST", "/api/v1/admin/members/alice/approve", "", 400, "status"},
		{"unblock active", "POST", "/api/v1/admin/members/alice/unblock", "", 400, "status"},
		{"unknown member", "POST", "/api/v1/admin/members/zed/block", "", 404, ""},
		{"bad status filter", "GET", "/api/v1/admin/members?status=gone", "", 400, "status"},
		{"statement bad limit", "GET", "/api/v1/admin/members/alice/statement?limit=x", "", 400, "limit"},
		{"statement bad range", "GET", "/api/v1/admin/members/alice/statement?from=2026-02-01&to=2026-01-01", "", 400, "to"},
		{"statement unknown member", "GET", "/api/v1/admin/members/zed/statement", "", 404, ""},
		{"unknown member details", "GET", "/api/v1/admin/members/zed", "", 404, ""},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			st, body := e.call("root", tt.method, tt.path, tt.body)
			if _, field := errCode(body); st != tt.status || field != tt.field {
				t.Fatalf("got %d %v, want %d field %q", st, body, tt.status, tt.field)
			}
		})
	}
	_, body = e.call("root", "GET", "/api/v1/admin/members/alice", "")
	acc, _ = body["account"].(map[string]any)
	if body["status"] != "active" || body["role"] != "member" || acc["min"] != "-250.50" || acc["max"] != "20.00" || acc["balance"] != "-250.50" {
		t.Fatalf("alice after the refusals: got %v, want unchanged", body)
	}
}

func TestMemberAPIBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.member("alice", members.RoleMember)
	bad := []struct {
		name, user, method, path, body string
		status                         int
		field                          string
	}{
		{"register no body", "", "POST", "/api/v1/members", "", 415, ""},
		{"register bad name", "", "POST", "/api/v1/members", `{"username":"A B","password":"password1"}`, 400, "username"},
		{"register short password", "", "POST", "/api/v1/members", `{"username":"bob","password":"pw"}`, 400, "password"},
		{"register number name", "", "POST", "/api/v1/members", `{"username":5,"password":"password1"}`, 400, "username"},
		{"register unknown field", "", "POST", "/api/v1/members", `{"username":"bob","password":"password1","role":"admin"}`, 400, "role"},
		{"login empty", "", "POST", "/api/v1/session", `{}`, 400, "username"},
		{"login no password", "", "POST", "/api/v1/session", `{"username":"alice"}`, 400, "password"},
		{"profile empty name", "alice", "PATCH", "/api/v1/me", `{"display_name":""}`, 400, "display_name"},
		{"profile long bio", "alice", "PATCH", "/api/v1/me", `{"bio":"` + strings.Repeat("b", 2001) + `"}`, 400, "bio"},
		{"key short", "alice", "PUT", "/api/v1/me/public-key", `{"public_key":"AAAA"}`, 400, "public_key"},
		{"key missing", "alice", "PUT", "/api/v1/me/public-key", `{}`, 400, "public_key"},
		{"unknown member", "alice", "GET", "/api/v1/members/zed", "", 404, ""},
		{"unknown route", "alice", "GET", "/api/v1/nothing", "", 404, ""},
		{"wrong method", "alice", "DELETE", "/api/v1/me/account", "", 405, ""},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			st, body := e.call(tt.user, tt.method, tt.path, tt.body)
			if _, field := errCode(body); st != tt.status || field != tt.field {
				t.Fatalf("got %d %v, want %d field %q", st, body, tt.status, tt.field)
			}
		})
	}
	if n := e.count("members"); n != 1 {
		t.Fatalf("members: got %d, want 1", n)
	}
	_, body := e.call("alice", "GET", "/api/v1/me", "")
	if body["display_name"] != "alice" || body["bio"] != "" || body["public_key"] != nil {
		t.Fatalf("alice after bad input: got %v, want unchanged", body)
	}
	st, body := e.call("alice", "PATCH", "/api/v1/me", `{"bio":"I bake."}`)
	if st != 200 || body["bio"] != "I bake." || body["display_name"] != "alice" {
		t.Fatalf("profile: got %d %v", st, body)
	}
	key := "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
	if st, body = e.call("alice", "PUT", "/api/v1/me/public-key", `{"public_key":"`+key+`"}`); st != 200 || body["public_key"] != key {
		t.Fatalf("public key: got %d %v", st, body)
	}
	if _, body = e.call("alice", "GET", "/api/v1/members/alice", ""); body["public_key"] != key || body["bio"] != "I bake." {
		t.Fatalf("public profile: got %v", body)
	}
	if st, _ := e.call("alice", "DELETE", "/api/v1/session", ""); st != 204 {
		t.Fatalf("logout: got %d, want 204", st)
	}
	if st, _ := e.call("alice", "GET", "/api/v1/me", ""); st != 401 {
		t.Fatalf("after logout: got %d, want 401", st)
	}
}

// TestPages drives the member pages as a browser would: cookies, forms,
// CSRF tokens.
func TestPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.member("bob", members.RoleMember)
	e.member("root", members.RoleAdmin)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (int, string) {
		resp, err := browser.Get(e.http.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	post := func(path string, form url.Values) (int, string, http.Header) {
		resp, err := browser.PostForm(e.http.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	csrfOf := func(html string) string {
		m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(html)
		if m == nil {
			t.Fatalf("no csrf token in %s", html)
		}
		return m[1]
	}

	if st, _ := get("/"); st != http.StatusSeeOther {
		t.Fatalf("home logged out: got %d, want 303 to /login", st)
	}
	st, html := get("/register")
	if st != 200 || !strings.Contains(html, "Join Leaf Valley") || !strings.Contains(html, "New members may spend down to -100.00 LEAF and hold up to 1000.00 LEAF") {
		t.Fatalf("register page: got %d, want the name and new members' limits\n%s", st, html)
	}
	if st, _, _ := post("/register", url.Values{"username": {"alice"}, "password": {"password-alice"}, "password2": {"password-alice"}}); st != 403 {
		t.Fatalf("register without csrf: got %d, want 403", st)
	}
	csrf := csrfOf(html)
	// Joining logs the new member in.
	st, _, hdr := post("/register", url.Values{"csrf": {csrf}, "username": {"alice"}, "display_name": {"Alice"}, "password": {"password-alice"}, "password2": {"password-alice"}})
	if st != http.StatusSeeOther || hdr.Get("Location") != "/?joined=1" {
		t.Fatalf("register: got %d to %q, want 303 to /?joined=1", st, hdr.Get("Location"))
	}
	if st, html = get("/?joined=1"); st != 200 || !strings.Contains(html, "Welcome, Alice") || !strings.Contains(html, "0.00 LEAF") {
		t.Fatalf("home after joining: got %d %s", st, html)
	}
	if st, _, _ = post("/logout", url.Values{"csrf": {csrfOf(html)}}); st != http.StatusSeeOther {
		t.Fatalf("logout: got %d, want 303", st)
	}
	// alice@leaf is alice here (deploy/run prints members that way).
	if st, _, _ = post("/login", url.Values{"csrf": {csrf}, "username": {"Alice@leaf"}, "password": {"password-alice"}}); st != http.StatusSeeOther {
		t.Fatalf("login as alice@leaf: got %d, want 303", st)
	}
	st, html, _ = post("/login", url.Values{"csrf": {csrf}, "username": {"alice"}, "password": {"wrong-password"}})
	if st != 401 || !strings.Contains(html, "wrong username or password") {
		t.Fatalf("bad login: got %d", st)
	}
	st, _, hdr = post("/login", url.Values{"csrf": {csrf}, "username": {"alice"}, "password": {"password-alice"}})
	if st != http.StatusSeeOther || !strings.Contains(hdr.Get("Set-Cookie"), "HttpOnly") || !strings.Contains(hdr.Get("Set-Cookie"), "SameSite=Lax") {
		t.Fatalf("login: got %d %q, want 303 and an HttpOnly SameSite=Lax cookie", st, hdr.Get("Set-Cookie"))
	}
	st, html = get("/")
	if st != 200 || !strings.Contains(html, "0.00 LEAF") || !strings.Contains(html, `href="/offers"`) {
		t.Fatalf("home: got %d %s", st, html)
	}
	csrf = csrfOf(html)

	// Pay: without the session's CSRF token nothing happens.
	if st, _, _ := post("/pay", url.Values{"to": {"bob"}, "amount": {"3.00"}, "key": {"f1"}}); st != 403 {
		t.Fatalf("pay without csrf: got %d, want 403", st)
	}
	if st, _, _ := post("/pay", url.Values{"csrf": {"forged"}, "to": {"bob"}, "amount": {"3.00"}, "key": {"f1"}}); st != 403 {
		t.Fatalf("pay with a forged csrf: got %d, want 403", st)
	}
	if got := e.balance("bob"); got != "0.00" {
		t.Fatalf("bob after refused forms: got %s, want 0.00", got)
	}
	st, html, _ = post("/pay", url.Values{"csrf": {csrf}, "to": {"bob"}, "amount": {"3.00"}, "description": {"apples"}, "key": {"f1"}})
	if st != 200 || !strings.Contains(html, "Paid 3.00 LEAF to bob") {
		t.Fatalf("pay: got %d %s", st, html)
	}
	// The same form sent twice pays once.
	post("/pay", url.Values{"csrf": {csrf}, "to": {"bob"}, "amount": {"3.00"}, "description": {"apples"}, "key": {"f1"}})
	if got := e.balance("bob"); got != "3.00" {
		t.Fatalf("bob: got %s, want 3.00", got)
	}
	st, html, _ = post("/pay", url.Values{"csrf": {csrf}, "to": {"bob"}, "amount": {"1.234"}, "key": {"f2"}})
	if st != 400 || !strings.Contains(html, "at most 2") {
		t.Fatalf("pay bad amount: got %d", st)
	}
	st, html, _ = post("/pay", url.Values{"csrf": {csrf}, "to": {"bob"}, "amount": {"500"}, "key": {"f3"}})
	if st != 422 || !strings.Contains(html, "below your limit") {
		t.Fatalf("pay over limit: got %d", st)
	}

	// Bills: alice bills bob; bob's page shows it.
	if st, html, _ = post("/requests", url.Values{"csrf": {csrf}, "from": {"bob"}, "amount": {"1.50"}, "description": {"cake"}}); st != 200 || !strings.Contains(html, "Sent a bill of 1.50 to bob") {
		t.Fatalf("bill: got %d", st)
	}
	st, html = get("/statement?q=apples")
	if st != 200 || !strings.Contains(html, "apples") || !strings.Contains(html, "-3.00") {
		t.Fatalf("statement: got %d", st)
	}
	resp, err := browser.Get(e.http.URL + "/statement.csv")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), ",bob,apples,-3.00,-3.00,LEAF") {
		t.Fatalf("statement.csv: got %d %q", resp.StatusCode, b)
	}
	if st, _ := get("/admin/members"); st != 403 {
		t.Fatalf("admin page as a member: got %d, want 403", st)
	}
	if st, _, _ = post("/logout", url.Values{"csrf": {csrf}}); st != http.StatusSeeOther {
		t.Fatalf("logout: got %d", st)
	}
	if st, _ := get("/pay"); st != http.StatusSeeOther {
		t.Fatalf("after logout: got %d, want 303", st)
	}
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

func (e *env) browser(user string) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: e.t, base: e.http.URL, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	_, html := b.get("/login")
	b.csrf = b.csrfOf(html)
	if st, _ := b.post("/login", url.Values{"username": {user}, "password": {"password-" + user}}); st != http.StatusSeeOther {
		e.t.Fatalf("browser login %s: got %d", user, st)
	}
	_, html = b.get("/")
	b.csrf = b.csrfOf(html)
	return b
}

func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// post sends a form with the browser's CSRF token.
func (b *browser) post(path string, form url.Values) (int, string) {
	b.t.Helper()
	form.Set("csrf", b.csrf)
	resp, err := b.c.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

func (b *browser) csrfOf(html string) string {
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(html)
	if m == nil {
		b.t.Fatalf("no csrf token in %s", html)
	}
	return m[1]
}

func TestBillsAndAdminPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *server.Config) { c.Registration = "approval" })
	e.member("root", members.RoleAdmin)
	e.member("alice", members.RoleMember)
	e.member("bob", members.RoleMember)
	alice, bob, root := e.browser("alice"), e.browser("bob"), e.browser("root")

	// /admin leads an admin to the members page, a member to a refusal in words.
	resp, err := root.c.Get(root.base + "/admin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/members" {
		t.Fatalf("/admin as an admin: got %d to %q, want 303 to /admin/members", resp.StatusCode, resp.Header.Get("Location"))
	}
	if st, html := alice.get("/admin"); st != http.StatusForbidden || !strings.Contains(html, "Only the community") {
		t.Fatalf("/admin as a member: got %d, want 403 saying who may see it", st)
	}

	if st, html := alice.post("/requests", url.Values{"from": {"bob"}, "amount": {"4.00"}, "description": {"honey"}}); st != 200 || !strings.Contains(html, "Sent a bill of 4.00 to bob") {
		t.Fatalf("bill: got %d", st)
	}
	st, html := bob.get("/requests")
	m := regexp.MustCompile(`action="/requests/(\d+)/accept"`).FindStringSubmatch(html)
	if st != 200 || m == nil || !strings.Contains(html, "honey") {
		t.Fatalf("bob's bills: got %d, want an accept button for honey\n%s", st, html)
	}
	if st, html = bob.post("/requests/"+m[1]+"/accept", url.Values{}); st != 200 || !strings.Contains(html, "Paid bill "+m[1]) {
		t.Fatalf("accept: got %d %s", st, html)
	}
	if st, _ = alice.post("/requests/"+m[1]+"/cancel", url.Values{}); st != http.StatusConflict {
		t.Fatalf("cancel a paid bill: got %d, want 409", st)
	}
	if st, _ = bob.post("/requests/"+m[1]+"/explode", url.Values{}); st != http.StatusNotFound {
		t.Fatalf("unknown action: got %d, want 404", st)
	}
	if got := e.balances("alice", "bob"); !equal(got, []string{"4.00", "-4.00"}) {
		t.Fatalf("balances: got %v", got)
	}
	// Home shows the newest line first.
	bob.post("/pay", url.Values{"to": {"alice"}, "amount": {"1.00"}, "description": {"tip"}, "key": {"h1"}})
	_, html = bob.get("/")
	if i, j := strings.Index(html, "tip"), strings.Index(html, "honey"); i < 0 || j < 0 || i > j || !strings.Contains(html, "-5.00 LEAF") {
		t.Fatalf("home: got tip at %d, honey at %d, want tip first and balance -5.00\n%s", i, j, html)
	}

	// Admin page: a pending registration, approved; limits; block.
	e.call("", "POST", "/api/v1/members", `{"username":"carol","password":"password-carol"}`)
	if st, html = root.get("/admin/members"); st != 200 || !strings.Contains(html, `action="/admin/members/carol/approve"`) {
		t.Fatalf("admin page: got %d", st)
	}
	if st, html = root.post("/admin/members/carol/approve", url.Values{}); st != 200 || !strings.Contains(html, "Done: approve carol") {
		t.Fatalf("approve: got %d", st)
	}
	if st, _ = root.post("/admin/members/alice/limits", url.Values{"min": {"-20"}, "max": {"3.00"}}); st != http.StatusUnprocessableEntity {
		t.Fatalf("limits below alice's balance 5.00: got %d, want 422", st)
	}
	if st, _ = root.post("/admin/members/alice/limits", url.Values{"min": {"-20"}, "max": {"abc"}}); st != http.StatusBadRequest {
		t.Fatalf("bad limits: got %d, want 400", st)
	}
	if st, _ = root.post("/admin/members/alice/limits", url.Values{"min": {"-20"}, "max": {"30"}}); st != 200 {
		t.Fatalf("limits: got %d", st)
	}
	if st, _ = root.post("/admin/members/root/block", url.Values{}); st != http.StatusBadRequest {
		t.Fatalf("block myself: got %d, want 400", st)
	}
	if st, _ = root.post("/admin/members/bob/block", url.Values{}); st != 200 {
		t.Fatalf("block: got %d", st)
	}
	if st, _ = bob.get("/"); st != http.StatusSeeOther {
		t.Fatalf("blocked bob's page: got %d, want 303 to /login", st)
	}
	if st, _ = alice.get("/admin/members"); st != http.StatusForbidden {
		t.Fatalf("admin page as alice: got %d, want 403", st)
	}
	if st, _ = alice.post("/admin/members/carol/block", url.Values{}); st != http.StatusForbidden {
		t.Fatalf("admin form as alice: got %d, want 403", st)
	}
	_, body := e.call("root", "GET", "/api/v1/admin/members/alice", "")
	if acc := body["account"].(map[string]any); acc["min"] != "-20.00" || acc["max"] != "30.00" {
		t.Fatalf("alice's limits: got %v", acc)
	}
	_, body = e.call("root", "GET", "/api/v1/admin/members/carol", "")
	if body["status"] != "active" {
		t.Fatalf("carol: got %v, want active", body["status"])
	}
	// Profile with a public key.
	key := "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
	if st, html = alice.post("/profile", url.Values{"display_name": {"Alice G"}, "bio": {"bees"}, "contact": {"hive 3"}, "public_key": {key}}); st != 200 || !strings.Contains(html, "Saved.") {
		t.Fatalf("profile: got %d", st)
	}
	if st, _ = alice.post("/profile", url.Values{"display_name": {"Alice G"}, "public_key": {"short"}}); st != 400 {
		t.Fatalf("bad key: got %d, want 400", st)
	}
	_, body = e.call("alice", "GET", "/api/v1/me", "")
	if body["display_name"] != "Alice G" || body["public_key"] != key || body["bio"] != "bees" {
		t.Fatalf("profile after the bad key: got %v", body)
	}
	if st, _ = alice.post("/profile/password", url.Values{"current_password": {"password-alice"}, "new_password": {"new password 1"}, "new_password2": {"new password 2"}}); st != 400 {
		t.Fatalf("differing new passwords: got %d, want 400", st)
	}
	if st, _ = alice.post("/profile/password", url.Values{"current_password": {"nope-nope"}, "new_password": {"new password 1"}, "new_password2": {"new password 1"}}); st != 400 {
		t.Fatalf("wrong current password: got %d, want 400", st)
	}
	if st, html = alice.post("/profile/password", url.Values{"current_password": {"password-alice"}, "new_password": {"new password 1"}, "new_password2": {"new password 1"}}); st != 200 || !strings.Contains(html, "Password changed") {
		t.Fatalf("change password: got %d", st)
	}
	if st, _ = e.call("", "POST", "/api/v1/session", `{"username":"alice","password":"new password 1"}`); st != 201 {
		t.Fatalf("log in with the new password: got %d", st)
	}
}

// TestCurrencyChangeRefused: a server started with another currency than
// its members' accounts stops at once, naming the setting.
func TestCurrencyChangeRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.member("alice", members.RoleMember)
	cfg := server.Config{
		DatabaseURL: "postgres://unused", Listen: "127.0.0.1:0", CommunityID: "leaf", CommunityName: "Leaf Valley",
		Currency: "ACORN", CurrencyDivisions: 2, PublicURL: "http://127.0.0.1:1", DefaultMin: "-100", DefaultMax: "1000",
		Registration: "open",
	}
	_, err := server.New(context.Background(), cfg, e.pool, nil)
	if err == nil || !strings.Contains(err.Error(), "SXP_CURRENCY") || !strings.Contains(err.Error(), "in LEAF, not ACORN") {
		t.Fatalf("got %v, want an error naming SXP_CURRENCY", err)
	}
}

// TestCookieAPIWritesNeedCSRF: the API also takes the session cookie (for
// pages' scripts), but then writes must carry X-CSRF-Token.
func TestCookieAPIWritesNeedCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.member("alice", members.RoleMember)
	e.member("bob", members.RoleMember)
	b := e.browser("alice")
	send := func(csrf string) int {
		req, _ := http.NewRequest("POST", e.http.URL+"/api/v1/payments", strings.NewReader(`{"to":"bob","amount":"1.00"}`))
		req.Header.Set("Content-Type", "application/json")
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := send(""); st != http.StatusForbidden {
		t.Fatalf("without X-CSRF-Token: got %d, want 403", st)
	}
	if st := send("forged"); st != http.StatusForbidden {
		t.Fatalf("with a forged token: got %d, want 403", st)
	}
	if got := e.balance("bob"); got != "0.00" {
		t.Fatalf("bob: got %s, want 0.00", got)
	}
	if st := send(b.csrf); st != http.StatusCreated {
		t.Fatalf("with the session's token: got %d, want 201", st)
	}
	resp, err := b.c.Get(e.http.URL + "/api/v1/me/account")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("cookie read: got %d, want 200", resp.StatusCode)
	}
	if got := e.balance("bob"); got != "1.00" {
		t.Fatalf("bob: got %s, want 1.00", got)
	}
}

func TestDirectory(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, u := range []string{"alice", "bob", "carol", "al_x"} {
		e.member(u, members.RoleMember)
	}
	e.call("alice", "PATCH", "/api/v1/me", `{"display_name":"Alice Green"}`)
	e.member("root", members.RoleAdmin)
	e.call("root", "POST", "/api/v1/admin/members/carol/block", "")
	names := func(q string) string {
		st, body := e.call("bob", "GET", "/api/v1/members"+q, "")
		if st != 200 {
			t.Fatalf("%s: got %d %v", q, st, body)
		}
		var out []string
		for _, m := range body["members"].([]any) {
			out = append(out, m.(map[string]any)["username"].(string))
		}
		return strings.Join(out, ",")
	}
	for _, tt := range []struct{ q, want string }{
		{"", "al_x,alice,bob,root"}, // carol is blocked
		{"?q=GREEN", "alice"},
		{"?q=al", "al_x,alice"},
		{"?q=_", "al_x"}, // LIKE wildcards are literal
		{"?q=%25", ""},
		{"?limit=2", "al_x,alice"},
	} {
		if got := names(tt.q); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.q, got, tt.want)
		}
	}
	if st, _ := e.call("bob", "GET", "/api/v1/members?limit=0", ""); st != 400 {
		t.Errorf("limit=0: got %d, want 400", st)
	}
	if st, _ := e.call("", "GET", "/api/v1/members", ""); st != 401 {
		t.Errorf("no token: got %d, want 401", st)
	}
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.member("bob", members.RoleMember)
	first := e.tokens["bob"]
	e.login("bob") // a second session
	second := e.tokens["bob"]
	bad := []struct {
		body, field string
	}{
		{`{"current_password":"wrong-password","new_password":"a new password"}`, "current_password"},
		{`{"current_password":"password-bob","new_password":"short"}`, "new_password"},
		{`{"current_password":"password-bob"}`, "new_password"},
	}
	for _, tt := range bad {
		st, body := e.call("bob", "PUT", "/api/v1/me/password", tt.body)
		if _, field := errCode(body); st != 400 || field != tt.field {
			t.Fatalf("%s: got %d %v, want 400 on %s", tt.body, st, body, tt.field)
		}
	}
	e.tokens["bob"] = first
	if st, _ := e.call("bob", "GET", "/api/v1/me", ""); st != 200 {
		t.Fatalf("first session after refused changes: got %d, want 200", st)
	}
	e.tokens["bob"] = second
	if st, body := e.call("bob", "PUT", "/api/v1/me/password", `{"current_password":"password-bob","new_password":"a new password"}`); st != 204 {
		t.Fatalf("change: got %d %v, want 204", st, body)
	}
	if st, _ := e.call("bob", "GET", "/api/v1/me", ""); st != 200 {
		t.Fatalf("the changing session: got %d, want 200", st)
	}
	e.tokens["bob"] = first
	if st, _ := e.call("bob", "GET", "/api/v1/me", ""); st != 401 {
		t.Fatalf("the other session: got %d, want 401", st)
	}
	if st, _ := e.call("", "POST", "/api/v1/session", `{"username":"bob","password":"password-bob"}`); st != 401 {
		t.Fatalf("old password: got %d, want 401", st)
	}
	if st, _ := e.call("", "POST", "/api/v1/session", `{"username":"bob","password":"a new password"}`); st != 201 {
		t.Fatalf("new password: got %d, want 201", st)
	}
}

// TestBadJSONMessages checks that a body of the wrong shape is named in
// JSON's words, never in Go's.
func TestBadJSONMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.member("alice", members.RoleMember)
	e.member("bob", members.RoleMember)
	tests := []struct {
		name, user, method, path, body string
		field, message                 string
	}{
		{"array body", "", "POST", "/api/v1/members", `[1]`, "", "the body must be a JSON object, not a JSON array"},
		{"string body", "", "POST", "/api/v1/session", `"alice"`, "", "the body must be a JSON object, not a JSON string"},
		{"number name", "alice", "PATCH", "/api/v1/me", `{"display_name":5}`, "display_name", "display_name must be a string, not a JSON number"},
		{"bool description", "alice", "POST", "/api/v1/payments", `{"to":"bob","amount":"1.00","description":true}`, "description", "description must be a string, not a JSON bool"},
		{"number amount", "alice", "POST", "/api/v1/payments", `{"to":"bob","amount":1.5}`, "amount", `amount must be a decimal string such as "12.50", not a JSON number`},
		{"object amount", "alice", "POST", "/api/v1/payment-requests", `{"from":"bob","amount":{}}`, "amount", `amount must be a decimal string such as "12.50", not a JSON object`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, body := e.call(tt.user, tt.method, tt.path, tt.body)
			ebody, _ := body["error"].(map[string]any)
			if _, field := errCode(body); st != 400 || field != tt.field || ebody["message"] != tt.message {
				t.Fatalf("got %d %v, want 400 on %q: %q", st, body, tt.field, tt.message)
			}
		})
	}
	if got := e.balances("alice", "bob"); !equal(got, []string{"0.00", "0.00"}) {
		t.Fatalf("balances: got %v, want 0.00 0.00", got)
	}
	if n := e.count("members"); n != 2 {
		t.Fatalf("members: got %d, want 2", n)
	}
}

// TestBillFormSentOnce: the bill form carries an idempotency key, so a
// form sent twice (a reload, a double click) makes one bill.
func TestBillFormSentOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.member("alice", members.RoleMember)
	e.member("bob", members.RoleMember)
	alice := e.browser("alice")
	st, html := alice.get("/requests")
	m := regexp.MustCompile(`<input type="hidden" name="key" value="([^"]+)">`).FindStringSubmatch(html)
	if st != 200 || m == nil {
		t.Fatalf("bills page: got %d, want a form with a hidden key\n%s", st, html)
	}
	form := url.Values{"from": {"bob"}, "amount": {"4.00"}, "description": {"honey"}, "key": {m[1]}}
	for i := 0; i < 2; i++ {
		if st, html := alice.post("/requests", form); st != 200 || !strings.Contains(html, "Sent a bill of 4.00 to bob") {
			t.Fatalf("send %d: got %d", i+1, st)
		}
	}
	if n := e.count("payment_requests"); n != 1 {
		t.Fatalf("bills: got %d, want 1", n)
	}
	// The same key with other content is refused and makes nothing.
	form.Set("amount", "5.00")
	if st, _ := alice.post("/requests", form); st != http.StatusConflict {
		t.Fatalf("same key, other amount: got %d, want 409", st)
	}
	if n := e.count("payment_requests"); n != 1 {
		t.Fatalf("bills after the conflict: got %d, want 1", n)
	}
}

// TestStatementRange: from is inclusive, to exclusive, and the opening
// balance is the running balance before the range.
func TestStatementRange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.member("alice", members.RoleMember)
	e.member("bob", members.RoleMember)
	for _, amount := range []string{"1.00", "2.00", "4.00"} {
		if st, body := e.call("alice", "POST", "/api/v1/payments", `{"to":"bob","amount":"`+amount+`"}`); st != 201 {
			t.Fatalf("pay %s: got %d %v", amount, st, body)
		}
	}
	_, body := e.call("alice", "GET", "/api/v1/me/statement", "")
	lines, _ := body["lines"].([]any)
	if len(lines) != 3 {
		t.Fatalf("statement: got %v, want 3 lines", body)
	}
	second := lines[1].(map[string]any)["time"].(string)
	third := lines[2].(map[string]any)["time"].(string)
	if second == third {
		t.Fatalf("two lines at one time %s: the range test needs distinct times", second)
	}
	tests := []struct {
		query, opening string
		amounts        []string
	}{
		{"from=" + url.QueryEscape(second), "-1.00", []string{"-2.00", "-4.00"}},
		{"to=" + url.QueryEscape(second), "0.00", []string{"-1.00"}},
		{"from=" + url.QueryEscape(second) + "&to=" + url.QueryEscape(third), "-1.00", []string{"-2.00"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			st, body := e.call("alice", "GET", "/api/v1/me/statement?"+tt.query, "")
			lines, _ := body["lines"].([]any)
			var got []string
			for _, l := range lines {
				got = append(got, l.(map[string]any)["amount"].(string))
			}
			if st != 200 || body["opening"] != tt.opening || !equal(got, tt.amounts) {
				t.Fatalf("got %d opening %v lines %v, want opening %s lines %v", st, body["opening"], got, tt.opening, tt.amounts)
			}
		})
	}
}

// TestPayPageOwnCommunity: on the pay page, bob@<this community> is the
// local member bob; member@other-community needs a circle.
func TestPayPageOwnCommunity(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.member("alice", members.RoleMember)
	e.member("bob", members.RoleMember)
	alice := e.browser("alice")
	if st, html := alice.post("/pay", url.Values{"to": {"bob@leaf"}, "amount": {"1.25"}, "key": {"p1"}}); st != 200 || !strings.Contains(html, "Paid 1.25 LEAF to bob.") {
		t.Fatalf("pay bob@leaf: got %d", st)
	}
	if st, html := alice.post("/pay", url.Values{"to": {"bob@acorn"}, "amount": {"1.00"}, "key": {"p2"}}); st != http.StatusUnprocessableEntity || !strings.Contains(html, "not in an intertrading circle") {
		t.Fatalf("pay bob@acorn alone: got %d, want 422", st)
	}
	if got := e.balances("alice", "bob"); !equal(got, []string{"-1.25", "1.25"}) {
		t.Fatalf("balances: got %v, want -1.25 1.25", got)
	}
}

// TestIdempotencyKeysPerMember: a key is the member's own; another member
// using the same key makes their own payment or bill.
func TestIdempotencyKeysPerMember(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, u := range []string{"alice", "bob", "carol"} {
		e.member(u, members.RoleMember)
	}
	for _, tt := range []struct{ user, body string }{
		{"alice", `{"to":"carol","amount":"1.00","idempotency_key":"same"}`},
		{"bob", `{"to":"carol","amount":"2.00","idempotency_key":"same"}`},
	} {
		if st, body := e.call(tt.user, "POST", "/api/v1/payments", tt.body); st != 201 || body["from"] != tt.user {
			t.Fatalf("%s pays with key same: got %d %v, want 201", tt.user, st, body)
		}
	}
	if got := e.balances("alice", "bob", "carol"); !equal(got, []string{"-1.00", "-2.00", "3.00"}) {
		t.Fatalf("balances: got %v, want -1.00 -2.00 3.00", got)
	}
	for _, user := range []string{"alice", "bob"} {
		if st, body := e.call(user, "POST", "/api/v1/payment-requests", `{"from":"carol","amount":"1.00","idempotency_key":"same"}`); st != 201 || body["payee"] != user {
			t.Fatalf("%s bills with key same: got %d %v, want 201", user, st, body)
		}
	}
	if n := e.count("payment_requests"); n != 2 {
		t.Fatalf("bills: got %d, want 2", n)
	}
}
