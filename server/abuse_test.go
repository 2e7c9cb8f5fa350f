package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/sxp-network/sxp/server"
	"github.com/sxp-network/sxp/server/members"
)

// TestDuplicateJSONKeys: every JSON body of the community API refuses a
// repeated key, as CXP does (issue 10): {"to":"bob",...,"to":"root"} must
// not pay whichever one a decoder happens to keep.
func TestDuplicateJSONKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.member("alice", members.RoleMember)
	e.member("bob", members.RoleMember)
	e.member("root", members.RoleAdmin)
	for _, tt := range []struct {
		name, user, method, path, body, field string
	}{
		{"pay", "alice", "POST", "/api/v1/payments", `{"to":"bob","amount":"1.00","to":"root"}`, "to"},
		{"pay amount", "alice", "POST", "/api/v1/payments", `{"to":"bob","amount":"1.00","amount":"90.00"}`, "amount"},
		{"register", "", "POST", "/api/v1/members", `{"username":"carol","password":"password1","username":"root2"}`, "username"},
		{"login", "", "POST", "/api/v1/session", `{"username":"alice","password":"x","password":"password-alice"}`, "password"},
		{"limits", "root", "PUT", "/api/v1/admin/members/alice/limits", `{"min":"-10","max":"10","min":"-1000"}`, "min"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, body := e.call(tt.user, tt.method, tt.path, tt.body)
			if code, field := errCode(body); st != http.StatusBadRequest || code != "invalid" || field != tt.field {
				t.Fatalf("got %d %v, want 400 invalid on %q", st, body, tt.field)
			}
		})
	}
	if got := e.balances("alice", "bob", "root"); !equal(got, []string{"0.00", "0.00", "0.00"}) {
		t.Fatalf("balances: got %v, want all 0.00", got)
	}
	if n := e.count("members"); n != 3 {
		t.Fatalf("members: got %d, want 3", n)
	}
}

// TestReadyzHidesDetails (issue 10): /readyz answers 503 with a generic
// reason; the database's user, host and port stay in the log.
func TestReadyzHidesDetails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.srv.Handlers.Ready = func(context.Context) error {
		return errors.New("database: failed to connect to `user=sxp_leaf database=leaf`: 10.7.7.7:6543 (db.internal): dial error")
	}
	st, raw, _ := e.raw("", "GET", "/readyz", "")
	if st != http.StatusServiceUnavailable {
		t.Fatalf("got %d %s, want 503", st, raw)
	}
	for _, secret := range []string{"sxp_leaf", "10.7.7.7", "6543", "db.internal"} {
		if strings.Contains(raw, secret) {
			t.Errorf("readyz shows %q: %s", secret, raw)
		}
	}
}

// TestMetricsToken (issue 10): with SXP_METRICS_TOKEN set, /metrics (which
// shows balances and counts) answers only a bearer of that token.
func TestMetricsToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *server.Config) { c.MetricsToken = "metrics-token-of-leaf" })
	for _, tt := range []struct {
		name, auth string
		status     int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"wrong token", "Bearer not-the-token", http.StatusUnauthorized},
		{"basic", "Basic bWV0cmljczptZXRyaWNzLXRva2VuLW9mLWxlYWY=", http.StatusUnauthorized},
		{"right token", "Bearer metrics-token-of-leaf", http.StatusOK},
	} {
		req, _ := http.NewRequest("GET", e.http.URL+"/metrics", nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s: got %d, want %d", tt.name, resp.StatusCode, tt.status)
		}
		if tt.status != http.StatusOK && strings.Contains(string(b), "sxp_") {
			t.Errorf("%s: metrics shown: %.200s", tt.name, b)
		}
	}
}

// TestPaymentKeyNearLimit is issue 10's hole 4 through the API: alice at
// -95.00 (limit -100.00) sends 40 concurrent 5.00 payments with one
// idempotency key; every one answers the same paid payment, none 422.
// (Through HTTP and a small pool the race is rare: the ledger's
// TestIdempotencyNearLimit is the test that failed before the fix.)
func TestPaymentKeyNearLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.member("alice", members.RoleMember)
	e.member("bob", members.RoleMember)
	if st, body := e.call("alice", "POST", "/api/v1/payments", `{"to":"bob","amount":"95.00"}`); st != http.StatusCreated {
		t.Fatalf("first payment: got %d %v", st, body)
	}
	const n = 40
	type answer struct {
		status int
		id     any
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			st, body := e.call("alice", "POST", "/api/v1/payments", `{"to":"bob","amount":"5.00","idempotency_key":"one-key"}`)
			answers[i] = answer{st, body["id"]}
		}()
	}
	close(start)
	wg.Wait()
	for i, a := range answers {
		if a.status != http.StatusCreated || a.id != answers[0].id {
			t.Fatalf("payment %d: got %d id %v, want 201 with the first payment's id %v", i, a.status, a.id, answers[0].id)
		}
	}
	if got := e.balances("alice", "bob"); !equal(got, []string{"-100.00", "100.00"}) {
		t.Fatalf("balances: got %v, want [-100.00 100.00]", got)
	}
	if n := e.count("ledger_transfers"); n != 2 {
		t.Fatalf("transfers: got %d, want 2", n)
	}
}
