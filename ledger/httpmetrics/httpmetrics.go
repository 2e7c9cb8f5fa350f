// Package httpmetrics is the HTTP request metrics of both servers' HTTP
// layers (requests and their durations by route template, method and
// status) and Protect, the bearer-token guard of their /metrics.
//
// Where it lives: the ledger/ tree is the base layer. Package ledger and
// its subpackages import no package of server/ or clearing/, so both
// servers may import them (design.md: cmd → server, clearing → ledger;
// server → clearing/cxp/..., the wire protocols, and nothing else of
// clearing). A building block that both servers need and that knows no
// domain of either lives under ledger/, named for what it is:
// ledger/money, ledger/jobs, ledger/httpmetrics, ledger/chart.
package httpmetrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// HTTP counts a server's requests by route template (never the raw path),
// method and status, and times them.
type HTTP struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// Unmatched is the route label of requests that matched no route.
const Unmatched = "unmatched"

// New registers the HTTP request metrics on reg:
//
//	sxp_http_requests_total{route,method,code}
//	sxp_http_request_duration_seconds{route,method}
func New(reg prometheus.Registerer) *HTTP {
	h := &HTTP{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sxp_http_requests_total",
			Help: "HTTP requests served, by route template, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sxp_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by route template and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
	}
	reg.MustRegister(h.requests, h.duration)
	return h
}

// Observe records one request. route is the matched route template ("" for
// none); an unknown method is counted as "other" so labels stay bounded.
func (h *HTTP) Observe(route, method string, status int, d time.Duration) {
	if route == "" {
		route = Unmatched
	}
	method = knownMethod(method)
	h.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	h.duration.WithLabelValues(route, method).Observe(d.Seconds())
}

func knownMethod(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return m
	}
	return "other"
}
