package httpapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
	"github.com/sxp-network/sxp/clearing/httpapi"
)

// dbError is what pgx says when the database is unreachable: user, host
// and port, none of which a visitor may read.
var dbError = errors.New("failed to connect to `user=sxp_clearing database=valley`: 10.7.7.7:6543 (db.internal): dial error")

// TestReadyzHidesDetails (issue 10): /readyz answers 503 with a generic
// reason; the database's user, host and port stay in the log.
func TestReadyzHidesDetails(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, func(o *httpapi.Options) { o.Ready = func(context.Context) error { return dbError } })
	resp, err := http.Get(e.srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("got %d %s, want 503", resp.StatusCode, b)
	}
	for _, secret := range []string{"sxp_clearing", "10.7.7.7", "6543", "db.internal", "valley"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("readyz shows %q: %s", secret, b)
		}
	}
}

// TestMetricsToken (issue 10): with --metrics-token set, /metrics (which
// shows every community's balance) answers only a bearer of that token.
func TestMetricsToken(t *testing.T) {
	t.Parallel()
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "sxp_secret_balance 1\n") })
	e := newEnvWith(t, func(o *httpapi.Options) { o.Metrics, o.MetricsToken = metrics, "metrics-token-of-circle" })
	for _, tt := range []struct {
		name, auth string
		status     int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"wrong token", "Bearer not-the-token", http.StatusUnauthorized},
		{"admin token", "Bearer " + adminToken, http.StatusUnauthorized},
		{"right token", "Bearer metrics-token-of-circle", http.StatusOK},
	} {
		req, _ := http.NewRequest("GET", e.srv.URL+"/metrics", nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || (tt.status != http.StatusOK) == strings.Contains(string(b), "sxp_secret_balance") {
			t.Errorf("%s: got %d %.100q, want %d", tt.name, resp.StatusCode, b, tt.status)
		}
	}
}

// TestAdminPageSession (issue 10): logging in to the admin pages opens a
// server-side session: the cookie is a random id, not the admin token; the
// database keeps only its hash, with an expiry; logging out deletes it, so
// the old cookie no longer works; an expired or revoked one does not either.
func TestAdminPageSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	client := &http.Client{CheckRedirect: noRedirect}
	login := func(token string) *http.Cookie {
		t.Helper()
		resp, err := client.PostForm(e.srv.URL+"/admin/login", url.Values{"token": {token}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("log in: got %d, want 303", resp.StatusCode)
		}
		for _, ck := range resp.Cookies() {
			if ck.Name == "sxp_admin" {
				return ck
			}
		}
		t.Fatal("log in set no sxp_admin cookie")
		return nil
	}
	var body string
	page := func(ck *http.Cookie) int {
		t.Helper()
		req, _ := http.NewRequest("GET", e.srv.URL+"/admin", nil)
		req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		return resp.StatusCode
	}
	sessions := func() int {
		t.Helper()
		var n int
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM clearing_admin_sessions`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	ck := login(adminToken)
	if strings.Contains(ck.Value, adminToken) || len(ck.Value) < 32 {
		t.Fatalf("cookie %q: want a random session id, not the admin token", ck.Value)
	}
	if ck.MaxAge <= 0 || ck.MaxAge > 12*3600 || !ck.HttpOnly {
		t.Fatalf("cookie: MaxAge %d HttpOnly %v, want 1..43200 and true", ck.MaxAge, ck.HttpOnly)
	}
	var stored int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM clearing_admin_sessions WHERE expires_at > now() AND id_hash <> $1::bytea`,
		[]byte(ck.Value)).Scan(&stored); err != nil || stored != 1 {
		t.Fatalf("stored sessions: got %d (%v), want 1, hashed", stored, err)
	}
	if st := page(ck); st != http.StatusOK {
		t.Fatalf("with the session: got %d, want 200", st)
	}
	// The admin token itself is not a page session.
	if st := page(&http.Cookie{Name: "sxp_admin", Value: adminToken}); st != http.StatusSeeOther {
		t.Fatalf("admin token as the cookie: got %d, want 303 to log in", st)
	}
	// Log out: the session is gone, and replaying its cookie fails.
	page(ck)
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]{64})"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("overview has no CSRF field:\n%s", body)
	}
	req, _ := http.NewRequest("POST", e.srv.URL+"/admin/logout", strings.NewReader(url.Values{"csrf": {m[1]}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	if resp, err := client.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	if n := sessions(); n != 0 {
		t.Fatalf("sessions after log-out: got %d, want 0", n)
	}
	if st := page(ck); st != http.StatusSeeOther {
		t.Fatalf("replayed cookie after log-out: got %d, want 303", st)
	}
	// An expired session does not work.
	ck = login(adminToken)
	if _, err := e.pool.Exec(ctx, `UPDATE clearing_admin_sessions SET created_at = now() - interval '13 hours', expires_at = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	if st := page(ck); st != http.StatusSeeOther {
		t.Fatalf("expired session: got %d, want 303", st)
	}
	// A session opened with a stored token ends when the token is revoked.
	token, err := e.house.AddAdminToken(ctx, "test", "ops")
	if err != nil {
		t.Fatal(err)
	}
	ck = login(token)
	if st := page(ck); st != http.StatusOK {
		t.Fatalf("session of token ops: got %d, want 200", st)
	}
	if err := e.house.RevokeAdminToken(ctx, "test", "ops"); err != nil {
		t.Fatal(err)
	}
	if st := page(ck); st != http.StatusSeeOther {
		t.Fatalf("session of a revoked token: got %d, want 303", st)
	}
}

// TestCXPRateLimit (issue 10): each community key gets its own budget of
// CXP calls; the excess is refused with 429 and Retry-After, other
// communities are not affected, and the budget refills with time.
func TestCXPRateLimit(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	e := newEnvWith(t, func(o *httpapi.Options) { o.CXPRate, o.CXPBurst, o.Now = 1, 2, clock })
	clients := func(id string) int {
		st, _ := e.call(id, "GET", "/server/clients", nil)
		return st
	}
	for i, want := range []int{200, 200, 429} {
		if st := clients("a"); st != want {
			t.Fatalf("a's call %d: got %d, want %d", i+1, st, want)
		}
	}
	if st := clients("b"); st != 200 {
		t.Fatalf("b while a is limited: got %d, want 200", st)
	}
	// The refusal says when to come back.
	req, _ := http.NewRequest("GET", e.srv.URL+"/server/clients", nil)
	if err := (httpsig.Signer{KeyID: "a", Key: []byte(e.coms["a"].Key())}).Sign(req, nil); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("limited call: got %d Retry-After %q, want 429 and 1", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	offset.Store(int64(1100 * time.Millisecond))
	if st := clients("a"); st != 200 {
		t.Fatalf("a after a second: got %d, want 200", st)
	}
}
