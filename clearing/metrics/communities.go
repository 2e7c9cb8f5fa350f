package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sxp-network/sxp/clearing"
)

// Integrity states, the values of the state label (clearing.Community.IntegrityState).
const (
	IntegrityOK       = "ok"       // the community's last report agreed with the circle
	IntegrityMismatch = "mismatch" // it did not
	IntegrityUnknown  = "unknown"  // no report yet
)

// RelayFailureCodes are the CXP codes of an intertrade voided because of
// its relay: the payee's server refused the circle's signature (20), its
// limits (24) or the transaction (25), or could not be reached (26).
var RelayFailureCodes = []string{"20", "24", "25", "26"}

// Communities is a prometheus.Collector that reads every community's state
// from the database at each scrape, so the values are exact and survive
// restarts. Intertrade counts and volumes count posted intertrades only,
// which never change once posted, so they are counters. A scrape costs the
// communities' list (as the admin API reads it) and three aggregate
// queries over clearing_intertrades.
type Communities struct {
	house *clearing.House
	pool  *pgxpool.Pool
	log   *slog.Logger

	up, balance, limitMin, limitMax, headroom, pending, rate, blocked, integrity,
	handshake, reported, trades, volume, failures, open *prometheus.Desc
}

// NewCommunities returns the collector of the communities of house.
func NewCommunities(house *clearing.House, pool *pgxpool.Pool, log *slog.Logger) *Communities {
	if log == nil {
		log = slog.Default()
	}
	c := []string{"community"}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &Communities{
		house: house, pool: pool, log: log,
		up:        d("sxp_database_up", "1 when the values read from the database at this scrape are complete, 0 when a query failed."),
		balance:   d("sxp_clearing_community_balance", "Balance of the community's virtual customer account, in minor base units (negative: it imported more than it exported).", c...),
		limitMin:  d("sxp_clearing_community_limit_min", "Lower balance limit of the community, in minor base units.", c...),
		limitMax:  d("sxp_clearing_community_limit_max", "Upper balance limit of the community, in minor base units.", c...),
		headroom:  d("sxp_clearing_community_headroom", "How much more the community can import (direction=spend) or export (direction=earn) now, in minor base units.", "community", "direction"),
		pending:   d("sxp_clearing_community_pending", "Amounts held by pending intertrades of the community, in minor base units, by direction (debit, credit).", "community", "direction"),
		rate:      d("sxp_clearing_community_rate", "Exchange rate in force: base units per unit of the community's currency.", c...),
		blocked:   d("sxp_clearing_community_blocked", "1 when the community is blocked from trading, 0 when trading.", c...),
		integrity: d("sxp_clearing_community_integrity", "1 for the community's integrity state (ok, mismatch, unknown), 0 for the others.", "community", "state"),
		handshake: d("sxp_clearing_community_last_handshake_timestamp_seconds", "Unix time of the community's last handshake; absent before the first.", c...),
		reported:  d("sxp_clearing_community_reported_balance", "The community's own view of its import/export balance at its last prepare, in minor base units; 0 before the first.", c...),
		trades:    d("sxp_clearing_intertrades_total", "Posted intertrades, by community and direction (out: it paid, in: it was paid).", "community", "direction"),
		volume:    d("sxp_clearing_intertrade_volume_total", "Sum of posted intertrades' quantities, in minor base units, by community and direction.", "community", "direction"),
		failures:  d("sxp_clearing_intertrade_failures_total", "Intertrades voided or expired, by paying community and CXP result code (e.g. 20, 24, 25, 26: the relay failed or the payee refused).", "community", "code"),
		open:      d("sxp_clearing_intertrades_pending", "Intertrades written and waiting for the payee's server."),
	}
}

// Describe sends every descriptor.
func (m *Communities) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.up, m.balance, m.limitMin, m.limitMax, m.headroom, m.pending, m.rate,
		m.blocked, m.integrity, m.handshake, m.reported, m.trades, m.volume, m.failures, m.open} {
		ch <- d
	}
}

// Collect reads the communities and their intertrades.
func (m *Communities) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	up := 1.0
	if err := m.collect(ctx, ch); err != nil {
		m.log.Error("metrics: reading the communities", "err", err)
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(m.up, prometheus.GaugeValue, up)
}

func (m *Communities) collect(ctx context.Context, ch chan<- prometheus.Metric) error {
	list, err := m.house.Communities(ctx)
	if err != nil {
		return err
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	known := map[string]bool{}
	for _, c := range list {
		known[c.ID] = true
		gauge(m.balance, float64(c.Balance), c.ID)
		gauge(m.limitMin, float64(c.Min), c.ID)
		gauge(m.limitMax, float64(c.Max), c.ID)
		gauge(m.headroom, float64(c.SpendHeadroom()), c.ID, "spend")
		gauge(m.headroom, float64(c.EarnHeadroom()), c.ID, "earn")
		gauge(m.pending, float64(c.PendingDebits), c.ID, "debit")
		gauge(m.pending, float64(c.PendingCredits), c.ID, "credit")
		if r, err := strconv.ParseFloat(c.Ticks, 64); err == nil {
			gauge(m.rate, r, c.ID)
		}
		gauge(m.blocked, b2f(c.Status == clearing.StatusBlocked), c.ID)
		state := c.IntegrityState()
		for _, s := range []string{IntegrityOK, IntegrityMismatch, IntegrityUnknown} {
			gauge(m.integrity, b2f(s == state), c.ID, s)
		}
		if c.LastHandshakeAt != nil {
			gauge(m.handshake, float64(c.LastHandshakeAt.UnixMilli())/1000, c.ID)
		}
		var reported int64 // 0 until the first report, so the series exists from the start
		if c.ReportedBalance != nil {
			reported = *c.ReportedBalance
		}
		gauge(m.reported, float64(reported), c.ID)
	}
	return m.collectIntertrades(ctx, ch, known)
}

func (m *Communities) collectIntertrades(ctx context.Context, ch chan<- prometheus.Metric, known map[string]bool) error {
	type flow struct{ count, volume int64 }
	flows := map[[2]string]flow{}
	rows, err := m.pool.Query(ctx, `
		SELECT payer_community, 'out', count(*), sum(quantity) FROM clearing_intertrades WHERE status = 'posted' GROUP BY payer_community
		UNION ALL
		SELECT payee_community, 'in', count(*), sum(quantity) FROM clearing_intertrades WHERE status = 'posted' GROUP BY payee_community`)
	if err != nil {
		return fmt.Errorf("metrics: intertrades: %w", err)
	}
	var id, dir string
	var f flow
	if _, err := pgx.ForEachRow(rows, []any{&id, &dir, &f.count, &f.volume}, func() error {
		flows[[2]string{id, dir}] = f
		return nil
	}); err != nil {
		return fmt.Errorf("metrics: intertrades: %w", err)
	}
	for id := range known { // every community has both series, zero until it trades
		for _, dir := range []string{"out", "in"} {
			f := flows[[2]string{id, dir}]
			ch <- prometheus.MustNewConstMetric(m.trades, prometheus.CounterValue, float64(f.count), id, dir)
			ch <- prometheus.MustNewConstMetric(m.volume, prometheus.CounterValue, float64(f.volume), id, dir)
		}
	}

	rows, err = m.pool.Query(ctx, `
		SELECT payer_community, result_code, count(*) FROM clearing_intertrades
		WHERE status IN ('voided', 'expired') GROUP BY payer_community, result_code`)
	if err != nil {
		return fmt.Errorf("metrics: failed intertrades: %w", err)
	}
	// Every community has a series for each relay failure code from the
	// start, zero until it happens, so that rate() and alerts see the first one.
	failed := map[[2]string]int64{}
	for id := range known {
		for _, code := range RelayFailureCodes {
			failed[[2]string{id, code}] = 0
		}
	}
	var code, n int64
	if _, err := pgx.ForEachRow(rows, []any{&id, &code, &n}, func() error {
		failed[[2]string{id, strconv.FormatInt(code, 10)}] += n
		return nil
	}); err != nil {
		return fmt.Errorf("metrics: failed intertrades: %w", err)
	}
	for k, n := range failed {
		ch <- prometheus.MustNewConstMetric(m.failures, prometheus.CounterValue, float64(n), k[0], k[1])
	}

	var open int64
	if err := m.pool.QueryRow(ctx, `SELECT count(*) FROM clearing_intertrades WHERE status = 'pending'`).Scan(&open); err != nil {
		return fmt.Errorf("metrics: pending intertrades: %w", err)
	}
	ch <- prometheus.MustNewConstMetric(m.open, prometheus.GaugeValue, float64(open))
	return nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
