package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/migrations/pgtest"
	"github.com/sxp-network/sxp/server/announce"
	"github.com/sxp-network/sxp/server/httpapi"
	"github.com/sxp-network/sxp/server/intertrade"
	"github.com/sxp-network/sxp/server/members"
	"github.com/sxp-network/sxp/server/payments"
	"github.com/sxp-network/sxp/server/pictures"
)

const (
	itKey    = "the key of leaf"
	itPublic = "http://leaf.example"
)

// itEnv is a community server in a circle whose clearing house cannot be
// reached: relays still arrive, payments are refused with code 26.
type itEnv struct {
	t        *testing.T
	pool     *pgxpool.Pool
	srv      *httptest.Server
	led      *ledger.Ledger
	sessions map[string]members.Session
	accounts map[string]ledger.AccountID
}

func newItEnv(t *testing.T, inCircle bool) *itEnv {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	led := ledger.New(pool, ledger.Options{})
	mem := members.New(pool, led, members.Options{Currency: "LEAF", DefaultMin: -10000, DefaultMax: 10000})
	ann, err := announce.New(ctx, pool, announce.Config{})
	if err != nil {
		t.Fatal(err)
	}
	cur := payments.Currency{Code: "LEAF", Divisions: 2}
	h := &httpapi.Handlers{
		Community: httpapi.Community{ID: "leaf", Name: "Leaf", Currency: cur, PublicURL: itPublic, Registration: "open"},
		Members:   mem, Payments: payments.New(pool, led, mem, cur, nil), Announcements: ann, Pictures: pictures.New(pool, nil),
		Ready: func(context.Context) error { return nil },
	}
	if inCircle {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := "http://" + ln.Addr().String()
		ln.Close()
		svc, err := intertrade.New(pool, led, mem, intertrade.Config{
			CircleURL: dead, CircleID: "ring", CommunityID: "leaf", Key: itKey, Rate: "2",
			PublicURL: itPublic, Currency: "LEAF", Divisions: 2, Timeout: 2 * time.Second,
		}, intertrade.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Start(ctx); err != nil {
			t.Fatal(err)
		}
		h.Intertrade = svc
	}
	e := &itEnv{t: t, pool: pool, led: led, srv: httptest.NewServer(h.Engine()),
		sessions: map[string]members.Session{}, accounts: map[string]ledger.AccountID{}}
	t.Cleanup(e.srv.Close)
	for _, u := range []struct {
		name string
		role members.Role
	}{{"alice", members.RoleMember}, {"bob", members.RoleMember}, {"carol", members.RoleAdmin}} {
		m, err := mem.Add(ctx, members.Registration{Username: u.name, Password: "password-" + u.name}, u.role)
		if err != nil {
			t.Fatal(err)
		}
		e.accounts[u.name] = m.Account
		s, err := mem.Login(ctx, members.LoginRequest{Username: u.name, Password: "password-" + u.name, IP: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		e.sessions[u.name] = s
	}
	return e
}

func (e *itEnv) do(user, method, path, body string) (int, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+e.sessions[user].Token)
	}
	return e.send(req)
}

func (e *itEnv) send(req *http.Request) (int, map[string]any) {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	if err := json.Unmarshal(raw, &out); err != nil {
		e.t.Fatalf("%s %s: not JSON: %s", req.Method, req.URL.Path, raw)
	}
	return resp.StatusCode, out
}

func (e *itEnv) page(user, path string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	req.AddCookie(&http.Cookie{Name: "sxp_session", Value: e.sessions[user].Token})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// relay sends a relay for bob, signed as the circle with key ("" unsigned).
func (e *itEnv) relay(key, tempID, quantity string) (int, map[string]any) {
	e.t.Helper()
	body, _ := json.Marshal(cxp.TransactionRequest{Payer: "zoe", PayerURL: "http://acorn.example", Payee: "bob",
		PayeeURL: itPublic, DestURL: itPublic, SrcURL: "http://acorn.example", Quantity: cxp.Decimal(quantity),
		Description: "plums", Really: true, TempID: tempID})
	req, err := http.NewRequest(http.MethodPut, e.srv.URL+"/transactions", bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		// Signed for the community's public URL, as the circle addresses it.
		signed, _ := http.NewRequest(http.MethodPut, itPublic+"/transactions", bytes.NewReader(body))
		if err := (httpsig.Signer{KeyID: "ring", Key: []byte(key)}).Sign(signed, body); err != nil {
			e.t.Fatal(err)
		}
		for k, v := range signed.Header {
			req.Header[k] = v
		}
	}
	return e.send(req)
}

func (e *itEnv) balance(user string) int64 {
	e.t.Helper()
	a, err := e.led.Account(context.Background(), e.accounts[user])
	if err != nil {
		e.t.Fatal(err)
	}
	return a.Balance
}

func TestIntertradeRoutes(t *testing.T) {
	t.Parallel()
	e := newItEnv(t, true)

	// A relay through the HTTP layer: 30.00 base at rate 2 is 15.00 LEAF.
	st, out := e.relay(itKey, "t-http-1", "30.00")
	if st != 200 || out["code"] != float64(0) || out["quantity"] != 30.0 || out["payee_ticks"] != 2.0 {
		t.Fatalf("relay: got %d %v, want 200 code 0", st, out)
	}
	if got := e.balance("bob"); got != 1500 {
		t.Fatalf("bob: got %d, want 1500", got)
	}
	for _, tt := range []struct {
		name, key, tempID, quantity string
		wantStatus                  int
		wantCode                    float64
	}{
		{"unsigned", "", "t-http-2", "1", 401, 18},
		{"wrong key", "not the key", "t-http-2", "1", 401, 17},
		{"same temp_id, other quantity", itKey, "t-http-1", "31", 400, 8},
		{"too many decimals", itKey, "t-http-3", "1.001", 400, 15},
	} {
		st, out := e.relay(tt.key, tt.tempID, tt.quantity)
		if st != tt.wantStatus || out["code"] != tt.wantCode {
			t.Errorf("%s: got %d %v, want %d code %v", tt.name, st, out, tt.wantStatus, tt.wantCode)
		}
	}
	if got := e.balance("bob"); got != 1500 {
		t.Fatalf("bob after refused relays: got %d, want 1500", got)
	}

	// A payment while the circle is down: refused with 26, nothing moved.
	st, out = e.do("alice", "POST", "/api/v1/payments", `{"to":"bob@acorn","amount":"1.00","idempotency_key":"k1"}`)
	if errBody, _ := out["error"].(map[string]any); st != 422 || errBody["cxp"] != float64(26) {
		t.Fatalf("pay with the circle down: got %d %v, want 422 cxp 26", st, out)
	}
	if got := e.balance("alice"); got != 0 {
		t.Fatalf("alice: got %d, want 0", got)
	}
	// A NUL byte in the key is bad input (issue 10), locally and remotely.
	for _, to := range []string{"bob@acorn", "carol"} {
		st, out = e.do("alice", "POST", "/api/v1/payments", `{"to":"`+to+`","amount":"1.00","idempotency_key":"k\u0000"}`)
		if errBody, _ := out["error"].(map[string]any); st != 400 || errBody["field"] != "idempotency_key" {
			t.Fatalf("pay %s with a NUL in the key: got %d %v, want 400 on idempotency_key", to, st, out)
		}
	}
	st, out = e.do("alice", "GET", "/api/v1/intertrade/communities", "")
	if errBody, _ := out["error"].(map[string]any); st != 422 || errBody["cxp"] != float64(26) {
		t.Fatalf("communities with the circle down: got %d %v, want 422 cxp 26", st, out)
	}

	// Admin API: the overview, the history and its bad input; members and visitors are kept out.
	st, out = e.do("carol", "GET", "/api/v1/admin/intertrade", "")
	ie, _ := out["import_export"].(map[string]any)
	hs, _ := out["last_handshake"].(map[string]any)
	if st != 200 || ie["balance"] != "-15.00" || ie["code"] != intertrade.ImportExportCode || hs["ok"] != false {
		t.Fatalf("admin overview: got %d %v", st, out)
	}
	if cfg, _ := out["config"].(map[string]any); cfg["rate_in_force"] != "2" || cfg["circle_id"] != "ring" || cfg["key"] != nil {
		t.Fatalf("admin config: got %v", cfg)
	}
	st, out = e.do("carol", "GET", "/api/v1/admin/intertrade/history?direction=in", "")
	list, _ := out["intertrades"].([]any)
	if st != 200 || len(list) != 1 || list[0].(map[string]any)["amount"] != "15.00" || list[0].(map[string]any)["state"] != "completed" {
		t.Fatalf("history: got %d %v", st, out)
	}
	for _, q := range []string{"?state=lost", "?direction=sideways", "?limit=0", "?limit=501", "?before=x", "?before=-1"} {
		if st, out := e.do("carol", "GET", "/api/v1/admin/intertrade/history"+q, ""); st != 400 {
			t.Errorf("history%s: got %d %v, want 400", q, st, out)
		}
	}
	st, out = e.do("carol", "POST", "/api/v1/admin/intertrade/reconcile", "")
	if st != 200 || out["ok"] != false || out["account_balance"] != "-15.00" || out["base_sum"] != "-30.00" {
		t.Fatalf("reconcile without the circle: got %d %v, want not ok (the circle never answered)", st, out)
	}
	for _, r := range []struct{ user, method, path string }{
		{"alice", "GET", "/api/v1/admin/intertrade"}, {"alice", "GET", "/api/v1/admin/intertrade/history"},
		{"alice", "POST", "/api/v1/admin/intertrade/handshake"}, {"alice", "POST", "/api/v1/admin/intertrade/reconcile"},
		{"alice", "POST", "/api/v1/admin/intertrade/settle"}, {"", "GET", "/api/v1/admin/intertrade"},
		{"", "GET", "/api/v1/intertrade/communities"},
	} {
		st, _ := e.do(r.user, r.method, r.path, "")
		want := 403
		if r.user == "" {
			want = 401
		}
		if st != want {
			t.Errorf("%s %s as %q: got %d, want %d", r.method, r.path, r.user, st, want)
		}
	}

	// The admin page.
	st, body := e.page("carol", "/admin/intertrade")
	for _, want := range []string{"Intertrading", "intertrade:import-export", "-15.00", "from zoe@http://acorn.example", "the handshake failed", "Mismatch"} {
		if st != 200 || !strings.Contains(body, want) {
			t.Fatalf("admin page: got %d, want %q in\n%s", st, want, body)
		}
	}
	if st, _ := e.page("alice", "/admin/intertrade"); st != 403 {
		t.Fatalf("admin page as a member: got %d, want 403", st)
	}
	// The page's buttons: with the session's CSRF token they run and come back; without, refused.
	checks := e.count("intertrade_integrity_checks")
	if st, loc := e.form("carol", "/admin/intertrade/reconcile", true); st != http.StatusSeeOther || loc != "/admin/intertrade?notice=reconcile" {
		t.Fatalf("reconcile button: got %d %q, want 303 back to the page", st, loc)
	}
	if got := e.count("intertrade_integrity_checks"); got != checks+1 {
		t.Fatalf("integrity checks after the button: got %d, want %d", got, checks+1)
	}
	for _, f := range []struct {
		user, path string
		csrf       bool
		want       int
	}{
		{"carol", "/admin/intertrade/reconcile", false, 403},
		{"alice", "/admin/intertrade/reconcile", true, 403},
		{"carol", "/admin/intertrade/explode", true, 404},
	} {
		if st, _ := e.form(f.user, f.path, f.csrf); st != f.want {
			t.Errorf("POST %s as %s (csrf %v): got %d, want %d", f.path, f.user, f.csrf, st, f.want)
		}
	}
	if got := e.count("intertrade_integrity_checks"); got != checks+1 {
		t.Fatalf("integrity checks after refused forms: got %d, want %d", got, checks+1)
	}
}

// form posts a page form as user, with the session's CSRF token or not.
func (e *itEnv) form(user, path string, csrf bool) (int, string) {
	e.t.Helper()
	v := url.Values{}
	if csrf {
		v.Set("csrf", e.sessions[user].CSRF)
	}
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "sxp_session", Value: e.sessions[user].Token})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

func (e *itEnv) count(table string) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestIntertradeRoutesAlone(t *testing.T) {
	t.Parallel()
	e := newItEnv(t, false)
	if st, out := e.relay(itKey, "t-1", "1"); st != 403 || out["code"] != float64(16) {
		t.Fatalf("relay to a community outside any circle: got %d %v, want 403 code 16", st, out)
	}
	// intertrade.Alone refuses a relay before its signature is looked at.
	if st, out := e.relay("", "t-2", "1"); st != 403 || out["code"] != float64(16) {
		t.Fatalf("unsigned relay to a community outside any circle: got %d %v, want 403 code 16", st, out)
	}
	for _, r := range [][2]string{{"GET", "/api/v1/admin/intertrade"}, {"GET", "/api/v1/admin/intertrade/history"},
		{"POST", "/api/v1/admin/intertrade/handshake"}, {"POST", "/api/v1/admin/intertrade/reconcile"},
		{"POST", "/api/v1/admin/intertrade/settle"}, {"GET", "/api/v1/intertrade/communities"}} {
		st, out := e.do("carol", r[0], r[1], "")
		if code, _ := out["error"].(map[string]any)["code"].(string); st != 404 || code != "not_in_circle" {
			t.Fatalf("%s %s: got %d %v, want 404 not_in_circle", r[0], r[1], st, out)
		}
	}
	st, out := e.do("alice", "POST", "/api/v1/payments", `{"to":"bob@acorn","amount":"1.00"}`)
	if er, _ := out["error"].(map[string]any); st != 422 || er["code"] != "not_in_circle" || er["field"] != "to" {
		t.Fatalf("pay outside any circle: got %d %v, want 422 not_in_circle on to", st, out)
	}
	if st, _ := e.form("carol", "/admin/intertrade/settle", true); st != 404 {
		t.Fatalf("admin form outside any circle: got %d, want 404", st)
	}
	if st, body := e.page("carol", "/admin/intertrade"); st != 200 || !strings.Contains(body, "not in an intertrading circle") {
		t.Fatalf("admin page: got %d\n%s", st, body)
	}
}
