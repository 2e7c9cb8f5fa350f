package httpmetrics

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// Protect serves h only to requests that carry Authorization: Bearer token
// (compared in constant time); others get 401 with WWW-Authenticate. An
// empty token serves everyone. Both servers wrap their /metrics with it
// (SXP_METRICS_TOKEN): the metrics show balances.
func Protect(h http.Handler, token string) http.Handler {
	if token == "" {
		return h
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "401 unauthorized: /metrics needs Authorization: Bearer <the metrics token>", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
