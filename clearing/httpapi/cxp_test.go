package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sxp-network/sxp/clearing"
	"github.com/sxp-network/sxp/clearing/app"
	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
)

func TestTryWritesAndRelaysBothDirections(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	status, out := e.call("a", "PUT", "/transactions", e.tx("10.00", "t1", true))
	if status != 200 || code(out) != "0" {
		t.Fatalf("a pays b: got %d %v, want 200 code 0", status, out)
	}
	for k, want := range map[string]string{"quantity": "10.00", "payer_ticks": "1", "payee_ticks": "2", "temp_id": "t1"} {
		if got := str(out, k); got != want {
			t.Errorf("answer %s: got %q, want %q", k, got, want)
		}
	}
	if str(out, "id") == "" {
		t.Errorf("answer has no id: %v", out)
	}
	e.wantBalances(map[string]int64{"a": -1000, "b": 1000})
	got := e.coms["b"].Relays()
	if len(got) != 1 || !got[0].Really || got[0].Quantity != "10.00" || got[0].TempID != "t1" || got[0].Payee != "bob" {
		t.Fatalf("b's relays: got %+v, want one really=true relay of 10.00 for bob", got)
	}
	if n := len(e.coms["a"].Relays()); n != 0 {
		t.Errorf("a got %d relays, want 0", n)
	}

	// b pays a back 2.50.
	back := map[string]any{"payer": "bob", "payee": "alice", "src_url": e.coms["b"].URL, "dest_url": e.coms["a"].URL,
		"quantity": json.Number("2.5"), "description": "pears", "really": true, "temp_id": "t2"}
	status, out = e.call("b", "PUT", "/transactions", back)
	if status != 200 || code(out) != "0" || str(out, "payer_ticks") != "2" || str(out, "payee_ticks") != "1" {
		t.Fatalf("b pays a: got %d %v, want 200 code 0 with payer_ticks 2, payee_ticks 1", status, out)
	}
	e.wantBalances(map[string]int64{"a": -750, "b": 750})

	list, err := e.house.Intertrades(context.Background(), "", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Status != "posted" || list[1].Status != "posted" || list[1].PayerTicks != "1" || list[1].PayeeTicks != "2" {
		t.Fatalf("intertrades: got %+v, want two posted with the rates used", list)
	}
}

func TestTryValidateOnlyWritesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	status, out := e.call("a", "PUT", "/transactions", e.tx("10", "v1", false))
	if status != 200 || code(out) != "0" || str(out, "id") != "" {
		t.Fatalf("really=false: got %d %v, want 200 code 0 without id", status, out)
	}
	e.wantBalances(map[string]int64{"a": 0, "b": 0})
	got := e.coms["b"].Relays()
	if len(got) != 1 || got[0].Really {
		t.Fatalf("b's relays: got %+v, want one really=false relay", got)
	}
	// A refusal of the payee passes through, still writing nothing.
	e.coms["b"].SetAnswer(refuse(cxp.CodeRemoteLimits, nil))
	status, out = e.call("a", "PUT", "/transactions", e.tx("10", "v2", false))
	if code(out) != "24" || status != http.StatusConflict {
		t.Fatalf("really=false refused by payee: got %d %v, want 409 code 24", status, out)
	}
	e.wantBalances(map[string]int64{"a": 0, "b": 0})
}

func TestTryReplayedTempID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, first := e.call("a", "PUT", "/transactions", e.tx("3.00", "same", true))
	_, again := e.call("a", "PUT", "/transactions", e.tx("3.00", "same", true))
	if code(first) != "0" || str(first, "id") == "" || str(again, "id") != str(first, "id") || code(again) != "0" {
		t.Fatalf("replay: first %v, again %v; want the same answer", first, again)
	}
	e.wantBalances(map[string]int64{"a": -300, "b": 300})
	if n := len(e.coms["b"].Relays()); n != 1 {
		t.Fatalf("relays: got %d, want 1", n)
	}
	status, diff := e.call("a", "PUT", "/transactions", e.tx("4.00", "same", true))
	if status != 400 || code(diff) != "8" || str(args(diff), "field") != "temp_id" {
		t.Fatalf("same temp_id, other content: got %d %v, want 400 code 8 on temp_id", status, diff)
	}
	e.wantBalances(map[string]int64{"a": -300, "b": 300})
}

func TestTryRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		setup  func(e *env)
		from   string
		body   func(e *env) map[string]any
		status int
		code   string
		arg    [2]string // an args key and value to check
		relays int       // relays b should have received
	}{
		{name: "over the payer's lower limit", body: func(e *env) map[string]any { return e.tx("100.01", "r", true) },
			status: 409, code: "4", arg: [2]string{"community", "a"}},
		{name: "over the payee's upper limit", setup: func(e *env) {
			e.house.SetLimits(context.Background(), "test", "b", -10000, 500)
		}, body: func(e *env) map[string]any { return e.tx("5.01", "r", true) }, status: 409, code: "4", arg: [2]string{"community", "b"}},
		{name: "unknown payee community", body: func(e *env) map[string]any {
			m := e.tx("1", "r", true)
			m["dest_url"], m["payee_url"] = "http://127.0.0.1:1/nowhere", nil
			return m
		}, status: 404, code: "6"},
		{name: "src_url is not the signer's", body: func(e *env) map[string]any {
			m := e.tx("1", "r", true)
			m["src_url"], m["payer_url"] = e.coms["b"].URL, nil
			m["dest_url"], m["payee_url"] = e.coms["a"].URL, nil
			return m
		}, status: 400, code: "8", arg: [2]string{"field", "src_url"}},
		{name: "payer_url is not src_url", body: func(e *env) map[string]any {
			m := e.tx("1", "r", true)
			m["payer_url"] = e.coms["b"].URL
			return m
		}, status: 400, code: "8", arg: [2]string{"field", "payer_url"}},
		{name: "ratio over the circle's percentage", setup: func(e *env) {
			ctx := context.Background()
			e.call("a", "PUT", "/transactions", e.tx("10", "seed", true))
			e.call("b", "PUT", "/transactions", map[string]any{"payer": "bob", "payee": "alice", "src_url": e.coms["b"].URL,
				"dest_url": e.coms["a"].URL, "quantity": json.Number("10"), "description": "", "really": true, "temp_id": "seed2"})
			c, _ := e.house.Circle(ctx)
			p := c.Policy
			p.RatioPercent = "50"
			if _, err := e.house.SetPolicy(ctx, "test", p); err != nil {
				panic(err)
			}
		}, body: func(e *env) map[string]any { return e.tx("10.01", "r", true) }, status: 409, code: "14",
			arg: [2]string{"volume", "20.00"}},
		{name: "caller blocked", setup: func(e *env) {
			e.house.Block(context.Background(), "test", "a", "unpaid fees")
		}, body: func(e *env) map[string]any { return e.tx("1", "r", true) }, status: 403, code: "16"},
		{name: "payee blocked", setup: func(e *env) {
			e.house.Block(context.Background(), "test", "b", "fraud")
		}, body: func(e *env) map[string]any { return e.tx("1", "r", true) }, status: 403, code: "16"},
		{name: "payee refuses our signature", setup: func(e *env) {
			e.coms["b"].SetVerifyKey("not the key")
		}, body: func(e *env) map[string]any { return e.tx("1", "r", true) }, status: 502, code: "20"},
		{name: "payee refuses for its limits", setup: func(e *env) {
			e.coms["b"].SetAnswer(refuse(cxp.CodeRemoteLimits, nil))
		}, body: func(e *env) map[string]any { return e.tx("1", "r", true) }, status: 409, code: "24", relays: 1},
		{name: "payee refuses (misc)", setup: func(e *env) {
			e.coms["b"].SetAnswer(refuse(cxp.CodeRemoteValidation, map[string]string{"message": "no such member bob"}))
		}, body: func(e *env) map[string]any { return e.tx("1", "r", true) }, status: 422, code: "25",
			arg: [2]string{"message", "no such member bob"}, relays: 1},
		{name: "payee answers another code", setup: func(e *env) {
			e.coms["b"].SetAnswer(refuse(cxp.CodeUnknownAccount, nil))
		}, body: func(e *env) map[string]any { return e.tx("1", "r", true) }, status: 422, code: "25", relays: 1},
		{name: "payee answers garbage", setup: func(e *env) {
			// A 4xx that is not CXP: refused before anything was written. (A
			// 5xx page leaves the outcome open: TestRelayGatewayErrorStaysPending.)
			e.coms["b"].SetAnswer(func(cxp.TransactionRequest) (int, any) { return 400, []int{1} })
		}, body: func(e *env) map[string]any { return e.tx("1", "r", true) }, status: 500, code: "7", relays: 1},
		{name: "payee answers 401 without an envelope", setup: func(e *env) {
			e.coms["b"].SetAnswer(func(cxp.TransactionRequest) (int, any) { return 401, "no" })
		}, body: func(e *env) map[string]any { return e.tx("1", "r", true) }, status: 502, code: "20", relays: 1},
		{name: "payee unreachable", setup: func(e *env) {
			e.coms["b"].Close()
		}, body: func(e *env) map[string]any { return e.tx("1", "r", true) }, status: 502, code: "26"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if tt.setup != nil {
				tt.setup(e)
			}
			beforeA, _, _ := e.balance("a")
			beforeB, _, _ := e.balance("b")
			relaysBefore := len(e.coms["b"].Relays())
			status, out := e.call("a", "PUT", "/transactions", tt.body(e))
			if status != tt.status || code(out) != tt.code {
				t.Fatalf("got %d %v, want %d code %s", status, out, tt.status, tt.code)
			}
			if tt.arg[0] != "" && str(args(out), tt.arg[0]) != tt.arg[1] {
				t.Errorf("args[%s]: got %q, want %q (%v)", tt.arg[0], str(args(out), tt.arg[0]), tt.arg[1], out)
			}
			if str(out, "message") == "" {
				t.Errorf("no message: %v", out)
			}
			e.wantBalances(map[string]int64{"a": beforeA, "b": beforeB})
			if got := len(e.coms["b"].Relays()) - relaysBefore; got != tt.relays {
				t.Errorf("relays to b: got %d, want %d", got, tt.relays)
			}
			var live int
			e.pool.QueryRow(context.Background(), `SELECT count(*) FROM clearing_intertrades WHERE status IN ('pending') OR (status = 'posted' AND temp_id = 'r')`).Scan(&live)
			if live != 0 {
				t.Errorf("got %d pending or posted intertrades for the refused try, want 0", live)
			}
		})
	}
}

func TestRelayFailureThenRetrySameTempID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.coms["b"].SetAnswer(refuse(cxp.CodeRemoteValidation, map[string]string{"message": "busy"}))
	if _, out := e.call("a", "PUT", "/transactions", e.tx("7", "retry", true)); code(out) != "25" {
		t.Fatalf("first try: got %v, want code 25", out)
	}
	e.wantBalances(map[string]int64{"a": 0, "b": 0})
	var voided int
	e.pool.QueryRow(context.Background(), `SELECT count(*) FROM clearing_intertrades WHERE temp_id = 'retry' AND status = 'voided' AND result_code = 25`).Scan(&voided)
	if voided != 1 {
		t.Fatalf("voided intertrades: got %d, want 1", voided)
	}
	e.coms["b"].SetAnswer(nil)
	if _, out := e.call("a", "PUT", "/transactions", e.tx("7", "retry", true)); code(out) != "0" {
		t.Fatalf("retry: got %v, want code 0", out)
	}
	e.wantBalances(map[string]int64{"a": -700, "b": 700})
	got := e.coms["b"].Relays()
	if len(got) != 2 || got[0].TempID != "retry" || got[1].TempID != "retry" {
		t.Fatalf("relays: got %+v, want two with temp_id retry", got)
	}
}

func TestSignatureRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body, _ := json.Marshal(e.tx("1", "s", true))
	signed := func(id, key string, mutate func(r *http.Request)) (int, map[string]any) {
		req, _ := http.NewRequest("PUT", e.srv.URL+"/transactions", bytes.NewReader(body))
		if id != "" {
			(httpsig.Signer{KeyID: id, Key: []byte(key)}).Sign(req, body)
		}
		if mutate != nil {
			mutate(req)
		}
		return e.do(req)
	}
	tests := []struct {
		name   string
		send   func() (int, map[string]any)
		status int
		code   string
	}{
		{"no signature", func() (int, map[string]any) { return signed("", "", nil) }, 401, "18"},
		{"wrong key", func() (int, map[string]any) { return signed("a", "wrong", nil) }, 401, "17"},
		{"unknown keyid", func() (int, map[string]any) { return signed("zz", "x", nil) }, 403, "16"},
		{"missing content digest", func() (int, map[string]any) {
			return signed("a", e.coms["a"].Key(), func(r *http.Request) { r.Header.Del("Content-Digest") })
		}, 401, "18"},
		{"tampered body", func() (int, map[string]any) {
			req, _ := http.NewRequest("PUT", e.srv.URL+"/transactions", bytes.NewReader(body))
			(httpsig.Signer{KeyID: "a", Key: []byte(e.coms["a"].Key())}).Sign(req, body)
			other := bytes.Replace(body, []byte(`"1"`), []byte(`"9"`), 1)
			other = bytes.Replace(other, []byte(`:1,`), []byte(`:9,`), 1)
			req.Body = http.NoBody
			req2, _ := http.NewRequest("PUT", e.srv.URL+"/transactions", bytes.NewReader(other))
			req2.Header = req.Header
			return e.do(req2)
		}, 401, "18"},
		{"stale created", func() (int, map[string]any) {
			old := func() time.Time { return time.Now().Add(-10 * time.Minute) }
			req, _ := http.NewRequest("PUT", e.srv.URL+"/transactions", bytes.NewReader(body))
			(httpsig.Signer{KeyID: "a", Key: []byte(e.coms["a"].Key()), Now: old}).Sign(req, body)
			return e.do(req)
		}, 401, "18"},
		{"replayed nonce", func() (int, map[string]any) {
			req, _ := http.NewRequest("PUT", e.srv.URL+"/transactions", bytes.NewReader(e.mustJSON(e.tx("1", "n1", false))))
			raw := e.mustJSON(e.tx("1", "n1", false))
			(httpsig.Signer{KeyID: "a", Key: []byte(e.coms["a"].Key()), Nonce: func() string { return "fixed-nonce" }}).Sign(req, raw)
			if st, out := e.do(req); st != 200 {
				t.Fatalf("first use of the nonce: got %d %v", st, out)
			}
			req2, _ := http.NewRequest("PUT", e.srv.URL+"/transactions", bytes.NewReader(raw))
			req2.Header = req.Header.Clone()
			return e.do(req2)
		}, 401, "18"},
	}
	for _, tt := range tests {
		status, out := tt.send()
		if status != tt.status || code(out) != tt.code {
			t.Errorf("%s: got %d %v, want %d code %s", tt.name, status, out, tt.status, tt.code)
		}
	}
	e.wantBalances(map[string]int64{"a": 0, "b": 0})
}

func (e *env) mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, b := e.coms["a"].URL, e.coms["b"].URL
	valid := `"payer":"alice","payee":"bob","src_url":"` + a + `","dest_url":"` + b + `","description":"x","temp_id":"bad"`
	tests := []struct {
		name   string
		body   string
		status int
		code   string
		field  string // args fieldname or field
	}{
		{"not JSON", `quantity=5`, 400, "15", "body"},
		{"JSON array", `[1,2]`, 400, "15", "body"},
		{"quantity as a string", `{` + valid + `,"quantity":"5","really":true}`, 400, "15", "quantity"},
		{"really as a string", `{` + valid + `,"quantity":5,"really":"yes"}`, 400, "15", "really"},
		{"over-precise quantity", `{` + valid + `,"quantity":1.234,"really":true}`, 400, "15", "quantity"},
		{"negative quantity", `{` + valid + `,"quantity":-5,"really":true}`, 400, "12", "quantity"},
		{"zero quantity", `{` + valid + `,"quantity":0,"really":true}`, 400, "12", "quantity"},
		{"missing payer", `{"payee":"bob","src_url":"` + a + `","dest_url":"` + b + `","quantity":5,"really":true,"temp_id":"x"}`, 400, "11", "payer"},
		{"missing really", `{` + valid + `,"quantity":5}`, 400, "11", "really"},
		{"unknown field", `{` + valid + `,"quantity":5,"really":true,"colour":"red"}`, 400, "8", "colour"},
		{"control character", `{"payer":"al\u0007ice","payee":"bob","src_url":"` + a + `","dest_url":"` + b + `","quantity":5,"really":true,"temp_id":"x"}`, 400, "13", "payer"},
		{"bad temp_id", `{"payer":"alice","payee":"bob","src_url":"` + a + `","dest_url":"` + b + `","quantity":5,"really":true,"temp_id":"a b"}`, 400, "13", "temp_id"},
		{"huge body", `{"description":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "8", "body"},
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
	if n := len(e.coms["b"].Relays()); n != 0 {
		t.Errorf("relays: got %d, want 0", n)
	}
	var n int
	e.pool.QueryRow(context.Background(), `SELECT count(*) FROM clearing_intertrades`).Scan(&n)
	if n != 0 {
		t.Errorf("intertrades: got %d, want 0", n)
	}
}

func TestHandshake(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hs := map[string]any{"api": json.Number("1.0"), "mail": "admin@a.example", "ticks": json.Number("1.5"),
		"first_trade": 1700000000, "traders": 42, "transactions": 7, "uri": e.coms["a"].URL,
		"visibility": true, "lat": json.Number("51.5"), "lon": json.Number("-0.12")}
	status, out := e.call("a", "POST", "/server", hs)
	if status != 200 || code(out) != "0" {
		t.Fatalf("handshake: got %d %v", status, out)
	}
	for k, want := range map[string]string{"status": "1", "balance": "0.00", "min": "-100.00", "max": "100.00",
		"count": "0", "keymatch": "true", "ticks": "1"} {
		if got := str(out, k); got != want {
			t.Errorf("handshake %s: got %q, want %q", k, got, want)
		}
	}
	c, err := e.house.Community(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	if c.Traders != 42 || c.Transactions != 7 || c.Mail != "admin@a.example" || c.Lat != "51.5" || c.DeclaredTicks != "1.5" ||
		c.FirstTrade == nil || c.FirstTrade.Unix() != 1700000000 || c.LastHandshakeAt == nil || !c.Visibility {
		t.Fatalf("stored statement: got %+v", c)
	}
	// The declared rate takes effect on approval (the default policy).
	if _, err := e.house.ApproveRate(context.Background(), "test", "a"); err != nil {
		t.Fatal(err)
	}
	if _, out = e.call("a", "POST", "/server", hs); str(out, "ticks") != "1.5" {
		t.Fatalf("after approval: got ticks %q, want 1.5", str(out, "ticks"))
	}
	rates, _ := e.house.Rates(context.Background(), "a")
	if len(rates) != 2 || rates[1].Source != "approved" || rates[1].Ticks != "1.5" || rates[1].Previous != "1" {
		t.Fatalf("rate history: got %+v", rates)
	}
	// A handshake naming another uri is refused.
	hs["uri"] = e.coms["b"].URL
	if status, out := e.call("a", "POST", "/server", hs); status != 400 || code(out) != "8" {
		t.Fatalf("wrong uri: got %d %v, want 400 code 8", status, out)
	}
	delete(hs, "mail")
	if status, out := e.call("a", "POST", "/server", hs); status != 400 || code(out) != "11" {
		t.Fatalf("no mail: got %d %v, want 400 code 11", status, out)
	}
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	hs := func(key string) (int, map[string]any) {
		return e.call("a", "POST", "/server", map[string]any{"api": 1, "mail": "x@a", "ticks": 1, "uri": e.coms["a"].URL}, key)
	}
	old := e.coms["a"].Key()
	newKey, err := e.house.RotateKey(ctx, "test", "a", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, out := hs(newKey); code(out) != "0" || str(out, "keymatch") != "true" {
		t.Fatalf("new key: got %v, want keymatch true", out)
	}
	if _, out := hs(old); code(out) != "0" || str(out, "keymatch") != "false" {
		t.Fatalf("old key during overlap: got %v, want code 0 with keymatch false", out)
	}
	// Relays go out signed with the new key.
	e.coms["a"].SetKey(newKey)
	if _, err := e.house.RotateKey(ctx, "test", "a", 0); err != nil {
		t.Fatal(err)
	}
	if status, out := hs(newKey); status != 401 || code(out) != "17" {
		t.Fatalf("retired key after the overlap: got %d %v, want 401 code 17", status, out)
	}
}

func TestPrepareAndIntegrity(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.call("a", "PUT", "/transactions", e.tx("25.50", "p1", true))
	// a's import/export account is +25.50 (minus its virtual customer's -25.50): consistent.
	status, out := e.call("a", "GET", "/transactions?volume=100&integrity=1&balance=25.50", nil)
	if status != 200 || code(out) != "0" || str(out, "spend_limit") != "74.50" || str(out, "earn_limit") != "125.50" {
		t.Fatalf("prepare: got %d %v, want spend 74.50 earn 125.50", status, out)
	}
	c, _ := e.house.Community(context.Background(), "a")
	if c.IntegrityOK == nil || !*c.IntegrityOK || c.ReportedBalance == nil || *c.ReportedBalance != 2550 {
		t.Fatalf("after a consistent report: got integrity %v reported %v", c.IntegrityOK, c.ReportedBalance)
	}
	// b reports a wrong balance in a JSON body: flagged, never fixed.
	status, out = e.call("b", "GET", "/transactions", map[string]any{"balance": json.Number("-25"), "integrity": true})
	if status != 200 || str(out, "spend_limit") != "125.50" || str(out, "earn_limit") != "74.50" {
		t.Fatalf("prepare b: got %d %v", status, out)
	}
	rows, err := e.house.Integrity(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[1].Community != "b" || rows[1].OK == nil || *rows[1].OK || *rows[1].ReportedBalance != "-25.00" || rows[1].VirtualCustomerBalance != "25.50" {
		t.Fatalf("integrity: got %+v", rows)
	}
	e.wantBalances(map[string]int64{"a": -2550, "b": 2550})
	alerts, _ := e.house.Monitor(context.Background(), clearing.MonitorOptions{})
	found := false
	for _, a := range alerts {
		found = found || (a.Kind == "integrity" && a.Community == "b")
	}
	if !found {
		t.Fatalf("monitor: got %+v, want an integrity alert for b", alerts)
	}
	for _, bad := range []struct{ q, code string }{{"volume=abc", "15"}, {"colour=red", "8"}, {"balance=1.001", "15"}, {"integrity=maybe", "15"}, {"volume=-1", "12"}} {
		if status, out := e.call("a", "GET", "/transactions?"+bad.q, nil); code(out) != bad.code || status != 400 {
			t.Errorf("prepare ?%s: got %d %v, want 400 code %s", bad.q, status, out, bad.code)
		}
	}
}

func TestClients(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addCommunity("c", "0.5", -100, 100)
	e.house.Block(context.Background(), "test", "c", "late")
	status, out := e.call("a", "GET", "/server/clients", nil)
	if status != 200 || code(out) != "0" {
		t.Fatalf("clients: got %d %v", status, out)
	}
	clients, _ := out["clients"].(map[string]any)
	if len(clients) != 1 || clients[e.coms["b"].URL] != "Community b" {
		t.Fatalf("clients: got %v, want only b", clients)
	}
	ex, _ := out["exchanges"].([]any)
	if len(ex) != 1 || str(ex[0].(map[string]any), "ticks") != "2" || str(ex[0].(map[string]any), "id") != "b" {
		t.Fatalf("exchanges: got %v", ex)
	}
}

func TestNoncesSharedAcrossProcesses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other, err := clearing.New(e.pool, e.house.Ledger(), clearing.Options{Secret: "test secret"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	until := time.Now().Add(5 * time.Minute)
	fresh, err := e.house.NonceStore().Remember(ctx, "a", "n-1", until)
	if err != nil || !fresh {
		t.Fatalf("first: got %v, %v; want fresh", fresh, err)
	}
	fresh, err = other.NonceStore().Remember(ctx, "a", "n-1", until)
	if err != nil || fresh {
		t.Fatalf("second process: got fresh=%v, %v; want a replay", fresh, err)
	}
	fresh, _ = other.NonceStore().Remember(ctx, "b", "n-1", until)
	if !fresh {
		t.Fatalf("same nonce, other key id: got replay, want fresh")
	}
	// An expired nonce is pruned and may be used again.
	e.pool.Exec(ctx, `UPDATE clearing_nonces SET until = now() - interval '1 second'`)
	if n, err := e.house.PruneNonces(ctx); err != nil || n != 2 {
		t.Fatalf("prune: got %d, %v; want 2", n, err)
	}
}

func TestRecordsExportAndVerify(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.call("a", "PUT", "/transactions", e.tx("1", "r1", true))
	e.call("a", "PUT", "/transactions", e.tx("2", "r2", true))
	var buf bytes.Buffer
	n, last, err := e.house.ExportRecords(context.Background(), &buf)
	if err != nil || n != 2 {
		t.Fatalf("export: got %d, %v; want 2", n, err)
	}
	recs, m, got, err := clearing.VerifyRecords(bytes.NewReader(buf.Bytes()))
	if err != nil || m != 2 || got != last {
		t.Fatalf("verify: got %d, %s, %v; want 2, %s", m, got, err, last)
	}
	if err := e.house.CompareRecords(context.Background(), recs); err != nil {
		t.Fatalf("compare: %v", err)
	}
	tampered := bytes.Replace(buf.Bytes(), []byte(`"quantity":"2.00"`), []byte(`"quantity":"0.02"`), 1)
	if _, _, _, err := clearing.VerifyRecords(bytes.NewReader(tampered)); err == nil || !strings.Contains(err.Error(), "altered") {
		t.Fatalf("tampered export: got %v, want an 'altered' error", err)
	}
	if _, err := e.pool.Exec(context.Background(), `DELETE FROM clearing_records`); err == nil {
		t.Fatal("delete from clearing_records: got no error, want the append-only trigger to refuse")
	}
}

// The payee accepted after the hold's first deadline (the clock jumps while
// the payee answers): the payee wrote it, so the hold is posted. (Before,
// the clearing house answered 5 and expired the hold while the payee kept
// the credit, issue 10 hole 2.)
func TestTryPostsAfterTheHoldsDeadline(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	e := newEnvConfig(t, app.Config{Now: clock, HoldTTL: time.Minute})
	ctx, house := context.Background(), e.house
	e.coms["b"].SetAnswer(func(r cxp.TransactionRequest) (int, any) {
		offset.Store(int64(10 * time.Minute))
		return 200, cxp.TransactionResponse{Status: cxp.StatusOK("ok"), TempID: r.TempID}
	})
	status, out := e.call("a", "PUT", "/transactions", e.tx("1", "late", true))
	if status != 200 || code(out) != "0" {
		t.Fatalf("got %d %v, want 200 code 0", status, out)
	}
	if n, err := house.Recover(ctx); err != nil || n != 0 {
		t.Fatalf("recover: got %d, %v; want nothing to do", n, err)
	}
	e.wantBalances(map[string]int64{"a": -100, "b": 100})
	list, _ := house.Intertrades(ctx, "", 0, 10)
	if len(list) != 1 || list[0].Status != "posted" || list[0].ResultCode != 0 {
		t.Fatalf("intertrades: got %+v, want one posted", list)
	}
}

// Issue 10, hole 1: a payee's server that answers a written relay with a
// 5xx page (a gateway's, or a crash after its commit) may have written it:
// the payer is told it is pending (27), the hold stays, and recovery asks
// the payee again with the same temp_id and posts on its answer.
func TestRelayGatewayErrorStaysPending(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.coms["b"].SetAnswer(func(cxp.TransactionRequest) (int, any) { return 502, "<html>502 Bad Gateway</html>" })
	status, out := e.call("a", "PUT", "/transactions", e.tx("1", "gw", true))
	if status != 500 || code(out) != "27" {
		t.Fatalf("got %d %v, want 500 code 27 (pending)", status, out)
	}
	if b, held, _ := e.balance("a"); b != 0 || held != 100 {
		t.Fatalf("a: got balance %d held %d, want 0 held 100", b, held)
	}
	// The payer repeats the try: still pending, nothing relayed again.
	if _, out := e.call("a", "PUT", "/transactions", e.tx("1", "gw", true)); code(out) != "27" {
		t.Fatalf("repeat: got %v, want code 27", out)
	}
	if n := len(e.coms["b"].Relays()); n != 1 {
		t.Fatalf("relays: got %d, want 1", n)
	}
	e.coms["b"].SetAnswer(nil)
	if _, err := e.pool.Exec(ctx, `UPDATE clearing_intertrades SET ask_after = now() - interval '1 second' WHERE temp_id = 'gw'`); err != nil {
		t.Fatal(err)
	}
	if n, err := e.house.Recover(ctx); err != nil || n != 1 {
		t.Fatalf("recover: got %d, %v; want 1 settled", n, err)
	}
	got := e.coms["b"].Relays()
	if len(got) != 2 || got[1].TempID != "gw" || got[1].Quantity != "1.00" || !got[1].Really || got[1].PayeeTicks != "2" || got[1] != got[0] {
		t.Fatalf("relays: got %+v, want the same relay again", got)
	}
	e.wantBalances(map[string]int64{"a": -100, "b": 100})
	if status, out := e.call("a", "PUT", "/transactions", e.tx("1", "gw", true)); status != 200 || code(out) != "0" || str(out, "id") == "" {
		t.Fatalf("repeat after recovery: got %d %v, want the written answer", status, out)
	}
}

// Answers from the payee that leave open whether it wrote the relay keep
// the intertrade pending (27 to the payer, the amount held): a 5xx page,
// its own 5 or 27, and 8 on temp_id (it holds the temp_id with other
// content).
func TestRelayOutcomeUnknownStaysPending(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		answer func(cxp.TransactionRequest) (int, any)
	}{
		{"a 503 page", func(cxp.TransactionRequest) (int, any) { return 503, "unavailable" }},
		{"its own 5", refuse(cxp.CodeSaving, map[string]string{"message": "could not record"})},
		{"its own 27", refuse(cxp.CodeOther, map[string]string{"message": "still recording"})},
		{"8 on temp_id", refuse(cxp.CodeInvalidField, map[string]string{"field": "temp_id", "value": "r"})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.coms["b"].SetAnswer(tt.answer)
			status, out := e.call("a", "PUT", "/transactions", e.tx("1", "r", true))
			if status != 500 || code(out) != "27" {
				t.Fatalf("got %d %v, want 500 code 27 (pending)", status, out)
			}
			if b, held, _ := e.balance("a"); b != 0 || held != 100 {
				t.Fatalf("a: got balance %d held %d, want 0 held 100", b, held)
			}
			var pending int
			e.pool.QueryRow(context.Background(), `SELECT count(*) FROM clearing_intertrades WHERE status = 'pending' AND asks = 1 AND last_error <> ''`).Scan(&pending)
			if pending != 1 {
				t.Fatalf("pending intertrades asked once: got %d, want 1", pending)
			}
		})
	}
}

// Recovery asks the payee again; a repeat refused for its signature says
// nothing about the first relay (still pending), the payee's own refusal of
// the payment (25) settles it (voided, nothing moved).
func TestRecoverSettlesOnlyOnThePayeesRefusal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.coms["b"].SetAnswer(func(cxp.TransactionRequest) (int, any) { return 504, "gateway timeout" })
	if _, out := e.call("a", "PUT", "/transactions", e.tx("1", "rec", true)); code(out) != "27" {
		t.Fatalf("first try: got %v, want 27", out)
	}
	askNow := func() {
		t.Helper()
		if _, err := e.pool.Exec(ctx, `UPDATE clearing_intertrades SET ask_after = now() - interval '1 second' WHERE temp_id = 'rec'`); err != nil {
			t.Fatal(err)
		}
	}
	status := func() (string, int) {
		t.Helper()
		var s string
		var asks int
		if err := e.pool.QueryRow(ctx, `SELECT status, asks FROM clearing_intertrades WHERE temp_id = 'rec'`).Scan(&s, &asks); err != nil {
			t.Fatal(err)
		}
		return s, asks
	}
	e.coms["b"].SetAnswer(refuse(cxp.CodeAuthData, nil))
	askNow()
	if n, err := e.house.Recover(ctx); err != nil || n != 0 {
		t.Fatalf("recover, signature refused: got %d, %v; want 0 settled", n, err)
	}
	if s, asks := status(); s != "pending" || asks != 2 {
		t.Fatalf("after a refused signature: got %s asked %d times, want pending asked twice", s, asks)
	}
	e.coms["b"].SetAnswer(refuse(cxp.CodeRemoteValidation, map[string]string{"message": "no member bob"}))
	askNow()
	if n, err := e.house.Recover(ctx); err != nil || n != 1 {
		t.Fatalf("recover, payee refuses: got %d, %v; want 1 settled", n, err)
	}
	if s, _ := status(); s != "voided" {
		t.Fatalf("after the payee's refusal: got %s, want voided", s)
	}
	e.wantBalances(map[string]int64{"a": 0, "b": 0})
	if n := len(e.coms["b"].Relays()); n != 3 {
		t.Fatalf("relays: got %d, want 3", n)
	}
}
