// Package ledgermetrics counts what a ledger writes and refuses, as
// Prometheus metrics: an implementation of ledger.Observer that both
// servers register on their own registry.
//
//	sxp_ledger_transfers_total{kind}          transfers committed, by the "kind" metadata
//	sxp_ledger_transfer_amount_total{kind}    their amounts, in minor units
//	sxp_ledger_refusals_total{code}           refusals, by ledger code
//	sxp_ledger_batch_size                     items per Batch call
//
// Labels are bounded: kind is one of the kinds given to New or "other", and
// code one of the ledger's codes or "other".
//
// The HTTP request metrics of both servers are in ledger/httpmetrics.
package ledgermetrics

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sxp-network/sxp/ledger"
)

// Codes are the ledger's refusal codes, each a value of the code label.
var Codes = []ledger.Code{
	ledger.CodeUnknownAccount, ledger.CodeCurrencyMismatch, ledger.CodeNonPositiveAmount,
	ledger.CodeSameAccount, ledger.CodeAccountFrozen, ledger.CodeOverLowerLimit,
	ledger.CodeOverUpperLimit, ledger.CodeIdempotencyConflict, ledger.CodePendingNotFound,
	ledger.CodePendingResolved, ledger.CodeGroupFailed, ledger.CodeDuplicateAccount,
	ledger.CodeLimitsExcludeBalance, ledger.CodeInvalid,
}

// Other is the label value of a kind or code not known in advance.
const Other = "other"

// Observer counts a ledger's transfers and refusals.
type Observer struct {
	kinds     []string
	transfers *prometheus.CounterVec
	amounts   *prometheus.CounterVec
	refusals  *prometheus.CounterVec
	batch     prometheus.Histogram
}

// New registers the ledger metrics on reg. kinds are the values of the
// transfers' "kind" metadata that get their own label value (the rest count
// as "other"); every kind and code starts at zero.
func New(reg prometheus.Registerer, kinds ...string) *Observer {
	o := &Observer{
		kinds: kinds,
		transfers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sxp_ledger_transfers_total",
			Help: "Transfers committed by the ledger, by the kind of payment they record.",
		}, []string{"kind"}),
		amounts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sxp_ledger_transfer_amount_total",
			Help: "Sum of the amounts of committed transfers, in minor units of their currency.",
		}, []string{"kind"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sxp_ledger_refusals_total",
			Help: "Ledger operations refused, by refusal code.",
		}, []string{"code"}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sxp_ledger_batch_size",
			Help:    "Items per ledger batch, committed (a single transfer is a batch of one).",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000},
		}),
	}
	reg.MustRegister(o.transfers, o.amounts, o.refusals, o.batch)
	for _, k := range append(slices.Clone(kinds), Other) {
		o.transfers.WithLabelValues(k)
		o.amounts.WithLabelValues(k)
	}
	for _, c := range Codes {
		o.refusals.WithLabelValues(string(c))
	}
	o.refusals.WithLabelValues(Other)
	return o
}

// Transferred counts a committed transfer.
func (o *Observer) Transferred(t ledger.Transfer) {
	k := t.Metadata["kind"]
	if !slices.Contains(o.kinds, k) {
		k = Other
	}
	o.transfers.WithLabelValues(k).Inc()
	o.amounts.WithLabelValues(k).Add(float64(t.Amount))
}

// Refused counts a refusal.
func (o *Observer) Refused(code ledger.Code) {
	c := string(code)
	if !slices.Contains(Codes, code) {
		c = Other
	}
	o.refusals.WithLabelValues(c).Inc()
}

// Batched records the size of a batch.
func (o *Observer) Batched(size int) { o.batch.Observe(float64(size)) }
