package contracts

import "github.com/prometheus/client_golang/prometheus"

// metrics of the parties' side, exported from start (zero for every label):
//
//	sxp_contract_arbiter_requests_total{kind,result}  this server's calls to T:
//	    kind "resolve" (POST /arbiter/v1/resolve) or "decision" (GET …/contracts/{h}),
//	    result "ok" or "error"
//	sxp_contract_promises_sent_total{result}          promises sent to other parties' servers
type metrics struct {
	arbiter  *prometheus.CounterVec
	promises *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		arbiter: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sxp_contract_arbiter_requests_total",
			Help: "Calls of this server to the arbiter T, by kind (resolve or decision) and result (ok or error)."}, []string{"kind", "result"}),
		promises: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sxp_contract_promises_sent_total",
			Help: "Contract promises sent to other parties' home servers, by result (ok or error)."}, []string{"result"}),
	}
	for _, k := range []string{"resolve", "decision"} {
		for _, r := range []string{"ok", "error"} {
			m.arbiter.WithLabelValues(k, r)
		}
	}
	for _, r := range []string{"ok", "error"} {
		m.promises.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.arbiter, m.promises)
	}
	return m
}

func result(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}
