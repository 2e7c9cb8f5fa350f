// Package app assembles a clearing house the way package server assembles
// a community server: New builds the ledger, the House, the metrics, the
// HTTP layer and the background jobs from a Config; Run serves until its
// context ends. cmd/sxp only parses settings and calls New and Run; tests
// build clearing houses through New too.
//
// It lives apart from package clearing because it imports the HTTP layer
// (clearing/httpapi), which imports clearing: dependencies point
// cmd → clearing/app → clearing/httpapi → clearing → ledger.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sxp-network/sxp/clearing"
	"github.com/sxp-network/sxp/clearing/httpapi"
	"github.com/sxp-network/sxp/clearing/metrics"
	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/ledger/jobs"
	"github.com/sxp-network/sxp/ledger/serve"
	"github.com/sxp-network/sxp/migrations"
)

// Config is a clearing house's settings (cmd/sxp reads each from a flag and
// an environment variable).
type Config struct {
	// PublicURL is the circle's base URL as communities call it; the signed
	// @target-uri is checked against it. Empty: http:// and the address
	// Run listens on.
	PublicURL string
	// Secret encrypts the communities' keys at rest (required).
	Secret string
	// AdminToken is the admin API's bearer token (optional).
	AdminToken string
	// MetricsToken, when set, is required by GET /metrics.
	MetricsToken string
	// RelayTimeout bounds a relay to a payee's server (default 10 s).
	RelayTimeout time.Duration
	// HoldTTL is a hold's deadline, extended while a payee's answer is unknown.
	HoldTTL time.Duration
	// MaintenanceInterval is how often pending intertrades are asked about
	// again and old nonces and events are pruned (default 30 s).
	MaintenanceInterval time.Duration
	// ScheduleInterval is how often the circle's schedule runs (declared
	// and floating rates, limit policy); 0 disables it.
	ScheduleInterval time.Duration
	// CXPRate and CXPBurst limit each community's CXP calls (0: no limit).
	CXPRate  float64
	CXPBurst int
	// MaxBody is the largest request body in bytes.
	MaxBody int64
	// Parent, when set, nests this circle in a parent circle (its URI
	// defaults to PublicURL, which nesting then requires).
	Parent *clearing.Parent
	// HTTP, when set, is the client of relays (tests); its transport is
	// wrapped to count relays.
	HTTP *http.Client
	// Now is the clock of the ledger, the house and the HTTP layer;
	// time.Now by default (tests move it).
	Now func() time.Time
	// HTTPOptions, when set, changes the HTTP layer's options before it is
	// built (tests replace the readiness check or the metrics handler).
	HTTPOptions func(*httpapi.Options)
}

// App is one clearing house.
type App struct {
	cfg  Config
	pool *pgxpool.Pool
	log  *slog.Logger

	House *clearing.House
	// Circle is the circle the database holds (sxp admin circle init).
	Circle clearing.Circle
	// Registry holds the clearing house's metrics, served on /metrics.
	Registry *prometheus.Registry
	// Jobs runs the background jobs while the clearing house serves.
	Jobs    *jobs.Runner
	metrics *metrics.Metrics
	handler http.Handler
}

// New checks the database (schema current, circle initialised, secret
// right), builds the clearing house on pool and, when cfg.Parent is set,
// connects it to its parent circle. It does not migrate.
func New(ctx context.Context, cfg Config, pool *pgxpool.Pool, logger *slog.Logger) (*App, error) {
	if cfg.Secret == "" {
		return nil, errors.New("clearing: no secret: it encrypts the communities' keys")
	}
	if logger == nil {
		logger = slog.Default()
	}
	if cfg.RelayTimeout <= 0 {
		cfg.RelayTimeout = 10 * time.Second
	}
	if cfg.MaintenanceInterval <= 0 {
		cfg.MaintenanceInterval = 30 * time.Second
	}
	a := &App{cfg: cfg, pool: pool, log: logger, Registry: prometheus.NewRegistry()}
	a.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.metrics = metrics.New(a.Registry, pool)
	lg := ledger.New(pool, ledger.Options{Observer: a.metrics.Ledger, Now: cfg.Now})
	client := cfg.HTTP
	if client == nil {
		client = &http.Client{Timeout: cfg.RelayTimeout}
	} else {
		c := *client
		client = &c
	}
	client.Transport = a.metrics.Relays.Transport(client.Transport)
	var err error
	a.House, err = clearing.New(pool, lg, clearing.Options{
		Secret: cfg.Secret, Now: cfg.Now, Logger: logger, RelayTimeout: cfg.RelayTimeout, HoldTTL: cfg.HoldTTL, HTTP: client,
	})
	if err != nil {
		return nil, err
	}
	a.Registry.MustRegister(metrics.NewCommunities(a.House, pool, logger))
	if cfg.Parent != nil {
		p := *cfg.Parent
		if p.URI == "" {
			p.URI = cfg.PublicURL
		}
		if p.URI == "" {
			return nil, errors.New("clearing: nesting needs the public URL (this circle's uri at the parent)")
		}
		if err := a.House.ConnectParent(ctx, p); err != nil {
			return nil, err
		}
	}
	if err := a.Ready(ctx); err != nil {
		return nil, fmt.Errorf("not ready: %w", err)
	}
	if a.Circle, err = a.House.Circle(ctx); err != nil {
		return nil, err
	}
	if err := a.House.CheckSecret(ctx); err != nil {
		return nil, err
	}
	a.Jobs = jobs.New(a.Registry, jobs.Options{Logger: logger}, a.jobs()...)
	if cfg.PublicURL != "" {
		a.handler = a.newHandler(cfg.PublicURL)
	}
	return a, nil
}

// jobs are the clearing house's background jobs. Recovery asks the payees
// of pending intertrades again (a hold is never expired while the payee's
// answer is unknown); monitoring compares the last day with the 30 days
// before it, so events are kept 90 days.
func (a *App) jobs() []jobs.Job {
	h, every := a.House, a.cfg.MaintenanceInterval
	return []jobs.Job{
		{Name: "clearing_recover", Every: every, Jitter: every / 10, Run: func(ctx context.Context) (int64, error) {
			n, err := h.Recover(ctx)
			return int64(n), err
		}},
		{Name: "clearing_prune_nonces", Every: every, Jitter: every / 10, Run: h.PruneNonces},
		{Name: "clearing_prune_events", Every: every, Jitter: every / 10, Run: func(ctx context.Context) (int64, error) {
			return h.PruneEvents(ctx, 90*24*time.Hour)
		}},
		{Name: "clearing_schedule", Every: a.cfg.ScheduleInterval, Run: func(ctx context.Context) (int64, error) {
			res, err := h.RunSchedule(ctx)
			if err == nil {
				a.log.Info("schedule ran", "rates_applied", res.RatesApplied, "rates_floated", res.RatesFloated,
					"limits_changed", res.LimitsChanged, "limits_skipped", res.LimitsSkipped)
			}
			return 0, err
		}},
	}
}

func (a *App) newHandler(publicURL string) http.Handler {
	opts := httpapi.Options{
		PublicURL: publicURL, AdminToken: a.cfg.AdminToken, MaxBody: a.cfg.MaxBody, Ready: a.Ready,
		CXPRate: a.cfg.CXPRate, CXPBurst: a.cfg.CXPBurst,
		Window:  time.Duration(a.Circle.SignatureWindow) * time.Second,
		Observe: a.metrics.HTTP.Observe, Logger: a.log, MetricsToken: a.cfg.MetricsToken,
		Metrics: promhttp.HandlerFor(a.Registry, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}),
		Now:     a.cfg.Now,
	}
	if a.cfg.HTTPOptions != nil {
		a.cfg.HTTPOptions(&opts)
	}
	return httpapi.New(a.House, opts).Handler()
}

// Ready reports whether the database is reachable and its schema current
// (migrations.Ready, the check both servers share).
func (a *App) Ready(ctx context.Context) error { return migrations.Ready(ctx, a.pool) }

// Handler is the HTTP handler of every route (for tests and embedding). It
// is nil until Serve when Config.PublicURL was empty.
func (a *App) Handler() http.Handler { return a.handler }

// Run serves on listen until ctx ends, then shuts down gracefully. The
// background jobs run alongside.
func (a *App) Run(ctx context.Context, listen string) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("clearing: listen: %w", err)
	}
	return a.Serve(ctx, ln)
}

// Serve is Run on a listener the caller opened.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	if a.handler == nil {
		// The signed @target-uri is checked against this, never against
		// the Host header a caller sends.
		a.handler = a.newHandler("http://" + ln.Addr().String())
	}
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      a.cfg.RelayTimeout + 20*time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	a.log.Info("clearing house listening", "addr", ln.Addr().String(), "circle", a.Circle.ID)
	defer a.House.Close()
	if err := serve.Run(ctx, srv, ln, 15*time.Second, a.Jobs.Run); err != nil {
		return fmt.Errorf("clearing: %w", err)
	}
	return nil
}
