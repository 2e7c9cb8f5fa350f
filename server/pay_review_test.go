package server_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/cxptest"
	"github.com/sxp-network/sxp/server"
	"github.com/sxp-network/sxp/server/members"
)

// fakeCommunity serves another community's /.well-known/sxp: its currency
// is what a quote names.
func fakeCommunity(t *testing.T, currency string, divisions int) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		base := "http://" + r.Host
		json.NewEncoder(w).Encode(map[string]any{"protocol": "sxp-fed/1", "id": "acorn", "name": "Acorn Hill", "base_url": base,
			"currency": currency, "divisions": divisions, "cxp_uri": base, "circle": nil,
			"keys": []map[string]string{{"keyid": base + "#k1", "alg": "ed25519", "public_key": base64.StdEncoding.EncodeToString(pub)}}})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

const reviewKey = "leaf's key for the review tests"

// inFakeCircle is leaf at rate 1 in a fake circle that lists acorn (ACORN,
// 2 places) at rate 3 and answers a written payment with acorn's rate 3.
func inFakeCircle(t *testing.T) (*env, *cxptest.Circle) {
	t.Helper()
	acorn := fakeCommunity(t, "ACORN", 2)
	circle := cxptest.NewCircle(t, map[string]string{"leaf": reviewKey},
		cxp.Exchange{ID: "acorn", Name: "Acorn Hill", URI: acorn, Ticks: "3", Status: cxp.AccountTrading})
	circle.Set(func(c *cxptest.Circle) { c.PayeeTicks = "3" })
	e := newEnv(t, func(c *server.Config) {
		c.CircleURL, c.CircleID, c.CircleKey, c.Rate = circle.URL, "valley", reviewKey, "1"
	})
	return e, circle
}

// hidden reads the hidden fields of the review's confirm form.
func hidden(t *testing.T, html string) url.Values {
	t.Helper()
	form := url.Values{}
	i := strings.Index(html, `id="confirm-form"`)
	if i < 0 {
		t.Fatalf("no confirm form in:\n%s", html)
	}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([a-z]+)" value="([^"]*)">`).FindAllStringSubmatch(html[i:], -1) {
		if m[1] != "csrf" && form.Get(m[1]) == "" {
			form.Set(m[1], strings.ReplaceAll(m[2], "&#43;", "+"))
		}
	}
	return form
}

// TestPayReviewLocal: the review names the payee and pays nothing; its
// Confirm, sent twice, pays once and shows the receipt.
func TestPayReviewLocal(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.member("alice", members.RoleMember)
	if _, err := e.srv.Members.Add(t.Context(), members.Registration{Username: "bob", Password: "password-bob", DisplayName: "Bob Baker"}, members.RoleMember); err != nil {
		t.Fatal(err)
	}
	e.login("bob")
	alice := e.browser("alice")

	st, html := alice.post("/pay/review", url.Values{"to": {"bob"}, "amount": {"3.00"}, "description": {"bread"}, "key": {"r1"}})
	if st != 200 || !strings.Contains(html, "Bob Baker (bob)") || !strings.Contains(html, "Leaf Valley") || !strings.Contains(html, "Confirm and pay 3.00 LEAF") {
		t.Fatalf("review: got %d\n%s", st, html)
	}
	if got := e.balances("alice", "bob"); !equal(got, []string{"0.00", "0.00"}) {
		t.Fatalf("after the review: got %v, want nothing paid", got)
	}
	form := hidden(t, html)
	if form.Get("key") != "r1" || form.Get("to") != "bob" || form.Get("amount") != "3.00" || form.Get("description") != "bread" {
		t.Fatalf("confirm form: got %v", form)
	}
	for i := range 2 { // a double submit
		st, html = alice.post("/pay", form)
		if st != 200 || !strings.Contains(html, "Paid 3.00 LEAF to bob.") || !strings.Contains(html, `<td id="receipt-received"><strong>3.00 LEAF</strong>`) {
			t.Fatalf("confirm %d: got %d\n%s", i, st, html)
		}
	}
	if got := e.balances("alice", "bob"); !equal(got, []string{"-3.00", "3.00"}) {
		t.Fatalf("after two confirms: got %v, want one payment of 3.00", got)
	}
	for _, tt := range []struct {
		name, to, amount, want string
		status                 int
	}{
		{"unknown member", "nobody", "1.00", "no member", 404},
		{"oneself", "alice", "1.00", "you cannot pay yourself", 400},
		{"bad amount", "bob", "1.234", "at most 2", 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, html := alice.post("/pay/review", url.Values{"to": {tt.to}, "amount": {tt.amount}, "key": {"r2"}})
			if st != tt.status || !strings.Contains(html, tt.want) || strings.Contains(html, "confirm-form") {
				t.Fatalf("got %d, want %d with %q and no confirm\n%s", st, tt.status, tt.want, html)
			}
		})
	}
	st, body := e.call("alice", "GET", "/api/v1/quote?payee=bob&amount=2.50", "")
	if st != 200 || body["payee_amount"] != "2.50" || body["payee_name"] != "Bob Baker" || body["source"] != "local" {
		t.Fatalf("local quote: got %d %v", st, body)
	}
}

// TestPayReviewOtherCommunity: the review quotes what bob@acorn receives in
// ACORN at the circle's rates, truncated toward zero, without asking the
// circle to write; a double confirm writes once; the receipt shows both
// amounts; the API's quote says the same.
func TestPayReviewOtherCommunity(t *testing.T) {
	t.Parallel()
	e, circle := inFakeCircle(t)
	e.member("alice", members.RoleMember)
	alice := e.browser("alice")

	// 10.00 LEAF at rate 1 = 10.00 base; at acorn's rate 3 = 3.333… → 3.33 ACORN.
	st, html := alice.post("/pay/review", url.Values{"to": {"bob@acorn"}, "amount": {"10.00"}, "key": {"x1"}})
	if st != 200 || !strings.Contains(html, "<strong>3.33 ACORN</strong>") || !strings.Contains(html, "Acorn Hill") ||
		!strings.Contains(html, "10.00 base units") || !strings.Contains(html, "rounded down (toward zero)") {
		t.Fatalf("review: got %d\n%s", st, html)
	}
	circle.Set(func(c *cxptest.Circle) {
		if len(c.Tries) != 0 {
			t.Errorf("the review tried %d payments with the circle, want 0", len(c.Tries))
		}
	})
	form := hidden(t, html)
	for i := range 2 {
		st, html = alice.post("/pay", form)
		if st != 200 || !strings.Contains(html, "Paid 10.00 LEAF to bob@acorn.") ||
			!strings.Contains(html, `<td id="receipt-sent"><strong>10.00 LEAF</strong>`) || !strings.Contains(html, "<strong>3.33 ACORN</strong>") {
			t.Fatalf("confirm %d: got %d\n%s", i, st, html)
		}
	}
	circle.Set(func(c *cxptest.Circle) {
		if c.Writes != 1 {
			t.Errorf("the circle wrote %d payments, want 1", c.Writes)
		}
	})
	if got := e.balance("alice"); got != "-10.00" {
		t.Fatalf("alice: got %s, want -10.00", got)
	}

	st, body := e.call("alice", "GET", "/api/v1/quote?payee=bob@acorn&amount=10.00", "")
	want := map[string]any{"to": "bob@acorn", "community_name": "Acorn Hill", "amount": "10.00", "currency": "LEAF", "quantity": "10.00",
		"ticks": "1", "payee_ticks": "3", "payee_amount": "3.33", "payee_currency": "ACORN", "rounding": "toward_zero", "source": "rates", "trading": true}
	if st != 200 {
		t.Fatalf("quote: got %d %v", st, body)
	}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("quote %s: got %v, want %v", k, body[k], v)
		}
	}
	for _, tt := range []struct{ name, query, code string }{
		{"unknown community", "payee=bob@nowhere&amount=1.00", "unknown_community"},
		{"no amount", "payee=bob@acorn", "invalid"},
		{"bad amount", "payee=bob@acorn&amount=1.001", "invalid"},
		{"no payee", "amount=1.00", "invalid"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, body := e.call("alice", "GET", "/api/v1/quote?"+tt.query, "")
			if code, _ := errCode(body); st/100 != 4 || code != tt.code {
				t.Fatalf("got %d %v, want code %s", st, body, tt.code)
			}
		})
	}
	// The API's payment answer carries the payee's rate the circle used.
	st, body = e.call("alice", "POST", "/api/v1/payments", `{"to":"bob@acorn","amount":"1.00","idempotency_key":"api-1"}`)
	if st != 201 || body["payee_ticks"] != "3" || body["quantity"] != "1.00" {
		t.Fatalf("API payment: got %d %v", st, body)
	}
}

// TestPayConfirmConcurrent: the same Confirm sent five times at once pays once.
func TestPayConfirmConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.member("alice", members.RoleMember)
	e.member("bob", members.RoleMember)
	alice := e.browser("alice")
	_, html := alice.post("/pay/review", url.Values{"to": {"bob"}, "amount": {"4.00"}, "key": {"c1"}})
	form := hidden(t, html)
	form.Set("csrf", alice.csrf)
	statuses := make(chan int, 5)
	for range 5 {
		go func() {
			resp, err := alice.c.PostForm(alice.base+"/pay", form)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	for range 5 {
		if st := <-statuses; st != 200 {
			t.Errorf("a confirm: got %d, want 200 (the same payment)", st)
		}
	}
	if got := e.balances("alice", "bob"); !equal(got, []string{"-4.00", "4.00"}) {
		t.Fatalf("after five confirms at once: got %v, want one payment of 4.00", got)
	}
}
