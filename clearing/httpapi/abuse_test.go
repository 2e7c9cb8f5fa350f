package httpapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

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
