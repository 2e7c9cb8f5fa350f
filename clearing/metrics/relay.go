package metrics

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// Relay results, the values of the result label.
const (
	RelayOK           = "ok"           // the payee's server accepted (2xx)
	RelayRefused      = "refused"      // it refused the transaction (4xx other than 401/403)
	RelayUnauthorized = "unauthorized" // it refused the circle's signature (401/403)
	RelayError        = "error"        // no answer, or a server error (5xx)
)

// UnknownCommunity is the community label of a relay to a URL that no
// registered community's uri starts with.
const UnknownCommunity = "unknown"

// relayResults are every value of the result label.
var relayResults = []string{RelayOK, RelayRefused, RelayUnauthorized, RelayError}

// Relays times the clearing house's relays to the payees' servers and
// counts them by result. It is a prometheus.Collector: at each scrape every
// registered community has its series, an empty histogram and a zero count
// for each result until its first relay, so that a fresh circle's /metrics
// lists them, absent() stays quiet and rate() sees the first relay.
type Relays struct {
	pool     *pgxpool.Pool
	duration *prometheus.HistogramVec
	total    *prometheus.CounterVec

	mu       sync.Mutex
	uris     map[string]string // community uri (no trailing slash) → id
	loadedAt time.Time
}

func newRelays(reg prometheus.Registerer, pool *pgxpool.Pool) *Relays {
	r := &Relays{
		pool: pool,
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sxp_clearing_relay_duration_seconds",
			Help:    "Time until the payee's server answered a relayed transaction, by payee community.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"community"}),
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sxp_clearing_relays_total",
			Help: "Transactions relayed to the payee's server, by payee community and result (ok, refused, unauthorized, error).",
		}, []string{"community", "result"}),
	}
	reg.MustRegister(r)
	return r
}

// Describe sends the descriptors of the histogram and the counter.
func (r *Relays) Describe(ch chan<- *prometheus.Desc) {
	r.duration.Describe(ch)
	r.total.Describe(ch)
}

// Collect makes sure every registered community has its series, then sends
// them all.
func (r *Relays) Collect(ch chan<- prometheus.Metric) {
	r.zeroKnown()
	r.duration.Collect(ch)
	r.total.Collect(ch)
}

// zeroKnown reads the registered communities (refreshing the uri cache) and
// creates their series. Without a database (tests of the descriptors) it
// does nothing; a failed read keeps the series already made.
func (r *Relays) zeroKnown() {
	if r.pool == nil {
		return
	}
	uris, err := loadURIs(context.Background(), r.pool)
	if err != nil {
		return
	}
	r.mu.Lock()
	r.uris, r.loadedAt = uris, time.Now()
	r.mu.Unlock()
	for _, id := range uris {
		r.duration.WithLabelValues(id)
		for _, result := range relayResults {
			r.total.WithLabelValues(id, result)
		}
	}
}

// Transport wraps base (http.DefaultTransport when nil) so that every
// request through it is timed and counted as a relay.
func (r *Relays) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		start := time.Now()
		resp, err := base.RoundTrip(req)
		r.Observe(r.community(req.Context(), req.URL.String()), relayResult(resp, err), time.Since(start))
		return resp, err
	})
}

// Observe records one relay to community with its result.
func (r *Relays) Observe(community, result string, d time.Duration) {
	r.duration.WithLabelValues(community).Observe(d.Seconds())
	r.total.WithLabelValues(community, result).Inc()
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func relayResult(resp *http.Response, err error) string {
	switch {
	case err != nil || resp.StatusCode >= 500:
		return RelayError
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return RelayUnauthorized
	case resp.StatusCode >= 400:
		return RelayRefused
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return RelayOK
	}
	return RelayError
}

// community names the registered community whose uri is the longest
// prefix of target. The uris are cached; a miss reloads them at most every
// ten seconds.
func (r *Relays) community(ctx context.Context, target string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id, ok := matchURI(r.uris, target); ok {
		return id
	}
	if time.Since(r.loadedAt) < 10*time.Second && r.uris != nil {
		return UnknownCommunity
	}
	r.loadedAt = time.Now()
	if uris, err := loadURIs(context.WithoutCancel(ctx), r.pool); err == nil {
		r.uris = uris
	}
	if id, ok := matchURI(r.uris, target); ok {
		return id
	}
	return UnknownCommunity
}

func matchURI(uris map[string]string, target string) (string, bool) {
	best, id := -1, ""
	for u, c := range uris {
		if (target == u || strings.HasPrefix(target, u+"/") || strings.HasPrefix(target, u+"?")) && len(u) > best {
			best, id = len(u), c
		}
	}
	return id, best >= 0
}

func loadURIs(ctx context.Context, pool *pgxpool.Pool) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rows, err := pool.Query(ctx, `SELECT id, uri FROM clearing_communities`)
	if err != nil {
		return nil, fmt.Errorf("metrics: community uris: %w", err)
	}
	uris := map[string]string{}
	var id, uri string
	_, err = pgx.ForEachRow(rows, []any{&id, &uri}, func() error {
		uris[strings.TrimRight(uri, "/")] = id
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("metrics: community uris: %w", err)
	}
	return uris, nil
}
