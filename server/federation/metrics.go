package federation

import "github.com/prometheus/client_golang/prometheus"

// metrics are the per-peer federation metrics (label peer = its base URL).
type metrics struct {
	deliveries, failures, sent, appliedN, ignoredN *prometheus.CounterVec
	backlogN, failing                              *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sxp_federation_deliveries_total",
			Help: "Batches of events delivered to a peer's inbox."}, []string{"peer"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sxp_federation_delivery_failures_total",
			Help: "Failed deliveries to a peer (transport errors and non-200 answers)."}, []string{"peer"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sxp_federation_events_delivered_total",
			Help: "Events delivered to a peer's inbox."}, []string{"peer"}),
		appliedN: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sxp_federation_events_applied_total",
			Help: "Events from a peer applied here (pushed or pulled)."}, []string{"peer"}),
		ignoredN: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sxp_federation_events_ignored_total",
			Help: "Events from a peer ignored here (not newer than the version held, or malformed)."}, []string{"peer"}),
		backlogN: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sxp_federation_backlog_events",
			Help: "Outbox events not yet delivered to a peer, as of the last attempt."}, []string{"peer"}),
		failing: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sxp_federation_peer_failing",
			Help: "1 while deliveries to a peer fail (since its last success), else 0."}, []string{"peer"}),
	}
	if reg != nil {
		reg.MustRegister(m.deliveries, m.failures, m.sent, m.appliedN, m.ignoredN, m.backlogN, m.failing)
	}
	return m
}

// init exports a peer's series from the start, at zero.
func (m *metrics) init(peer string) {
	m.deliveries.WithLabelValues(peer)
	m.failures.WithLabelValues(peer)
	m.sent.WithLabelValues(peer)
	m.appliedN.WithLabelValues(peer)
	m.ignoredN.WithLabelValues(peer)
	m.backlogN.WithLabelValues(peer)
	m.failing.WithLabelValues(peer)
}

func (m *metrics) forget(peer string) {
	for _, v := range []*prometheus.CounterVec{m.deliveries, m.failures, m.sent, m.appliedN, m.ignoredN} {
		v.DeleteLabelValues(peer)
	}
	m.backlogN.DeleteLabelValues(peer)
	m.failing.DeleteLabelValues(peer)
}

func (m *metrics) delivered(peer string, events int, backlog int64) {
	m.deliveries.WithLabelValues(peer).Inc()
	m.sent.WithLabelValues(peer).Add(float64(events))
	m.backlogN.WithLabelValues(peer).Set(float64(backlog))
	m.failing.WithLabelValues(peer).Set(0)
}

func (m *metrics) failed(peer string, backlog int64) {
	m.failures.WithLabelValues(peer).Inc()
	m.backlogN.WithLabelValues(peer).Set(float64(backlog))
	m.failing.WithLabelValues(peer).Set(1)
}

func (m *metrics) backlog(peer string, n int64) {
	m.backlogN.WithLabelValues(peer).Set(float64(n))
	m.failing.WithLabelValues(peer).Set(0)
}

func (m *metrics) applied(peer string, applied, ignored int) {
	m.appliedN.WithLabelValues(peer).Add(float64(applied))
	m.ignoredN.WithLabelValues(peer).Add(float64(ignored))
}

// RegisterMetrics registers the federation metrics on reg, for tools and
// tests that list what a community server exports.
func RegisterMetrics(reg prometheus.Registerer) { newMetrics(reg) }
