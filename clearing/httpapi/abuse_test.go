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
