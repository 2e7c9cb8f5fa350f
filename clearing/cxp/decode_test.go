package cxp

import (
	"reflect"
	"strings"
	"testing"
)

func TestDecodeTransactionRequest(t *testing.T) {
	body := `{"payer":"alice","payer_url":"https://a.example/u/alice","payee":"bob","payee_url":"","dest_url":"https://b.example","src_url":"https://a.example","quantity":12.50,"description":"apples\nand pears","really":1,"temp_id":"a-1"}`
	var got TransactionRequest
	if err := Decode([]byte(body), &got); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	want := TransactionRequest{Payer: "alice", PayerURL: "https://a.example/u/alice", Payee: "bob",
		DestURL: "https://b.example", SrcURL: "https://a.example", Quantity: "12.50",
		Description: "apples\nand pears", Really: true, TempID: "a-1"}
	if got != want {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestDecodeBooleans(t *testing.T) {
	for _, tt := range []struct {
		raw  string
		want bool
	}{{"true", true}, {"1", true}, {"false", false}, {"0", false}} {
		var r TransactionRequest
		if err := Decode([]byte(`{"really":`+tt.raw+`}`), &r); err != nil || r.Really != tt.want {
			t.Errorf("really %s: got %v %v, want %v", tt.raw, r.Really, err, tt.want)
		}
		var p PrepareRequest
		if err := Decode([]byte(`{"integrity":`+tt.raw+`}`), &p); err != nil || p.Integrity == nil || *p.Integrity != tt.want {
			t.Errorf("integrity %s: got %v %v, want %v", tt.raw, p.Integrity, err, tt.want)
		}
	}
}

func TestDecodeRefusals(t *testing.T) {
	body := func(code Code, args map[string]string) *Error { return NewError(code, args) }
	notObject := body(CodeType, map[string]string{"fieldname": "body", "type": "JSON object"})
	tests := []struct {
		name string
		body string
		v    any
		want *Error
	}{
		{"empty body", ``, &TransactionRequest{}, notObject},
		{"not JSON", `payer=alice`, &TransactionRequest{}, notObject},
		{"array", `[{"payer":"alice"}]`, &TransactionRequest{}, notObject},
		{"number", `12`, &TransactionRequest{}, notObject},
		{"string", `"x"`, &TransactionRequest{}, notObject},
		{"null", `null`, &TransactionRequest{}, notObject},
		{"truncated", `{"payer":"alice"`, &TransactionRequest{}, notObject},
		{"trailing data", `{"payer":"alice"} {}`, &TransactionRequest{}, notObject},
		{"trailing garbage", `{"payer":"alice"}x`, &TransactionRequest{}, notObject},
		{"unknown field", `{"payer":"alice","amount":5}`, &TransactionRequest{},
			body(CodeInvalidField, map[string]string{"field": "amount", "value": "5"})},
		{"unknown field with an object value", `{"extra":{"a":1}}`, &HandshakeRequest{},
			body(CodeInvalidField, map[string]string{"field": "extra", "value": `{"a":1}`})},
		{"field names are case sensitive", `{"Payer":"alice"}`, &TransactionRequest{},
			body(CodeInvalidField, map[string]string{"field": "Payer", "value": `"alice"`})},
		{"repeated field", `{"quantity":1,"quantity":1000}`, &TransactionRequest{},
			body(CodeInvalidField, map[string]string{"field": "quantity", "value": "1000"})},
		{"quantity as a string", `{"quantity":"12.50"}`, &TransactionRequest{},
			body(CodeType, map[string]string{"fieldname": "quantity", "type": "number"})},
		{"quantity as a boolean", `{"quantity":true}`, &TransactionRequest{},
			body(CodeType, map[string]string{"fieldname": "quantity", "type": "number"})},
		{"payer as a number", `{"payer":5}`, &TransactionRequest{},
			body(CodeType, map[string]string{"fieldname": "payer", "type": "string"})},
		{"payer as an object", `{"payer":{"name":"alice"}}`, &TransactionRequest{},
			body(CodeType, map[string]string{"fieldname": "payer", "type": "string"})},
		{"really as a string", `{"really":"yes"}`, &TransactionRequest{},
			body(CodeType, map[string]string{"fieldname": "really", "type": "boolean"})},
		{"really as 2", `{"really":2}`, &TransactionRequest{},
			body(CodeType, map[string]string{"fieldname": "really", "type": "boolean"})},
		{"integrity as a string", `{"integrity":"1"}`, &PrepareRequest{},
			body(CodeType, map[string]string{"fieldname": "integrity", "type": "boolean"})},
		{"traders as a fraction", `{"traders":1.5}`, &HandshakeRequest{},
			body(CodeType, map[string]string{"fieldname": "traders", "type": "integer"})},
		{"traders as a string", `{"traders":"3"}`, &HandshakeRequest{},
			body(CodeType, map[string]string{"fieldname": "traders", "type": "integer"})},
		{"first_trade beyond int64", `{"first_trade":99999999999999999999}`, &HandshakeRequest{},
			body(CodeType, map[string]string{"fieldname": "first_trade", "type": "integer"})},
		{"lat as a string", `{"lat":"51.5"}`, &HandshakeRequest{},
			body(CodeType, map[string]string{"fieldname": "lat", "type": "number"})},
		{"visibility as a string", `{"visibility":"on"}`, &HandshakeRequest{},
			body(CodeType, map[string]string{"fieldname": "visibility", "type": "boolean"})},
		{"ticks with leading zeros", `{"ticks":01}`, &HandshakeRequest{}, notObject},
		{"invalid UTF-8 in a string", "{\"description\":\"caf\xe9\"}", &TransactionRequest{},
			body(CodeInvalidChars, map[string]string{"fieldname": "description"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Decode([]byte(tt.body), tt.v)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestDecodeNullIsAbsent(t *testing.T) {
	r := TransactionRequest{Payer: "x"}
	if err := Decode([]byte(`{"payer":null,"quantity":null}`), &r); err != nil {
		t.Fatal(err)
	}
	if r.Payer != "" || r.Quantity != "" {
		t.Errorf("got %+v, want payer and quantity absent", r)
	}
	var h HandshakeRequest
	if err := Decode([]byte(`{"lat":51.5,"lon":null,"visibility":false}`), &h); err != nil {
		t.Fatal(err)
	}
	if h.Lat == nil || *h.Lat != "51.5" || h.Lon != nil || h.Visibility == nil || *h.Visibility {
		t.Errorf("got lat %v lon %v visibility %v", h.Lat, h.Lon, h.Visibility)
	}
}

func TestDecodeResponseWithEmbeddedStatus(t *testing.T) {
	body := `{"code":0,"args":{},"message":"OK","status":1,"balance":-12.50,"min":-100.00,"max":100.00,"count":3,"keymatch":true,"ticks":1.5,"added_later":"x"}`
	var r HandshakeResponse
	if err := Decode([]byte(body), &r); err == nil || err.Code != CodeInvalidField {
		t.Errorf("strict Decode: got %v, want code 8 for added_later", err)
	}
	r = HandshakeResponse{}
	if err := decodeLenient([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	want := HandshakeResponse{Status: Status{Code: OK, Args: map[string]string{}, Message: "OK"},
		AccountStatus: AccountTrading, Balance: "-12.50", Min: "-100.00", Max: "100.00", Count: 3, Keymatch: true, Ticks: "1.5"}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("got %+v\nwant %+v", r, want)
	}
	var c ClientsResponse
	cb := `{"code":0,"args":{},"message":"OK","clients":{"a.example":"A"},"exchanges":[{"id":"a","name":"A","uri":"a.example","ticks":1,"status":1}]}`
	if err := Decode([]byte(cb), &c); err != nil {
		t.Fatal(err)
	}
	if c.Clients["a.example"] != "A" || len(c.Exchanges) != 1 || c.Exchanges[0] != (Exchange{ID: "a", Name: "A", URI: "a.example", Ticks: "1", Status: 1}) {
		t.Errorf("got %+v", c)
	}
	if err := Decode([]byte(`{"exchanges":[{"ticks":"1"}]}`), &c); err == nil || err.Code != CodeType || err.Args["fieldname"] != "exchanges" || err.Args["type"] != "array" {
		t.Errorf("exchanges with a string rate: got %v, want 15 on exchanges (array)", err)
	}
}

// Property-style: no body makes Decode panic, and every refusal carries a known code
// and the args its template needs.
func TestDecodeNeverPanics(t *testing.T) {
	pieces := []string{`{`, `}`, `[`, `]`, `"payer"`, `:`, `,`, `1`, `-0`, `1e400`, `"x"`, `null`, `true`, `"\u0000"`, `"temp_id"`, `"quantity"`, "\xff", ` `}
	seed := uint32(1)
	next := func() int { seed = seed*1664525 + 1013904223; return int(seed >> 16) }
	for i := 0; i < 5000; i++ {
		var b strings.Builder
		for n := next() % 12; n >= 0; n-- {
			b.WriteString(pieces[next()%len(pieces)])
		}
		var r TransactionRequest
		err := Decode([]byte(b.String()), &r)
		if err == nil {
			continue
		}
		if _, ok := templates[err.Code]; !ok || strings.Contains(err.Message, "@") && err.Code != CodeInvalidField {
			t.Fatalf("body %q: got %v", b.String(), err)
		}
	}
}

func TestDuplicateKey(t *testing.T) {
	for _, tt := range []struct {
		body, path string
		found      bool
	}{
		{`{"a":1,"b":2}`, "", false},
		{`{"a":1,"a":2}`, "a", true},
		{`{"a":{"b":1,"c":{"d":1,"d":2}}}`, "a.c.d", true},
		{`{"a":[{"x":1},{"x":1,"y":2,"x":3}]}`, "a.1.x", true},
		{`{"a":[1,2,{"k":[],"k":{}}]}`, "a.2.k", true},
		{`{"a":{"b":1},"b":{"a":1}}`, "", false},
		{`[{"a":1},{"a":1}]`, "", false},
		{`{"a":1,"a"`, "a", true},
		{`{"a":`, "", false},
		{`nonsense`, "", false},
		{``, "", false},
	} {
		path, found := DuplicateKey([]byte(tt.body))
		if path != tt.path || found != tt.found {
			t.Errorf("%s: got %q %v, want %q %v", tt.body, path, found, tt.path, tt.found)
		}
	}
}
