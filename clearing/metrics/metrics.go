// Package metrics is the clearing house's Prometheus instrumentation: HTTP
// requests by route template, the ledger's transfers and refusals, relays to
// the payees' servers, and a collector that reads every community's state
// (balance, limits, headroom, rate, status, integrity, intertrades) from the
// database at scrape time. Everything registers on the registry that main
// builds and passes in; nothing is global.
//
// Amounts are in minor units of the circle's base unit. Every label has a
// bounded set of values: route templates, HTTP methods and codes, ledger and
// CXP codes, and community ids, which only the circle's admins create.
package metrics

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sxp-network/sxp/ledger/httpmetrics"
	"github.com/sxp-network/sxp/ledger/ledgermetrics"
)

// LedgerKinds are the "kind" metadata values of the clearing house's
// transfers that get their own label value.
var LedgerKinds = []string{"intertrade"}

// Metrics are the clearing house's in-process metrics.
type Metrics struct {
	HTTP   *httpmetrics.HTTP
	Ledger *ledgermetrics.Observer // pass as ledger.Options.Observer
	Relays *Relays                 // wrap the relay client's transport with Relays.Transport
}

// New registers the clearing house's in-process metrics on reg. pool is
// used to name the community a relay went to. The per-community values
// come from a Communities collector, registered separately once the house
// exists.
func New(reg prometheus.Registerer, pool *pgxpool.Pool) *Metrics {
	return &Metrics{
		HTTP:   httpmetrics.New(reg),
		Ledger: ledgermetrics.New(reg, LedgerKinds...),
		Relays: newRelays(reg, pool),
	}
}
