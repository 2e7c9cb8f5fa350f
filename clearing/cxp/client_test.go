package cxp

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
)

// testCircle is a minimal clearing house: it verifies every request with a httpsig.Verifier and
// answers from the request, so the tests see what crossed the wire.
func testCircle(t *testing.T, keys ...[]byte) *httptest.Server {
	t.Helper()
	v := httpsig.Verifier{Keys: httpsig.StaticKeys{"community-a": keys}, Nonces: &httpsig.MemoryNonces{}}
	mux := http.NewServeMux()
	verified := func(h func(w http.ResponseWriter, r *http.Request, body []byte, who httpsig.Verified)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, rerr := ReadBody(r, 1<<16)
			if rerr != nil {
				WriteError(w, rerr)
				return
			}
			who, err := v.Verify(r.Context(), r, body)
			if err != nil {
				e, ok := SignatureError(err)
				if !ok {
					e = Errorf(CodeOther, "%v", err)
				}
				WriteError(w, e)
				return
			}
			h(w, r, body, who)
		}
	}
	mux.HandleFunc("POST /server", verified(func(w http.ResponseWriter, r *http.Request, body []byte, who httpsig.Verified) {
		var req HandshakeRequest
		if err := Decode(body, &req); err != nil {
			WriteError(w, err)
			return
		}
		if err := req.Validate(); err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, HandshakeResponse{Status: StatusOK("welcome " + req.Mail), AccountStatus: AccountTrading,
			Balance: "-1.50", Min: "-100.00", Max: "100.00", Count: 7, Keymatch: who.KeyIndex == 0, Ticks: req.Ticks})
	}))
	mux.HandleFunc("GET /server/clients", verified(func(w http.ResponseWriter, r *http.Request, body []byte, who httpsig.Verified) {
		WriteJSON(w, http.StatusOK, ClientsResponse{Status: StatusOK(""), Clients: map[string]string{"b.example": "B"},
			Exchanges: []Exchange{{ID: "b", Name: "B", URI: "b.example", Ticks: "2", Status: AccountTrading}}})
	}))
	mux.HandleFunc("GET /transactions", verified(func(w http.ResponseWriter, r *http.Request, body []byte, who httpsig.Verified) {
		req, err := PrepareRequestFromQuery(r.URL.Query())
		if err != nil {
			WriteError(w, err)
			return
		}
		vol, _, err := req.Validate(2)
		if err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, PrepareResponse{Status: StatusOK(""), SpendLimit: FromMinor(vol/10, 2), EarnLimit: FromMinor(vol/5, 2)})
	}))
	mux.HandleFunc("PUT /transactions", verified(func(w http.ResponseWriter, r *http.Request, body []byte, who httpsig.Verified) {
		var req TransactionRequest
		if err := Decode(body, &req); err != nil {
			WriteError(w, err)
			return
		}
		q, err := req.Validate(2)
		if err != nil {
			WriteError(w, err)
			return
		}
		if q > 10000 {
			WriteError(w, NewError(CodeLimits, nil))
			return
		}
		WriteJSON(w, http.StatusOK, TransactionResponse{Status: StatusOK("written"), ID: "tx-1", TempID: req.TempID,
			Quantity: FromMinor(q, 2), PayerTicks: "1", PayeeTicks: "2"})
	}))
	mux.HandleFunc("GET /broken", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "proxy error", http.StatusBadGateway)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func testClient(url string, key []byte) *Client {
	return &Client{BaseURL: url + "/", Signer: httpsig.Signer{KeyID: "community-a", Key: key}}
}

func TestClientAgainstVerifyingServer(t *testing.T) {
	ctx := context.Background()
	srv := testCircle(t, currentKey, oldKey)
	c := testClient(srv.URL, currentKey)

	hs, err := c.Handshake(ctx, validHandshake())
	if err != nil {
		t.Fatalf("Handshake: %v", err)
	}
	want := HandshakeResponse{Status: Status{Code: OK, Args: map[string]string{}, Message: "welcome admin@a.example"},
		AccountStatus: AccountTrading, Balance: "-1.50", Min: "-100.00", Max: "100.00", Count: 7, Keymatch: true, Ticks: "1.5"}
	if !reflect.DeepEqual(hs, want) {
		t.Errorf("Handshake:\ngot  %+v\nwant %+v", hs, want)
	}

	old := testClient(srv.URL, oldKey)
	hs, err = old.Handshake(ctx, validHandshake())
	if err != nil || hs.Keymatch {
		t.Errorf("Handshake with the old key: got keymatch %v, %v; want false, nil", hs.Keymatch, err)
	}

	cl, err := c.Clients(ctx)
	if err != nil {
		t.Fatalf("Clients: %v", err)
	}
	if cl.Clients["b.example"] != "B" || len(cl.Exchanges) != 1 || cl.Exchanges[0].Ticks != "2" {
		t.Errorf("Clients: got %+v", cl)
	}

	yes := true
	pr, err := c.Prepare(ctx, PrepareRequest{Volume: "1000.00", Integrity: &yes, Balance: "-1.50"})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if pr.SpendLimit != "100.00" || pr.EarnLimit != "200.00" {
		t.Errorf("Prepare: got spend %s earn %s, want 100.00 200.00", pr.SpendLimit, pr.EarnLimit)
	}

	tr, err := c.Try(ctx, validTry())
	if err != nil {
		t.Fatalf("Try: %v", err)
	}
	if tr.ID != "tx-1" || tr.Quantity != "12.50" || tr.TempID != "a-1" || tr.PayeeTicks != "2" {
		t.Errorf("Try: got %+v", tr)
	}

	// Relay: PUT {payee uri}/transactions, whatever the uri's trailing slash.
	tr, err = c.Relay(ctx, srv.URL+"/", validTry())
	if err != nil || tr.ID != "tx-1" {
		t.Errorf("Relay: got %+v, %v", tr, err)
	}
}

func TestClientRefusals(t *testing.T) {
	ctx := context.Background()
	srv := testCircle(t, currentKey)

	big := validTry()
	big.Quantity = "100.01"
	tr, err := testClient(srv.URL, currentKey).Try(ctx, big)
	e, ok := AsError(err)
	if !ok || e.Code != CodeLimits || e.Message != "Transaction would exceed limits on server." {
		t.Fatalf("over the limit: got %v, want *Error code 4", err)
	}
	if tr.Code != CodeLimits {
		t.Errorf("the answer comes back too: got code %d, want 4", tr.Code)
	}
	if IsUnreachable(err) {
		t.Errorf("a refusal is not unreachable")
	}

	bad := validTry()
	bad.Quantity = "0.001"
	_, err = testClient(srv.URL, currentKey).Try(ctx, bad)
	if e, ok := AsError(err); !ok || !reflect.DeepEqual(e, TypeError("quantity", "number with at most 2 decimal places")) {
		t.Errorf("over-precise: got %#v", err)
	}

	_, err = testClient(srv.URL, []byte("wrong")).Try(ctx, validTry())
	if CodeOf(err) != CodeWrongKey {
		t.Errorf("wrong key: got %v, want code 17", err)
	}

	other := testClient(srv.URL, currentKey)
	other.Signer.KeyID = "community-z"
	_, err = other.Clients(ctx)
	if CodeOf(err) != CodeNotPermitted {
		t.Errorf("unknown community: got %v, want code 16", err)
	}

	// Not a CXP answer: code 7 with the HTTP status.
	_, err = (&Client{BaseURL: srv.URL + "/broken#", Signer: testClient("", currentKey).Signer}).Clients(ctx)
	if e, ok := AsError(err); !ok || e.Code != CodeDiagnostics || e.Args["message"] != "HTTP 502: not a CXP answer: proxy error\n" {
		t.Errorf("non-JSON answer: got %#v", err)
	}
}

func TestClientUnreachable(t *testing.T) {
	ctx := context.Background()
	// A port nothing listens on: listen, note the address, close.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = testClient("http://"+addr, currentKey).Relay(ctx, "http://"+addr, validTry())
	if !IsUnreachable(err) {
		t.Errorf("connection refused: got %v, want unreachable", err)
	}
	if _, ok := AsError(err); ok {
		t.Errorf("connection refused is not a CXP answer: got %v", err)
	}

	// A server that never answers, against a client with a short timeout.
	stop := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer hang.Close()
	defer close(stop)
	c := testClient(hang.URL, currentKey)
	c.HTTP = &http.Client{Timeout: 50 * time.Millisecond}
	if _, err := c.Try(ctx, validTry()); !IsUnreachable(err) {
		t.Errorf("timeout: got %v, want unreachable", err)
	}

	// The caller's own cancellation is not the server's fault.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = testClient(hang.URL, currentKey).Try(cctx, validTry())
	if IsUnreachable(err) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v, want context.Canceled and not unreachable", err)
	}
}
