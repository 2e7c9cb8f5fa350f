package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/server/intertrade"
)

// Community is a prometheus.Collector that reads the community's members,
// intertrades, import/export account and its last integrity check and
// handshake with the circle from the database at each scrape.
type Community struct {
	pool   *pgxpool.Pool
	ledger *ledger.Ledger
	log    *slog.Logger

	up, members, trades, volume, amount, pending, importExport,
	integrity, checkedAt, handshakeOK, handshakeAt *prometheus.Desc
}

// Member statuses, intertrade directions and results: the label values.
var (
	memberStatuses = []string{"pending", "active", "blocked"}
	directions     = []string{"out", "in"}
)

// NewCommunity returns the collector of the community on pool.
func NewCommunity(pool *pgxpool.Pool, lg *ledger.Ledger, log *slog.Logger) *Community {
	if log == nil {
		log = slog.Default()
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &Community{
		pool: pool, ledger: lg, log: log,
		up:           d("sxp_database_up", "1 when the values read from the database at this scrape are complete, 0 when a query failed."),
		members:      d("sxp_community_members", "Members, by status (pending, active, blocked).", "status"),
		trades:       d("sxp_community_intertrades_total", "Intertrades that ended, by direction (out: a member paid another community, in: a member was paid) and result (completed, failed).", "direction", "result"),
		volume:       d("sxp_community_intertrade_volume_total", "Sum of completed intertrades' quantities, in base units of the circle, by direction.", "direction"),
		amount:       d("sxp_community_intertrade_amount_total", "Sum of completed intertrades' local amounts, in minor units of the community's currency, by direction.", "direction"),
		pending:      d("sxp_community_intertrades_pending", "Intertrades waiting for the circle's answer, by direction.", "direction"),
		importExport: d("sxp_community_import_export_balance", "Balance of the import/export account, in minor units of the community's currency; absent until the community joins a circle."),
		integrity:    d("sxp_community_integrity", "1 for the state of the last integrity check with the circle (ok, mismatch, unknown), 0 for the others.", "state"),
		checkedAt:    d("sxp_community_integrity_last_check_timestamp_seconds", "Unix time of the last integrity check with the circle; 0 before the first."),
		handshakeOK:  d("sxp_community_circle_handshake_ok", "1 when the last handshake with the circle succeeded, 0 when it failed; absent before the first."),
		handshakeAt:  d("sxp_community_circle_last_handshake_timestamp_seconds", "Unix time of the last handshake attempt with the circle; absent before the first."),
	}
}

// Describe sends every descriptor.
func (m *Community) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.up, m.members, m.trades, m.volume, m.amount, m.pending,
		m.importExport, m.integrity, m.checkedAt, m.handshakeOK, m.handshakeAt} {
		ch <- d
	}
}

// Collect reads the community's state.
func (m *Community) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	up := 1.0
	if err := m.collect(ctx, ch); err != nil {
		m.log.Error("metrics: reading the community", "err", err)
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(m.up, prometheus.GaugeValue, up)
}

func (m *Community) collect(ctx context.Context, ch chan<- prometheus.Metric) error {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}

	counts := map[string]int64{}
	rows, err := m.pool.Query(ctx, `SELECT status, count(*) FROM members GROUP BY status`)
	if err != nil {
		return fmt.Errorf("metrics: members: %w", err)
	}
	var status string
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&status, &n}, func() error { counts[status] = n; return nil }); err != nil {
		return fmt.Errorf("metrics: members: %w", err)
	}
	for _, s := range memberStatuses {
		gauge(m.members, float64(counts[s]), s)
	}

	type agg struct {
		count    int64
		quantity float64
		amount   int64
	}
	aggs := map[[2]string]agg{}
	rows, err = m.pool.Query(ctx, `
		SELECT direction, state, count(*), COALESCE(sum(quantity), 0)::float8, COALESCE(sum(amount), 0)
		FROM intertrades GROUP BY direction, state`)
	if err != nil {
		return fmt.Errorf("metrics: intertrades: %w", err)
	}
	var dir, state string
	var a agg
	if _, err := pgx.ForEachRow(rows, []any{&dir, &state, &a.count, &a.quantity, &a.amount}, func() error {
		aggs[[2]string{dir, state}] = a
		return nil
	}); err != nil {
		return fmt.Errorf("metrics: intertrades: %w", err)
	}
	for _, d := range directions {
		done := aggs[[2]string{d, "completed"}]
		counter(m.trades, float64(done.count), d, "completed")
		counter(m.trades, float64(aggs[[2]string{d, "failed"}].count), d, "failed")
		counter(m.volume, done.quantity, d)
		counter(m.amount, float64(done.amount), d)
		gauge(m.pending, float64(aggs[[2]string{d, "pending"}].count), d)
	}

	acc, err := m.ledger.AccountByCode(ctx, intertrade.ImportExportCode)
	switch {
	case err == nil:
		gauge(m.importExport, float64(acc.Balance))
	case ledger.CodeOf(err) != ledger.CodeUnknownAccount:
		return fmt.Errorf("metrics: import/export account: %w", err)
	}

	state = "unknown"
	var ok bool
	var at time.Time
	err = m.pool.QueryRow(ctx, `SELECT ok, at FROM intertrade_integrity_checks ORDER BY id DESC LIMIT 1`).Scan(&ok, &at)
	switch {
	case err == nil:
		state = "mismatch"
		if ok {
			state = "ok"
		}
	case errors.Is(err, pgx.ErrNoRows):
		at = time.Unix(0, 0) // never checked: the series exists from the start, at 0
	default:
		return fmt.Errorf("metrics: integrity: %w", err)
	}
	gauge(m.checkedAt, float64(at.UnixMilli())/1000)
	for _, s := range []string{"ok", "mismatch", "unknown"} {
		gauge(m.integrity, b2f(s == state), s)
	}

	err = m.pool.QueryRow(ctx, `SELECT ok, at FROM intertrade_handshakes ORDER BY id DESC LIMIT 1`).Scan(&ok, &at)
	switch {
	case err == nil:
		gauge(m.handshakeOK, b2f(ok))
		gauge(m.handshakeAt, float64(at.UnixMilli())/1000)
	case !errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("metrics: handshake: %w", err)
	}
	return nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
