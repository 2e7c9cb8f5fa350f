// Package metrics is the community server's Prometheus instrumentation:
// HTTP requests by route template, the ledger's transfers (payments,
// payment requests, intertrades) and refusals, and a collector that reads
// members, intertrading results, the import/export account and its
// integrity with the circle from the database at scrape time. Everything
// registers on the registry that main builds and passes in.
//
// Local amounts are minor units of the community's currency; intertrade
// quantities are base units of the circle. Every label has a bounded set of
// values: route templates, HTTP methods and codes, ledger codes, member
// statuses, directions and states.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sxp-network/sxp/ledger/httpmetrics"
	"github.com/sxp-network/sxp/ledger/ledgermetrics"
)

// LedgerKinds are the "kind" metadata values of the community's transfers
// that get their own label value.
var LedgerKinds = []string{"payment", "request", "intertrade"}

// Metrics are the community server's in-process metrics.
type Metrics struct {
	HTTP   *httpmetrics.HTTP
	Ledger *ledgermetrics.Observer // pass as ledger.Options.Observer
}

// New registers the community server's in-process metrics on reg. The
// database values come from a Community collector, registered separately.
func New(reg prometheus.Registerer) *Metrics {
	return &Metrics{HTTP: httpmetrics.New(reg), Ledger: ledgermetrics.New(reg, LedgerKinds...)}
}
