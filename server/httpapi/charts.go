package httpapi

import (
	"html/template"

	"github.com/sxp-network/sxp/ledger/chart"
	"github.com/sxp-network/sxp/server/payments"
)

// membersChart draws every member's balance against their limits (the
// admins' members page), as SVG drawn here: nothing is loaded from elsewhere.
func membersChart(rows []adminRow, cur payments.Currency) template.HTML {
	bars := make([]chart.Bar, 0, len(rows))
	for _, r := range rows {
		bars = append(bars, chart.Bar{Label: r.Member.Username, Balance: r.Account.Balance, Min: r.Account.Min, Max: r.Account.Max})
	}
	// chart escapes every label it writes.
	return template.HTML(chart.Limits(bars, cur.Format))
}
