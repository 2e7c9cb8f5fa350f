package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/clearing"
	"github.com/sxp-network/sxp/clearing/app"
)

func clearingCommand(stdout io.Writer) *command {
	return &command{
		name:    "clearing",
		summary: "run the clearing house of an intertrading circle (CXP API, admin API)",
		usage:   "sxp clearing [--listen 127.0.0.1:8080] [settings]",
		help: `Run the clearing house: the CXP Intertrading API 1.0 at the circle's base URL
(POST /server, GET /server/clients, GET and PUT /transactions), the admin API under
/admin/api (Authorization: Bearer SXP_ADMIN_TOKEN, or a token from 'sxp admin token
add'), /healthz, /readyz and /metrics. Background jobs ask payees again about
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
				cfg := app.Config{
					PublicURL: *public, Secret: *secret, AdminToken: *adminToken, MetricsToken: *metricsToken,
					RelayTimeout: *relayTimeout, HoldTTL: *holdTTL, MaintenanceInterval: *interval, ScheduleInterval: *schedule,
					CXPRate: float64(*cxpRate), CXPBurst: int(*cxpBurst), MaxBody: *maxBody,
				}
				if *parentURL != "" {
					if *public == "" {
						return usagef("nesting needs --public-url (SXP_PUBLIC_URL): this circle's uri at the parent")
					}
					cfg.Parent = &clearing.Parent{URL: *parentURL, CommunityID: *parentID, Key: *parentKey,
						CircleID: *parentCircle, Ticks: *parentRate, Divisions: int(*parentDiv)}
				}
				house, err := app.New(ctx, cfg, pool, logger)
				if err != nil {
					return err
				}
				ln, err := net.Listen("tcp", *listen)
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "clearing house of circle %s (%s) serving CXP at http://%s/\n", house.Circle.ID, house.Circle.Unit, ln.Addr())
				return house.Serve(ctx, ln)
			}
		},
	}
}
