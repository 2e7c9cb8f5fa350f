package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// adminRaw sends body as is to the admin API with the bearer token.
func (e *env) adminRaw(method, path, body string) (int, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	return e.do(req)
}

// Bad input on the handshake, the prepare form and list exchanges: each gets
// its code with the field in args, and the community's stored state (its
// statement, reported balance and integrity flag, balance) stays as it was.
func TestBadInputOtherEndpointsChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	uri := e.coms["a"].URL
	hs := `"api":1,"mail":"admin@a.example","uri":"` + uri + `"`
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		status int
		code   string
		field  string // args fieldname or field
	}{
		{"handshake: not JSON", "POST", "/server", `api=1`, 400, "15", "body"},
		{"handshake: JSON array", "POST", "/server", `[{"api":1}]`, 400, "15", "body"},
		{"handshake: trailing data", "POST", "/server", `{` + hs + `,"ticks":1} {}`, 400, "15", "body"},
		{"handshake: ticks as a string", "POST", "/server", `{` + hs + `,"ticks":"1"}`, 400, "15", "ticks"},
		{"handshake: traders as a string", "POST", "/server", `{` + hs + `,"ticks":1,"traders":"12"}`, 400, "15", "traders"},
		{"handshake: traders not whole", "POST", "/server", `{` + hs + `,"ticks":1,"traders":1.5}`, 400, "15", "traders"},
		{"handshake: uri as an object", "POST", "/server", `{"api":1,"mail":"m@a","ticks":1,"uri":{"x":1}}`, 400, "15", "uri"},
		{"handshake: negative traders", "POST", "/server", `{` + hs + `,"ticks":1,"traders":-1}`, 400, "12", "traders"},
		{"handshake: negative ticks", "POST", "/server", `{` + hs + `,"ticks":-2}`, 400, "12", "ticks"},
		{"handshake: zero ticks", "POST", "/server", `{` + hs + `,"ticks":0}`, 400, "12", "ticks"},
		{"handshake: over-precise ticks", "POST", "/server", `{` + hs + `,"ticks":1.0000000000001}`, 400, "15", "ticks"},
		{"handshake: huge ticks", "POST", "/server", `{` + hs + `,"ticks":1e300}`, 400, "15", "ticks"},
		{"handshake: unknown field", "POST", "/server", `{` + hs + `,"ticks":1,"colour":"red"}`, 400, "8", "colour"},
		{"handshake: repeated field", "POST", "/server", `{` + hs + `,"ticks":1,"ticks":2}`, 400, "8", "ticks"},
		{"handshake: wrong api version", "POST", "/server", `{"api":2,"mail":"m@a","ticks":1,"uri":"` + uri + `"}`, 400, "8", "api"},
		{"handshake: missing ticks", "POST", "/server", `{` + hs + `}`, 400, "11", "ticks"},
		{"handshake: missing uri", "POST", "/server", `{"api":1,"mail":"m@a","ticks":1}`, 400, "11", "uri"},
		{"handshake: control character", "POST", "/server", `{"api":1,"mail":"m\u0000@a","ticks":1,"uri":"` + uri + `"}`, 400, "13", "mail"},
		{"handshake: latitude out of range", "POST", "/server", `{` + hs + `,"ticks":1,"lat":91}`, 400, "8", "lat"},
		{"handshake: huge body", "POST", "/server", `{"mail":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "8", "body"},
		{"prepare: balance as a string", "GET", "/transactions", `{"balance":"5","integrity":true}`, 400, "15", "balance"},
		{"prepare: over-precise balance", "GET", "/transactions", `{"balance":5.001,"integrity":true}`, 400, "15", "balance"},
		{"prepare: negative volume", "GET", "/transactions", `{"volume":-1,"balance":0,"integrity":true}`, 400, "12", "volume"},
		{"prepare: integrity as a string", "GET", "/transactions", `{"balance":0,"integrity":"yes"}`, 400, "15", "integrity"},
		{"prepare: unknown field", "GET", "/transactions", `{"balance":0,"integrity":true,"spend_limit":5}`, 400, "8", "spend_limit"},
		{"prepare: not JSON", "GET", "/transactions", `balance=5`, 400, "15", "body"},
		{"prepare: query and body", "GET", "/transactions?balance=1", `{"balance":0}`, 400, "8", "body"},
		{"prepare: over-precise query", "GET", "/transactions?balance=0.001", "", 400, "15", "balance"},
		{"prepare: huge body", "GET", "/transactions", `{"balance":"` + strings.Repeat("9", 70<<10) + `"}`, 413, "8", "body"},
		{"clients: a body", "GET", "/server/clients", `{"x":1}`, 400, "8", "body"},
		{"clients: a query parameter", "GET", "/server/clients?page=2", "", 400, "8", "page"},
	}
	before, err := e.house.Community(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		var body any
		if tt.body != "" {
			body = tt.body
		}
		status, out := e.call("a", tt.method, tt.path, body)
		if status != tt.status || code(out) != tt.code {
			t.Errorf("%s: got %d %v, want %d code %s", tt.name, status, out, tt.status, tt.code)
			continue
		}
		ar := args(out)
		if got := str(ar, "fieldname") + str(ar, "field"); got != tt.field {
			t.Errorf("%s: got field %q, want %q (%v)", tt.name, got, tt.field, out)
		}
		if str(out, "message") == "" {
			t.Errorf("%s: no message: %v", tt.name, out)
		}
	}
	after, err := e.house.Community(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(after, before) {
		a, _ := json.Marshal(after)
		b, _ := json.Marshal(before)
		t.Errorf("community a changed on refused requests:\n got %s\nwant %s", a, b)
	}
	e.wantBalances(map[string]int64{"a": 0, "b": 0})
}

// Try with more kinds of bad value: each refused with its code, nothing
// held, written or relayed.
func TestBadTryValuesChangeNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, b := e.coms["a"].URL, e.coms["b"].URL
	valid := `"payer":"alice","payee":"bob","src_url":"` + a + `","dest_url":"` + b + `","temp_id":"bad"`
	tests := []struct {
		name   string
		body   string
		status int
		code   string
		field  string
	}{
		{"quantity out of int64", `{` + valid + `,"quantity":99999999999999999999,"really":true}`, 400, "15", "quantity"},
		{"quantity with a huge exponent", `{` + valid + `,"quantity":1e999,"really":true}`, 400, "15", "quantity"},
		{"quantity exponent under a cent", `{` + valid + `,"quantity":1e-3,"really":true}`, 400, "15", "quantity"},
		{"quantity as an object", `{` + valid + `,"quantity":{"v":5},"really":true}`, 400, "15", "quantity"},
		{"quantity as a boolean", `{` + valid + `,"quantity":true,"really":true}`, 400, "15", "quantity"},
		{"negative over-precise quantity", `{` + valid + `,"quantity":-0.001,"really":true}`, 400, "15", "quantity"},
		{"negative zero", `{` + valid + `,"quantity":-0,"really":true}`, 400, "12", "quantity"},
		{"missing quantity", `{` + valid + `,"really":true}`, 400, "11", "quantity"},
		{"null quantity", `{` + valid + `,"quantity":null,"really":true}`, 400, "11", "quantity"},
		{"payer as a number", `{"payer":5,"payee":"bob","src_url":"` + a + `","dest_url":"` + b + `","quantity":1,"really":true,"temp_id":"x"}`, 400, "15", "payer"},
		{"really as 2", `{` + valid + `,"quantity":1,"really":2}`, 400, "15", "really"},
		{"description too long", `{` + valid + `,"quantity":1,"really":true,"description":"` + strings.Repeat("é", 256) + `"}`, 400, "13", "description"},
		{"temp_id too long", `{"payer":"alice","payee":"bob","src_url":"` + a + `","dest_url":"` + b + `","quantity":1,"really":true,"temp_id":"` + strings.Repeat("t", 65) + `"}`, 400, "13", "temp_id"},
		{"repeated field", `{` + valid + `,"quantity":1,"quantity":1000,"really":true}`, 400, "8", "quantity"},
		{"paying oneself", `{"payer":"alice","payee":"bob","src_url":"` + a + `","dest_url":"` + a + `","quantity":1,"really":true,"temp_id":"x"}`, 400, "8", "dest_url"},
		{"paying oneself, trailing slash", `{"payer":"alice","payee":"bob","src_url":"` + a + `","dest_url":"` + a + `/","quantity":1,"really":true,"temp_id":"x"}`, 400, "8", "dest_url"},
		{"validating a payment to oneself", `{"payer":"alice","payee":"bob","src_url":"` + a + `","dest_url":" ` + a + `/","quantity":1,"really":false,"temp_id":"x"}`, 400, "8", "dest_url"},
		{"empty body", ``, 400, "15", "body"},
		{"empty object", `{}`, 400, "11", "really"},
	}
	for _, tt := range tests {
		status, out := e.call("a", "PUT", "/transactions", tt.body)
		if status != tt.status || code(out) != tt.code {
			t.Errorf("%s: got %d %v, want %d code %s", tt.name, status, out, tt.status, tt.code)
			continue
		}
		ar := args(out)
		if got := str(ar, "fieldname") + str(ar, "field"); got != tt.field {
			t.Errorf("%s: got field %q, want %q (%v)", tt.name, got, tt.field, out)
		}
	}
	e.wantBalances(map[string]int64{"a": 0, "b": 0})
	if n := len(e.coms["b"].Relays()) + len(e.coms["a"].Relays()); n != 0 {
		t.Errorf("relays: got %d, want 0", n)
	}
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM clearing_intertrades`).Scan(&n); err != nil || n != 0 {
		t.Errorf("intertrades: got %d (%v), want 0", n, err)
	}
}

// Bad input on the admin API: refused with 400 (413 for a huge body) and
// the field at fault, and neither the community nor the audit log changes.
func TestAdminBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		status int
		field  string
	}{
		{"limits: not JSON", "PUT", "/admin/api/communities/a/limits", `min=-5`, 400, "body"},
		{"limits: numbers, not decimal strings", "PUT", "/admin/api/communities/a/limits", `{"min":-5,"max":5}`, 400, "body"},
		{"limits: unknown field", "PUT", "/admin/api/communities/a/limits", `{"min":"-5","max":"5","floor":"1"}`, 400, "body"},
		{"limits: trailing data", "PUT", "/admin/api/communities/a/limits", `{"min":"-5","max":"5"} {}`, 400, "body"},
		{"limits: missing max", "PUT", "/admin/api/communities/a/limits", `{"min":"-5"}`, 400, "max"},
		{"limits: over-precise", "PUT", "/admin/api/communities/a/limits", `{"min":"-5.001","max":"5"}`, 400, "min"},
		{"limits: positive min", "PUT", "/admin/api/communities/a/limits", `{"min":"5","max":"10"}`, 400, "min"},
		{"limits: negative max", "PUT", "/admin/api/communities/a/limits", `{"min":"-5","max":"-1"}`, 400, "min"},
		{"limits: float notation", "PUT", "/admin/api/communities/a/limits", `{"min":"-5e2","max":"5"}`, 400, "min"},
		{"limits: huge body", "PUT", "/admin/api/communities/a/limits", `{"min":"` + strings.Repeat("9", 70<<10) + `"}`, 413, "body"},
		{"rate: negative", "PUT", "/admin/api/communities/a/rate", `{"ticks":"-1"}`, 400, "ticks"},
		{"rate: a number", "PUT", "/admin/api/communities/a/rate", `{"ticks":2}`, 400, "body"},
		{"rate: missing", "PUT", "/admin/api/communities/a/rate", `{}`, 400, "ticks"},
		{"block: no reason", "POST", "/admin/api/communities/a/block", `{}`, 400, "reason"},
		{"block: reason as a number", "POST", "/admin/api/communities/a/block", `{"reason":5}`, 400, "body"},
		{"add: not JSON", "POST", "/admin/api/communities", `id=c`, 400, "body"},
		{"add: negative max", "POST", "/admin/api/communities", `{"id":"c","name":"C","uri":"http://127.0.0.1:9/c","rate":"1","min":"0","max":"-1"}`, 400, "min"},
		{"policy: unknown field", "PUT", "/admin/api/circle/policy", `{"rate_policy":"fixed","colour":"red"}`, 400, "body"},
	}
	before, err := e.house.Community(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	beforeAudit, err := e.house.Audit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		status, out := e.adminRaw(tt.method, tt.path, tt.body)
		ev, _ := out["error"].(map[string]any)
		if status != tt.status || str(ev, "field") != tt.field || str(ev, "message") == "" {
			t.Errorf("%s: got %d %v, want %d with field %q and a message", tt.name, status, out, tt.status, tt.field)
		}
	}
	after, err := e.house.Community(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(after, before) {
		t.Errorf("community a changed on refused admin requests:\n got %+v\nwant %+v", after, before)
	}
	afterAudit, err := e.house.Audit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(afterAudit) != len(beforeAudit) {
		t.Errorf("audit log: got %d entries, want %d (%+v)", len(afterAudit), len(beforeAudit), afterAudit)
	}
	if _, err := e.house.Community(ctx, "c"); err == nil {
		t.Errorf("community c was added by a refused request")
	}
}
