package cxp

import (
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func validTry() TransactionRequest {
	return TransactionRequest{Payer: "alice", Payee: "bob", DestURL: "https://b.example", SrcURL: "https://a.example",
		Quantity: "12.50", Description: "apples", Really: true, TempID: "a-1"}
}

func TestTransactionRequestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(r *TransactionRequest)
		want   int64
		err    *Error
	}{
		{"valid", func(r *TransactionRequest) {}, 1250, nil},
		{"integer quantity", func(r *TransactionRequest) { r.Quantity = "3" }, 300, nil},
		{"exponent quantity", func(r *TransactionRequest) { r.Quantity = "1.5e1" }, 1500, nil},
		{"missing payer", func(r *TransactionRequest) { r.Payer = "" }, 0, MissingField("payer")},
		{"blank payee", func(r *TransactionRequest) { r.Payee = "  " }, 0, MissingField("payee")},
		{"missing dest_url", func(r *TransactionRequest) { r.DestURL = "" }, 0, MissingField("dest_url")},
		{"missing src_url", func(r *TransactionRequest) { r.SrcURL = "" }, 0, MissingField("src_url")},
		{"missing quantity", func(r *TransactionRequest) { r.Quantity = "" }, 0, MissingField("quantity")},
		{"missing temp_id", func(r *TransactionRequest) { r.TempID = "" }, 0, MissingField("temp_id")},
		{"zero quantity", func(r *TransactionRequest) { r.Quantity = "0" }, 0, SignError("quantity", ">", "0")},
		{"minus zero", func(r *TransactionRequest) { r.Quantity = "-0" }, 0, SignError("quantity", ">", "-0")},
		{"negative quantity", func(r *TransactionRequest) { r.Quantity = "-5" }, 0, SignError("quantity", ">", "-5")},
		{"over-precise quantity", func(r *TransactionRequest) { r.Quantity = "0.001" }, 0,
			TypeError("quantity", "number with at most 2 decimal places")},
		{"huge quantity", func(r *TransactionRequest) { r.Quantity = "1e30" }, 0,
			TypeError("quantity", "number between -92233720368547758.07 and 92233720368547758.07")},
		{"description of 255 characters", func(r *TransactionRequest) { r.Description = strings.Repeat("é", 255) }, 1250, nil},
		{"description of 256 characters", func(r *TransactionRequest) { r.Description = strings.Repeat("é", 256) }, 0, InvalidChars("description")},
		{"description with a newline and a tab", func(r *TransactionRequest) { r.Description = "a\n\tb" }, 1250, nil},
		{"description with NUL", func(r *TransactionRequest) { r.Description = "a\x00b" }, 0, InvalidChars("description")},
		{"description with ESC", func(r *TransactionRequest) { r.Description = "a\x1b[31mb" }, 0, InvalidChars("description")},
		{"payer with a newline", func(r *TransactionRequest) { r.Payer = "al\nice" }, 0, InvalidChars("payer")},
		{"payee with C1 control", func(r *TransactionRequest) { r.Payee = "b\u0085ob" }, 0, InvalidChars("payee")},
		{"payee_url with invalid UTF-8", func(r *TransactionRequest) { r.PayeeURL = "https://b.example/\xff" }, 0, InvalidChars("payee_url")},
		{"payer too long", func(r *TransactionRequest) { r.Payer = strings.Repeat("a", 256) }, 0,
			InvalidField("payer", strings.Repeat("a", 64)+"…")},
		{"temp_id with a space", func(r *TransactionRequest) { r.TempID = "a 1" }, 0, InvalidChars("temp_id")},
		{"temp_id with a slash", func(r *TransactionRequest) { r.TempID = "a/1" }, 0, InvalidChars("temp_id")},
		{"temp_id of 64", func(r *TransactionRequest) { r.TempID = strings.Repeat("x", 64) }, 1250, nil},
		{"temp_id of 65", func(r *TransactionRequest) { r.TempID = strings.Repeat("x", 65) }, 0, InvalidChars("temp_id")},
		{"temp_id with every allowed kind", func(r *TransactionRequest) { r.TempID = "Az09._:-" }, 1250, nil},
		{"paying oneself", func(r *TransactionRequest) { r.DestURL = r.SrcURL }, 0, InvalidField("dest_url", "https://a.example")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validTry()
			tt.change(&r)
			got, err := r.Validate(2)
			if !reflect.DeepEqual(err, tt.err) {
				t.Fatalf("error: got %v, want %v", err, tt.err)
			}
			if got != tt.want {
				t.Errorf("quantity: got %d, want %d", got, tt.want)
			}
		})
	}
}

func validHandshake() HandshakeRequest {
	return HandshakeRequest{API: "1.0", Mail: "admin@a.example", Ticks: "1.5", FirstTrade: 1700000000,
		Traders: 40, Transactions: 300, URI: "https://a.example"}
}

func TestHandshakeRequestValidate(t *testing.T) {
	lat := func(s string) *Decimal { d := Decimal(s); return &d }
	tests := []struct {
		name   string
		change func(r *HandshakeRequest)
		err    *Error
	}{
		{"valid", func(r *HandshakeRequest) {}, nil},
		{"api 1", func(r *HandshakeRequest) { r.API = "1" }, nil},
		{"api 1.00", func(r *HandshakeRequest) { r.API = "1.00" }, nil},
		{"api 2", func(r *HandshakeRequest) { r.API = "2" }, InvalidField("api", "2")},
		{"api 1.1", func(r *HandshakeRequest) { r.API = "1.1" }, InvalidField("api", "1.1")},
		{"missing api", func(r *HandshakeRequest) { r.API = "" }, MissingField("api")},
		{"missing mail", func(r *HandshakeRequest) { r.Mail = "" }, MissingField("mail")},
		{"missing ticks", func(r *HandshakeRequest) { r.Ticks = "" }, MissingField("ticks")},
		{"missing uri", func(r *HandshakeRequest) { r.URI = "" }, MissingField("uri")},
		{"mail without @", func(r *HandshakeRequest) { r.Mail = "admin" }, InvalidField("mail", "admin")},
		{"mail of 64", func(r *HandshakeRequest) { r.Mail = strings.Repeat("a", 54) + "@a.example" }, InvalidField("mail", strings.Repeat("a", 54)+"@a.example")},
		{"mail with control", func(r *HandshakeRequest) { r.Mail = "a\r\n@b" }, InvalidChars("mail")},
		{"zero ticks", func(r *HandshakeRequest) { r.Ticks = "0" }, SignError("ticks", ">", "0")},
		{"negative ticks", func(r *HandshakeRequest) { r.Ticks = "-1" }, SignError("ticks", ">", "-1")},
		{"over-precise ticks", func(r *HandshakeRequest) { r.Ticks = "0.1234567890123" }, TypeError("ticks", "number with at most 12 decimal places")},
		{"negative traders", func(r *HandshakeRequest) { r.Traders = -1 }, SignError("traders", ">=", "-1")},
		{"negative transactions", func(r *HandshakeRequest) { r.Transactions = -2 }, SignError("transactions", ">=", "-2")},
		{"negative first_trade", func(r *HandshakeRequest) { r.FirstTrade = -3 }, SignError("first_trade", ">=", "-3")},
		{"lat in range", func(r *HandshakeRequest) { r.Lat, r.Lon = lat("-90"), lat("180") }, nil},
		{"lat out of range", func(r *HandshakeRequest) { r.Lat = lat("90.1") }, InvalidField("lat", "90.1")},
		{"lon out of range", func(r *HandshakeRequest) { r.Lon = lat("-181") }, InvalidField("lon", "-181")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validHandshake()
			tt.change(&r)
			if err := r.Validate(); !reflect.DeepEqual(err, tt.err) {
				t.Errorf("got %v, want %v", err, tt.err)
			}
		})
	}
}

func TestPrepareRequestValidate(t *testing.T) {
	tests := []struct {
		r       PrepareRequest
		volume  int64
		balance int64
		err     *Error
	}{
		{PrepareRequest{}, 0, 0, nil},
		{PrepareRequest{Volume: "1000.5", Balance: "-20.25"}, 100050, -2025, nil},
		{PrepareRequest{Volume: "-1"}, 0, 0, SignError("volume", ">=", "-1")},
		{PrepareRequest{Volume: "0.001"}, 0, 0, TypeError("volume", "number with at most 2 decimal places")},
		{PrepareRequest{Balance: "0.001"}, 0, 0, TypeError("balance", "number with at most 2 decimal places")},
	}
	for _, tt := range tests {
		v, b, err := tt.r.Validate(2)
		if !reflect.DeepEqual(err, tt.err) || v != tt.volume || b != tt.balance {
			t.Errorf("%+v: got %d %d %v, want %d %d %v", tt.r, v, b, err, tt.volume, tt.balance, tt.err)
		}
	}
}

func TestPrepareRequestFromQuery(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		query string
		want  PrepareRequest
		err   *Error
	}{
		{"", PrepareRequest{}, nil},
		{"volume=100.50&integrity=1&balance=-3", PrepareRequest{Volume: "100.50", Integrity: &yes, Balance: "-3"}, nil},
		{"integrity=true", PrepareRequest{Integrity: &yes}, nil},
		{"integrity=0", PrepareRequest{Integrity: &no}, nil},
		{"integrity=false", PrepareRequest{Integrity: &no}, nil},
		{"integrity=yes", PrepareRequest{}, TypeError("integrity", "boolean")},
		{"volume=ten", PrepareRequest{}, TypeError("volume", "number")},
		{"balance=1%2C5", PrepareRequest{}, TypeError("balance", "number")},
		{"volume=1&volume=2", PrepareRequest{}, InvalidField("volume", "1,2")},
		{"foo=bar", PrepareRequest{}, InvalidField("foo", "bar")},
	}
	for _, tt := range tests {
		q, err := url.ParseQuery(tt.query)
		if err != nil {
			t.Fatal(err)
		}
		got, gotErr := PrepareRequestFromQuery(q)
		if !reflect.DeepEqual(gotErr, tt.err) || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: got %+v %v, want %+v %v", tt.query, got, gotErr, tt.want, tt.err)
		}
	}
	// Query and PrepareRequestFromQuery are inverses.
	r := PrepareRequest{Volume: "5.25", Integrity: &yes, Balance: "-1"}
	back, err := PrepareRequestFromQuery(r.Query())
	if err != nil || !reflect.DeepEqual(back, r) {
		t.Errorf("round trip: got %+v %v, want %+v", back, err, r)
	}
}

func TestResponsesMarshalFlat(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{HandshakeResponse{Status: StatusOK(""), AccountStatus: AccountBlocked, Balance: "0.00", Min: "-100.00", Max: "100.00", Count: 2, Ticks: "1"},
			`{"code":0,"args":{},"message":"OK","status":0,"balance":0.00,"min":-100.00,"max":100.00,"count":2,"keymatch":false,"ticks":1}`},
		{HandshakeResponse{Status: NewError(CodeNotPermitted, nil).Status(), AccountStatus: AccountNone},
			`{"code":16,"args":{},"message":"Your exchange is not permitted on this network.","status":-1,"count":0,"keymatch":false}`},
		{PrepareResponse{Status: StatusOK("ready"), SpendLimit: "50.00", EarnLimit: "150.00"},
			`{"code":0,"args":{},"message":"ready","spend_limit":50.00,"earn_limit":150.00}`},
		{TransactionResponse{Status: StatusOK(""), ID: "42", Quantity: "12.50", PayerTicks: "1", PayeeTicks: "2"},
			`{"code":0,"args":{},"message":"OK","id":"42","quantity":12.50,"payer_ticks":1,"payee_ticks":2}`},
		{TransactionResponse{Status: SignError("quantity", ">", "0").Status()},
			`{"code":12,"args":{"fieldname":"quantity","rel":"\u003e","val":"0"},"message":"Field quantity should be \u003e 0: 0"}`},
		{ClientsResponse{Status: StatusOK(""), Clients: map[string]string{"a.example": "A"}, Exchanges: []Exchange{{ID: "a", Name: "A", URI: "a.example", Ticks: "1.5", Status: 1}}},
			`{"code":0,"args":{},"message":"OK","clients":{"a.example":"A"},"exchanges":[{"id":"a","name":"A","uri":"a.example","ticks":1.5,"status":1}]}`},
		{validTry(),
			`{"payer":"alice","payer_url":"","payee":"bob","payee_url":"","dest_url":"https://b.example","src_url":"https://a.example","quantity":12.50,"description":"apples","really":true,"temp_id":"a-1"}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.v)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tt.want {
			t.Errorf("got  %s\nwant %s", b, tt.want)
		}
	}
}

// What a client sends, Decode reads back the same.
func TestRequestsRoundTrip(t *testing.T) {
	yes := true
	lat := Decimal("51.5")
	for _, v := range []any{validTry(), validHandshake(),
		HandshakeRequest{API: "1", Mail: "m@x", Ticks: "2", URI: "u", Divisions: "01", Visibility: &yes, Logo: "https://x/l.png", Lat: &lat},
		PrepareRequest{Volume: "1", Integrity: &yes, Balance: "-2.5"}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		p := reflect.New(reflect.TypeOf(v))
		if derr := Decode(b, p.Interface()); derr != nil {
			t.Fatalf("%s: %v", b, derr)
		}
		if !reflect.DeepEqual(p.Elem().Interface(), v) {
			t.Errorf("%s: got %+v, want %+v", b, p.Elem().Interface(), v)
		}
	}
}
