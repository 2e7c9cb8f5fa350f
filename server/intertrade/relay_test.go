package intertrade

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/sxp-network/sxp/clearing/cxp/cxptest"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
	"github.com/sxp-network/sxp/server/payments"
)

func goodRelay(tempID string) cxp.TransactionRequest {
	return cxp.TransactionRequest{
		Payer: "carol", PayerURL: testPeerURI, Payee: "bob", PayeeURL: testPublic,
		DestURL: testPublic, SrcURL: testPeerURI, Quantity: "25.00", Description: "pears",
		Really: true, TempID: tempID,
	}
}

func TestReceiveRelay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	circle := newFakeCircle(t)
	circle.Set(func(f *cxptest.Circle) { f.Ticks = "2.5" })
	e := newEnv(t, circle.URL, nil)

	// really=false validates and writes nothing.
	probe := goodRelay("t-1")
	probe.Really = false
	status, answer := e.receive(relayRequest(t, testKey, probe))
	if status != http.StatusOK || answer.Code != cxp.OK {
		t.Fatalf("really=false: got %d %+v, want 200 code 0", status, answer)
	}
	if got := e.account(t, e.bob.Account).Balance; got != 0 {
		t.Fatalf("bob after really=false: got %d, want 0", got)
	}

	// really=true credits bob 25.00 base / 2.5 = 10.00 LEAF from import/export.
	status, answer = e.receive(relayRequest(t, testKey, goodRelay("t-1")))
	if status != http.StatusOK || answer.Code != cxp.OK || answer.TempID != "t-1" || answer.Quantity != "25.00" || answer.PayeeTicks != "2.5" {
		t.Fatalf("relay: got %d %+v, want 200, code 0, 25.00 at 2.5", status, answer)
	}
	check := func(when string) {
		t.Helper()
		bob, ie := e.account(t, e.bob.Account), e.importExport(t)
		if bob.Balance != 1000 || ie.Balance != -1000 {
			t.Fatalf("%s: bob %d, import/export %d; want 1000, -1000", when, bob.Balance, ie.Balance)
		}
		if n := e.count(t, `direction = 'in' AND state = 'completed' AND amount = 1000 AND quantity = 25 AND temp_id = 't-1' AND remote_community = 'acorn'`); n != 1 {
			t.Fatalf("%s: completed rows: got %d, want 1", when, n)
		}
		if n := e.count(t, `true`); n != 1 {
			t.Fatalf("%s: rows: got %d, want 1", when, n)
		}
	}
	check("after relay")

	// The same temp_id and content (a new signature, a new nonce): the first answer, no second write.
	status2, again := e.receive(relayRequest(t, testKey, goodRelay("t-1")))
	if status2 != http.StatusOK || again.Code != cxp.OK || again.ID != answer.ID || again.Message != answer.Message {
		t.Fatalf("replayed temp_id: got %d %+v, want the first answer %+v", status2, again, answer)
	}
	check("after replay")

	// The same temp_id with other content: code 8 on temp_id.
	changed := goodRelay("t-1")
	changed.Quantity = "30.00"
	status, answer = e.receive(relayRequest(t, testKey, changed))
	if status != http.StatusBadRequest || answer.Code != cxp.CodeInvalidField || answer.Args["field"] != "temp_id" {
		t.Fatalf("changed content: got %d %+v, want 400 code 8 on temp_id", status, answer)
	}
	check("after changed content")

	// Integrity: import/export -10.00 LEAF is -25.00 base; the circle's virtual customer +25.00.
	circle.Set(func(f *cxptest.Circle) { f.Balance = 2500 })
	rep, err := e.svc.Reconcile(ctx)
	if err != nil || !rep.OK || rep.BaseSum != "-25.00" || rep.CircleBalance != "25.00" || rep.LocalSum != -1000 {
		t.Fatalf("integrity: got %+v %v, want ok with -25.00 / 25.00", rep, err)
	}
}

func TestReceiveRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	circle := newFakeCircle(t)
	e := newEnv(t, circle.URL, nil)
	if _, err := e.ledger.SetLimits(ctx, e.bob.Account, -10000, 5000); err != nil {
		t.Fatal(err)
	}
	if _, err := e.members.Block(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	with := func(fn func(r *cxp.TransactionRequest)) cxp.TransactionRequest {
		r := goodRelay("t-x")
		fn(&r)
		return r
	}
	r0, b0 := relayRequest(t, testKey, goodRelay("t-replayed-nonce"))
	signedOnce := signed{r0, b0}
	tests := []struct {
		name       string
		req        func() (*http.Request, []byte)
		wantStatus int
		wantCode   cxp.Code
		wantArg    [2]string
	}{
		{"wrong key", func() (*http.Request, []byte) { return relayRequest(t, "not-the-key", goodRelay("t-x")) }, 401, cxp.CodeWrongKey, [2]string{}},
		{"unsigned", func() (*http.Request, []byte) { return relayRequest(t, "", goodRelay("t-x")) }, 401, cxp.CodeAuthData, [2]string{}},
		{"other keyid", func() (*http.Request, []byte) {
			body, _ := jsonMarshal(goodRelay("t-x"))
			r := signedRelay(t, "", body)
			if err := (httpsig.Signer{KeyID: "leaf", Key: []byte(testKey)}).Sign(r, body); err != nil {
				t.Fatal(err)
			}
			return r, body
		}, 403, cxp.CodeNotPermitted, [2]string{}},
		{"replayed nonce", func() (*http.Request, []byte) { return signedOnce.r, signedOnce.body }, 401, cxp.CodeAuthData, [2]string{}},
		{"payee unknown", func() (*http.Request, []byte) {
			return relayRequest(t, testKey, with(func(r *cxp.TransactionRequest) { r.Payee = "zed" }))
		}, 422, cxp.CodeRemoteValidation, [2]string{"message", "no member zed here"}},
		{"payee blocked", func() (*http.Request, []byte) {
			return relayRequest(t, testKey, with(func(r *cxp.TransactionRequest) { r.Payee = "alice" }))
		}, 422, cxp.CodeRemoteValidation, [2]string{"message", "the member alice cannot be paid"}},
		{"over the payee's limit", func() (*http.Request, []byte) {
			return relayRequest(t, testKey, with(func(r *cxp.TransactionRequest) { r.Quantity = "50.01" }))
		}, 409, cxp.CodeRemoteLimits, [2]string{}},
		{"over the payee's limit, really=false", func() (*http.Request, []byte) {
			return relayRequest(t, testKey, with(func(r *cxp.TransactionRequest) { r.Quantity = "50.01"; r.Really = false }))
		}, 409, cxp.CodeRemoteLimits, [2]string{}},
		{"too many decimals", func() (*http.Request, []byte) {
			return relayRequest(t, testKey, with(func(r *cxp.TransactionRequest) { r.Quantity = "1.001" }))
		}, 400, cxp.CodeType, [2]string{"fieldname", "quantity"}},
		{"zero quantity", func() (*http.Request, []byte) {
			return relayRequest(t, testKey, with(func(r *cxp.TransactionRequest) { r.Quantity = "0" }))
		}, 400, cxp.CodeSign, [2]string{"fieldname", "quantity"}},
		{"missing payee", func() (*http.Request, []byte) {
			return relayRequest(t, testKey, with(func(r *cxp.TransactionRequest) { r.Payee = "" }))
		}, 400, cxp.CodeMissingField, [2]string{"fieldname", "payee"}},
		{"not for us", func() (*http.Request, []byte) {
			return relayRequest(t, testKey, with(func(r *cxp.TransactionRequest) { r.DestURL = "http://pine.example" }))
		}, 400, cxp.CodeInvalidField, [2]string{"field", "dest_url"}},
		{"quantity as a string", func() (*http.Request, []byte) {
			body := []byte(`{"payer":"carol","payee":"bob","dest_url":"http://leaf.example","src_url":"http://acorn.example","quantity":"5","really":true,"temp_id":"t-s"}`)
			return signedRelay(t, testKey, body), body
		}, 400, cxp.CodeType, [2]string{"fieldname", "quantity"}},
		{"unknown field", func() (*http.Request, []byte) {
			body := []byte(`{"payer":"carol","payee":"bob","dest_url":"http://leaf.example","src_url":"http://acorn.example","quantity":5,"really":true,"temp_id":"t-u","extra":1}`)
			return signedRelay(t, testKey, body), body
		}, 400, cxp.CodeInvalidField, [2]string{"field", "extra"}},
		{"not JSON", func() (*http.Request, []byte) {
			body := []byte(`{"payer":`)
			return signedRelay(t, testKey, body), body
		}, 400, cxp.CodeType, [2]string{"fieldname", "body"}},
	}
	// Use the nonce once, successfully for the signature (the payee check refuses nothing here).
	if status, answer := receiveSigned(ctx, e.svc, signedOnce.r, signedOnce.body); status != 200 || answer.Code != cxp.OK {
		t.Fatalf("first use of the signed relay: got %d %+v", status, answer)
	}
	signedOnce.r, signedOnce.body = rebuild(t, signedOnce)
	before := e.account(t, e.bob.Account).Balance
	rowsBefore := e.count(t, `true`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, body := tt.req()
			status, answer := receiveSigned(ctx, e.svc, r, body)
			if status != tt.wantStatus || answer.Code != tt.wantCode {
				t.Fatalf("got %d code %d (%s), want %d code %d", status, answer.Code, answer.Message, tt.wantStatus, tt.wantCode)
			}
			if tt.wantArg[0] != "" && answer.Args[tt.wantArg[0]] != tt.wantArg[1] {
				t.Fatalf("args: got %v, want %s=%q", answer.Args, tt.wantArg[0], tt.wantArg[1])
			}
		})
	}
	if got := e.account(t, e.bob.Account).Balance; got != before {
		t.Fatalf("bob after refusals: got %d, want %d", got, before)
	}
	if got := e.importExport(t).Balance; got != -before {
		t.Fatalf("import/export after refusals: got %d, want %d", got, -before)
	}
	if got := e.count(t, `true`); got != rowsBefore {
		t.Fatalf("rows after refusals: got %d, want %d", got, rowsBefore)
	}
}

func (e *env) receive(r *http.Request, body []byte) (int, cxp.TransactionResponse) {
	return receiveSigned(context.Background(), e.svc, r, body)
}

type signed struct {
	r    *http.Request
	body []byte
}

func relayRequest(t *testing.T, key string, req cxp.TransactionRequest) (*http.Request, []byte) {
	t.Helper()
	return relay(t, key, req)
}

// rebuild is the same signed request again (same headers, so the same nonce), with a fresh body reader.
func rebuild(t *testing.T, s signed) (*http.Request, []byte) {
	t.Helper()
	r := signedRelay(t, "", s.body)
	r.Header = s.r.Header.Clone()
	return r, s.body
}

// Issue 10, hole 7: the payee credits exactly at the rate the clearing
// house used (payee_ticks), not at its own rate in force, which may be
// stale; a payee_amount that does not match is refused (25) and nothing is
// written.
func TestReceiveCreditsAtTheCirclesRate(t *testing.T) {
	t.Parallel()
	circle := newFakeCircle(t)
	circle.Set(func(f *cxptest.Circle) { f.Ticks = "2.5" }) // our rate in force, from the handshake
	e := newEnv(t, circle.URL, nil)
	with := func(tempID, ticks, amount string) cxp.TransactionRequest {
		r := goodRelay(tempID)
		r.PayeeTicks, r.PayeeAmount = cxp.Decimal(ticks), cxp.Decimal(amount)
		return r
	}
	tests := []struct {
		name       string
		req        cxp.TransactionRequest
		wantStatus int
		wantCode   cxp.Code
		wantBob    int64
	}{
		// The circle changed our rate to 2: 25.00 base are 12.50 LEAF, not 10.00.
		{"the circle's new rate", with("t-rate-1", "2", ""), 200, cxp.OK, 1250},
		{"rate and amount", with("t-rate-2", "2", "12.50"), 200, cxp.OK, 2500},
		{"an amount that does not match", with("t-rate-3", "2", "12.51"), 422, cxp.CodeRemoteValidation, 2500},
		{"an amount with too many decimals", with("t-rate-4", "2", "12.501"), 422, cxp.CodeRemoteValidation, 2500},
		{"a rate that is no rate", with("t-rate-5", "0", ""), 400, cxp.CodeSign, 2500},
		// Without payee_ticks (a circle that does not send it): our rate in force.
		{"no rate sent", with("t-rate-6", "", ""), 200, cxp.OK, 3500},
	}
	for _, tt := range tests {
		status, answer := e.receive(relayRequest(t, testKey, tt.req))
		if status != tt.wantStatus || answer.Code != tt.wantCode {
			t.Fatalf("%s: got %d %+v, want %d code %d", tt.name, status, answer, tt.wantStatus, tt.wantCode)
		}
		if tt.wantCode == cxp.CodeRemoteValidation && answer.Args["message"] == "" {
			t.Errorf("%s: no message in %+v", tt.name, answer)
		}
		if tt.wantCode == cxp.OK && tt.req.PayeeTicks != "" && answer.PayeeTicks != tt.req.PayeeTicks {
			t.Errorf("%s: answer's payee_ticks %s, want %s", tt.name, answer.PayeeTicks, tt.req.PayeeTicks)
		}
		if got := e.account(t, e.bob.Account).Balance; got != tt.wantBob {
			t.Fatalf("%s: bob got %d, want %d", tt.name, got, tt.wantBob)
		}
	}
	if n := e.count(t, `temp_id IN ('t-rate-1', 't-rate-2') AND ticks = 2 AND amount = 1250 AND state = 'completed'`); n != 2 {
		t.Fatalf("rows at the circle's rate: got %d, want 2", n)
	}
}

// Issue 10, hole 8: a relay repeated with src_url written with a trailing
// slash is the same relay: the first answer, no second credit.
func TestReceiveDedupesNormalisedSrcURL(t *testing.T) {
	t.Parallel()
	circle := newFakeCircle(t)
	e := newEnv(t, circle.URL, nil)
	first := goodRelay("t-slash")
	status, answer := e.receive(relayRequest(t, testKey, first))
	if status != 200 || answer.Code != cxp.OK {
		t.Fatalf("first: got %d %+v", status, answer)
	}
	slash := first
	slash.SrcURL = testPeerURI + "/"
	status, again := e.receive(relayRequest(t, testKey, slash))
	if status != 200 || again.ID != answer.ID {
		t.Fatalf("with a trailing slash: got %d %+v, want the first answer %+v", status, again, answer)
	}
	if got := e.account(t, e.bob.Account).Balance; got != 2500 {
		t.Fatalf("bob: got %d, want 2500 (credited once)", got)
	}
	if n := e.count(t, `direction = 'in'`); n != 1 {
		t.Fatalf("rows: got %d, want 1", n)
	}
}

// Issue 10, hole 8: relay nonces are kept in PostgreSQL: a relay replayed
// with the same signature after a restart is refused (18).
func TestRelayNoncesSurviveRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	circle := newFakeCircle(t)
	e := newEnv(t, circle.URL, nil)
	r, body := relayRequest(t, testKey, goodRelay("t-nonce"))
	once := signed{r, body}
	if status, answer := receiveSigned(ctx, e.svc, once.r, once.body); status != 200 || answer.Code != cxp.OK {
		t.Fatalf("first: got %d %+v", status, answer)
	}
	// The server restarts: a new service on the same database.
	restarted, err := New(e.pool, e.ledger, e.members, e.svc.cfg, Options{Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	r2, body2 := rebuild(t, once)
	if status, answer := receiveSigned(ctx, restarted, r2, body2); status != 401 || answer.Code != cxp.CodeAuthData {
		t.Fatalf("replayed signature after a restart: got %d %+v, want 401 code 18", status, answer)
	}
}

// Issue 10, hole 3: each conversion's remainder is recorded, the integrity
// check proves every completed intertrade is explained by it, sums it as the
// rounding account, and reports a remainder that does not explain it.
func TestIntegrityExplainsRounding(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	circle := newFakeCircle(t)
	e := newEnv(t, circle.URL, nil)
	// 25.00 base at rate 3 are 8.33 LEAF (8.333… truncated), remainder 0.01 base.
	r := goodRelay("t-third")
	r.PayeeTicks = "3"
	if status, answer := e.receive(relayRequest(t, testKey, r)); status != 200 || answer.Code != cxp.OK {
		t.Fatalf("relay: got %d %+v", status, answer)
	}
	if got := e.account(t, e.bob.Account).Balance; got != 833 {
		t.Fatalf("bob: got %d, want 833", got)
	}
	// 0.03 LEAF paid out at rate 1 are 0.03 base, remainder 0.
	if _, err := e.svc.Pay(ctx, PayRequest{PayerAccount: e.alice.Account, PayerUsername: "alice", To: "bob@acorn", Amount: 3, IdempotencyKey: "p3"}); err != nil {
		t.Fatal(err)
	}
	circle.Set(func(f *cxptest.Circle) { f.Balance = 2500 - 3 })
	rep, err := e.svc.Reconcile(ctx)
	if err != nil || !rep.OK || rep.Rounding != "0.01" {
		t.Fatalf("integrity: got %+v %v, want ok with a rounding account of 0.01", rep, err)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE intertrades SET rounding = 0 WHERE temp_id = 't-third'`); err != nil {
		t.Fatal(err)
	}
	rep, err = e.svc.CheckIntegrity(ctx)
	if err != nil || rep.OK || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "1 completed intertrades are not explained") {
		t.Fatalf("integrity with an unexplained remainder: got %+v %v, want one problem", rep, err)
	}
	if last, ok, err := e.svc.LastIntegrity(ctx); err != nil || !ok || last.OK || last.Rounding != "0" {
		t.Fatalf("last integrity: got %+v %v %v", last, ok, err)
	}
}

// TestReceiveShowsPayerAddress: the payee's statement names the payer as
// member@community (and the community's name), never the circle's URL for it.
func TestReceiveShowsPayerAddress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	circle := newFakeCircle(t)
	e := newEnv(t, circle.URL, nil)
	if status, answer := e.receive(relayRequest(t, testKey, goodRelay("t-name"))); status != http.StatusOK || answer.Code != cxp.OK {
		t.Fatalf("relay: got %d %+v, want 200 code 0", status, answer)
	}
	pay := payments.New(e.pool, e.ledger, e.members, payments.Currency{Code: testCurrency, Divisions: 2}, e.clock.Now)
	st, err := pay.Statement(ctx, e.bob, payments.StatementQuery{})
	if err != nil || len(st.Lines) != 1 {
		t.Fatalf("statement: got %+v %v, want one line", st, err)
	}
	if got, name := st.Lines[0].CounterpartyName, st.Lines[0].CounterpartyCommunity; got != "carol@acorn" || name != "Acorn" {
		t.Fatalf("counterparty: got %q (%q), want carol@acorn (Acorn)", got, name)
	}
}
