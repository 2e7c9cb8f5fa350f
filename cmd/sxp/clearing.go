package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sxp-network/sxp/clearing"
	"github.com/sxp-network/sxp/clearing/httpapi"
	"github.com/sxp-network/sxp/clearing/metrics"
	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/migrations"
)

func clearingCommand(stdout io.Writer) *command {
	return &command{
		name:    "clearing",
		summary: "run the clearing house of an intertrading circle (CXP API, admin API)",
		usage:   "sxp clearing [--listen 127.0.0.1:8080] [settings]",
		help: `Run the clearing house: the CXP Intertrading API 1.0 at the circle's base URL
(POST /server, GET /server/clients, GET and PUT /transactions), the admin API under
/admin/api (Authorization: Bearer SXP_ADMIN_TOKEN, or a token from 'sxp admin token
add'), /healthz, /readyz and /metrics. A background loop asks payees again about
pending intertrades whose answer is unknown (never letting their holds expire), prunes
nonces and runs the circle's schedule (declared rates, floating rates, limit policy).
Run 'sxp migrate up' and 'sxp admin circle init' on its database first.`,
		flags: func(fs *flag.FlagSet) func(context.Context, []string) error {
			db := envDatabase(fs, "database", "DATABASE_URL", "PostgreSQL URL of the clearing house's database")
			listen := envString(fs, "listen", "SXP_LISTEN", "127.0.0.1:8080", "address to serve on")
			public := envString(fs, "public-url", "SXP_PUBLIC_URL", "", "the circle's base URL as communities call it (default http://LISTEN)")
			secret := envSecret(fs, "secret", "SXP_CLEARING_SECRET", "server secret that encrypts the communities' keys at rest (required)")
			adminToken := envSecret(fs, "admin-token", "SXP_ADMIN_TOKEN", "bearer token of the admin API (optional; see 'sxp admin token add')")
			relayTimeout := envDuration(fs, "relay-timeout", "SXP_RELAY_TIMEOUT", 10*time.Second, "how long a relay to a payee's server may take")
			holdTTL := envDuration(fs, "hold-ttl", "SXP_HOLD_TTL", 5*time.Minute, "the deadline of a hold; extended, never expired, while the payee's answer is unknown")
			interval := envDuration(fs, "maintenance-interval", "SXP_MAINTENANCE_INTERVAL", 30*time.Second, "how often pending intertrades are asked about again and old nonces are pruned")
			schedule := envDuration(fs, "schedule-interval", "SXP_SCHEDULE_INTERVAL", 24*time.Hour, "how often the circle's schedule runs (declared and floating rates, limit policy); 0 disables it")
			metricsToken := envSecret(fs, "metrics-token", "SXP_METRICS_TOKEN", "bearer token that GET /metrics requires (optional; without it /metrics is open)")
			cxpRate := envInt64(fs, "cxp-rate", "SXP_CXP_RATE", 1000, "CXP calls a second each community may make on average (the excess gets 429); 0: no limit")
			cxpBurst := envInt64(fs, "cxp-burst", "SXP_CXP_BURST", 2000, "CXP calls each community may make at once before --cxp-rate applies")
			maxBody := envInt64(fs, "max-body", "SXP_MAX_BODY", 64<<10, "largest request body in bytes")
			parentURL := envString(fs, "parent-url", "SXP_PARENT_URL", "", "nesting: the parent circle's base URL (this circle is one of its communities)")
			parentID := envString(fs, "parent-community-id", "SXP_PARENT_COMMUNITY_ID", "", "nesting: this circle's community id at the parent")
			parentKey := envSecret(fs, "parent-key", "SXP_PARENT_KEY", "nesting: the key the parent's admins issued to this circle")
			parentCircle := envString(fs, "parent-circle-id", "SXP_PARENT_CIRCLE_ID", "", "nesting: the parent circle's id (keyid of its relays)")
			parentRate := envString(fs, "parent-rate", "SXP_PARENT_RATE", "", "nesting: parent base units per base unit of this circle")
			parentDiv := envInt64(fs, "parent-divisions", "SXP_PARENT_DIVISIONS", 2, "nesting: decimal places of the parent's base unit")
			servePprof := pprofFlag(fs)
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected arguments %q", args)
				}
				if *db == "" {
					return usagef("set DATABASE_URL or --database")
				}
				if *cxpRate < 0 || *cxpBurst < 0 {
					return usagef("--cxp-rate (SXP_CXP_RATE) and --cxp-burst (SXP_CXP_BURST) must be zero or more")
				}
				if *secret == "" {
					return usagef("set SXP_CLEARING_SECRET or --secret (it encrypts the communities' keys)")
				}
				logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
				pool, err := pgxpool.New(ctx, *db)
				if err != nil {
					return fmt.Errorf("setting DATABASE_URL (--database): %w", err)
				}
				defer pool.Close()
				if err := servePprof(ctx, logger); err != nil {
					return err
				}

				reg := prometheus.NewRegistry()
				reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
				m := metrics.New(reg, pool)
				lg := ledger.New(pool, ledger.Options{Observer: m.Ledger})
				house, err := clearing.New(pool, lg, clearing.Options{
					Secret: *secret, Logger: logger, RelayTimeout: *relayTimeout, HoldTTL: *holdTTL,
					HTTP: &http.Client{Timeout: *relayTimeout, Transport: m.Relays.Transport(nil)},
				})
				if err != nil {
					return err
				}
				reg.MustRegister(metrics.NewCommunities(house, pool, logger))
				if *parentURL != "" {
					uri := *public
					if uri == "" {
						return usagef("nesting needs --public-url (SXP_PUBLIC_URL): this circle's uri at the parent")
					}
					if err := house.ConnectParent(ctx, clearing.Parent{URL: *parentURL, CommunityID: *parentID, Key: *parentKey,
						CircleID: *parentCircle, URI: uri, Ticks: *parentRate, Divisions: int(*parentDiv)}); err != nil {
						return err
					}
				}
				ready := func(ctx context.Context) error { return schemaCurrent(ctx, pool) }
				if err := ready(ctx); err != nil {
					return fmt.Errorf("not ready: %w", err)
				}
				circle, err := house.Circle(ctx)
				if err != nil {
					return err
				}
				if err := house.CheckSecret(ctx); err != nil {
					return err
				}
				ln, err := net.Listen("tcp", *listen)
				if err != nil {
					return err
				}
				defer ln.Close()
				publicURL := *public
				if publicURL == "" {
					// The signed @target-uri is checked against this, never
					// against the Host header a caller sends.
					publicURL = "http://" + ln.Addr().String()
				}
				api := httpapi.New(house, httpapi.Options{
					PublicURL: publicURL, AdminToken: *adminToken, MaxBody: *maxBody, Ready: ready,
					CXPRate: float64(*cxpRate), CXPBurst: int(*cxpBurst),
					Window:  time.Duration(circle.SignatureWindow) * time.Second,
					Observe: m.HTTP.Observe, Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), MetricsToken: *metricsToken,
					Logger: logger,
				})
				srv := &http.Server{
					Handler:           api.Handler(),
					ReadHeaderTimeout: 5 * time.Second,
					ReadTimeout:       15 * time.Second,
					WriteTimeout:      *relayTimeout + 20*time.Second,
					IdleTimeout:       2 * time.Minute,
					ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
				}
				loopCtx, stopLoop := context.WithCancel(ctx)
				loopDone := make(chan struct{})
				go func() {
					defer close(loopDone)
					maintain(loopCtx, house, logger, *interval, *schedule)
				}()
				defer func() { stopLoop(); <-loopDone }()

				fmt.Fprintf(stdout, "clearing house of circle %s (%s) serving CXP at http://%s/\n", circle.ID, circle.Unit, ln.Addr())
				errc := make(chan error, 1)
				go func() { errc <- srv.Serve(ln) }()
				select {
				case err := <-errc:
					return err
				case <-ctx.Done():
				}
				logger.Info("shutting down")
				sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				defer cancel()
				if err := srv.Shutdown(sctx); err != nil {
					return fmt.Errorf("shutdown: %w", err)
				}
				if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
					return err
				}
				return nil
			}
		},
	}
}

// maintain is the clearing house's background loop: every interval it asks
// the payees of pending intertrades again (House.Recover: a hold is never
// expired while the payee's answer is unknown) and prunes old nonces; every
// schedule it runs the circle's schedule. It returns when ctx ends.
func maintain(ctx context.Context, house *clearing.House, log *slog.Logger, interval, schedule time.Duration) {
	if interval <= 0 {
		interval = 30 * time.Second
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var sched <-chan time.Time
	if schedule > 0 {
		t := time.NewTicker(schedule)
		defer t.Stop()
		sched = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if n, err := house.Recover(ctx); err != nil {
				log.Warn("recover pending intertrades", "err", err)
			} else if n > 0 {
				log.Info("settled pending intertrades", "count", n)
			}
			if _, err := house.PruneNonces(ctx); err != nil {
				log.Warn("prune nonces", "err", err)
			}
			// Monitoring compares the last day with the 30 days before it.
			if _, err := house.PruneEvents(ctx, 90*24*time.Hour); err != nil {
				log.Warn("prune events", "err", err)
			}
		case <-sched:
			res, err := house.RunSchedule(ctx)
			if err != nil {
				log.Warn("schedule", "err", err)
				continue
			}
			log.Info("schedule ran", "rates_applied", res.RatesApplied, "rates_floated", res.RatesFloated,
				"limits_changed", res.LimitsChanged, "limits_skipped", res.LimitsSkipped)
		}
	}
}

// schemaCurrent checks that the database's migrations are at this binary's latest.
func schemaCurrent(ctx context.Context, pool *pgxpool.Pool) error {
	var v int64
	var dirty bool
	if err := pool.QueryRow(ctx, `SELECT version, dirty FROM schema_migrations`).Scan(&v, &dirty); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
			return fmt.Errorf("no schema: run sxp migrate up")
		}
		return fmt.Errorf("database: %w", err)
	}
	if dirty || uint(v) != migrations.Latest() {
		return fmt.Errorf("schema at version %d (dirty=%v), want %d: run sxp migrate up", v, dirty, migrations.Latest())
	}
	return nil
}
