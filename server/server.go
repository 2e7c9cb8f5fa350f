// Package server is the community server: it builds the ledger, the
// domain services (members, payments, announcements, intertrading) and the
// HTTP layer from a Config, and runs them until its context ends.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/ledger/jobs"
	"github.com/sxp-network/sxp/ledger/ratelimit"
	"github.com/sxp-network/sxp/ledger/serve"
	"github.com/sxp-network/sxp/migrations"
	"github.com/sxp-network/sxp/server/announce"
	"github.com/sxp-network/sxp/server/deals"
	"github.com/sxp-network/sxp/server/federation"
	"github.com/sxp-network/sxp/server/httpapi"
	"github.com/sxp-network/sxp/server/intertrade"
	"github.com/sxp-network/sxp/server/members"
	"github.com/sxp-network/sxp/server/metrics"
	"github.com/sxp-network/sxp/server/payments"
)

// Each active peer may make PeerRate signed federation requests a second
// on average and PeerBurst at once (deliveries are batches of up to 100
// events, so this is far above what a healthy peer needs); beyond that it
// gets 429 with Retry-After, and its outbox retries later.
const (
	PeerRate  = 50
	PeerBurst = 200
)

// Server is one community server.
type Server struct {
	cfg  Config
	pool *pgxpool.Pool
	log  *slog.Logger

	Ledger        *ledger.Ledger
	Members       *members.Service
	Payments      *payments.Service
	Announcements *announce.Service
	Intertrade    *intertrade.Service // nil when the community runs alone
	Federation    *federation.Service
	Deals         *deals.Service // the market: rounds and proposals
	Handlers      *httpapi.Handlers
	// Jobs runs the background jobs (session pruning; with a circle, the
	// intertrading jobs) while the server serves.
	Jobs *jobs.Runner
	// Registry holds the server's metrics, served on /metrics.
	Registry *prometheus.Registry
	handler  http.Handler
	group    *ledger.Committer // local payments' group commit; closed when Serve returns
}

// New validates cfg and builds the services on pool. It does not migrate:
// run `sxp migrate up` first (/readyz reports a schema that is behind).
func New(ctx context.Context, cfg Config, pool *pgxpool.Pool, logger *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	min, max, _ := cfg.Limits()
	s := &Server{cfg: cfg, pool: pool, log: logger, Registry: prometheus.NewRegistry()}
	s.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(s.Registry)
	s.Ledger = ledger.New(pool, ledger.Options{Observer: m.Ledger})
	s.Registry.MustRegister(metrics.NewCommunity(pool, s.Ledger, logger))
	s.Members = members.New(pool, s.Ledger, members.Options{
		Currency: cfg.Currency, Community: cfg.CommunityID, DefaultMin: min, DefaultMax: max,
		Approval: cfg.Registration == RegistrationApproval, MaxHashing: cfg.HashConcurrency,
	})
	if err := s.Members.CheckCurrency(ctx); err != nil {
		return nil, fmt.Errorf("setting SXP_CURRENCY (--currency): %w", err)
	}
	s.Payments = payments.New(pool, s.Ledger, s.Members, cfg.Money(), nil)
	// Local payments share commits (group commit): the hot accounts stop
	// serialising every payment on their row lock and a WAL flush each.
	s.group = s.Ledger.NewCommitter(ledger.CommitterOptions{})
	s.Payments.UseGroupCommit(s.group)
	var err error
	var fed *federation.Service // made below: it needs the announcements' search language
	s.Announcements, err = announce.New(ctx, pool, announce.Config{Language: cfg.SearchLanguage, Logger: logger,
		Publish:         func(ctx context.Context, tx pgx.Tx, id int64) error { return fed.Publish(ctx, tx, id) },
		PublishWantList: func(ctx context.Context, tx pgx.Tx, id int64) error { return fed.PublishWantList(ctx, tx, id) },
		BaseURL:         cfg.PublicURL})
	if err != nil {
		return nil, fmt.Errorf("server: announcements: %w", err)
	}
	fed, err = NewFederation(cfg, pool, s.Announcements.Language(), logger, s.Registry)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if err := fed.EnsureKey(ctx); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.Federation = fed
	s.Deals = NewDealsSending(cfg, pool, fed, logger)
	if cfg.InCircle() {
		s.Intertrade, err = intertrade.New(pool, s.Ledger, s.Members, intertrade.Config{
			CircleURL: cfg.CircleURL, CircleID: cfg.CircleID, CommunityID: cfg.CommunityID, Key: cfg.CircleKey,
			Rate: cfg.Rate, PublicURL: cfg.PublicURL, Currency: cfg.Currency, Divisions: cfg.CurrencyDivisions,
			Interval: cfg.HandshakeInterval, Timeout: cfg.CircleTimeout,
		}, intertrade.Options{Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
	}
	var inter httpapi.Intertrading = intertrade.Alone{} // running alone says so
	if s.Intertrade != nil {
		inter = s.Intertrade
	}
	s.Handlers = &httpapi.Handlers{
		Community: httpapi.Community{ID: cfg.CommunityID, Name: cfg.CommunityName, Currency: cfg.Money(),
			PublicURL: cfg.PublicURL, Registration: cfg.Registration},
		Members:        s.Members,
		Payments:       s.Payments,
		Announcements:  s.Announcements,
		Intertrade:     inter,
		Federation:     s.Federation,
		PeerLimit:      ratelimit.New(PeerRate, PeerBurst),
		Deals:          s.Deals,
		Ready:          s.Ready,
		Metrics:        m.HTTP,
		MetricsHandler: promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}),
		MetricsToken:   cfg.MetricsToken,
		Logger:         logger,
		SecureCookies:  strings.HasPrefix(cfg.PublicURL, "https://"),
	}
	s.handler = s.Handlers.Engine()
	s.Jobs = jobs.New(s.Registry, jobs.Options{Logger: logger},
		jobs.Job{Name: "prune_sessions", Every: time.Hour, Jitter: time.Minute, Run: s.Members.PruneSessions})
	if s.Intertrade != nil {
		s.Jobs.Add(s.Intertrade.Jobs()...)
	}
	return s, nil
}

// NewFederation builds the federation service of cfg (also for the command
// line: 'sxp peers', 'sxp keys'); reg may be nil.
func NewFederation(cfg Config, pool *pgxpool.Pool, language string, logger *slog.Logger, reg prometheus.Registerer) (*federation.Service, error) {
	fc := federation.Config{BaseURL: cfg.PublicURL, ID: cfg.CommunityID, Name: cfg.CommunityName, Currency: cfg.Money(),
		Language: language, Secret: cfg.FederationSecret, Logger: logger, Registerer: reg, Timeout: cfg.FederationTimeout,
		Delivery: federation.Delivery{RetryBase: cfg.FederationRetry, PullInterval: cfg.FederationPull}}
	if cfg.InCircle() {
		fc.CircleID, fc.CircleURL = cfg.CircleID, cfg.CircleURL
	}
	if cfg.FederationTrace != "" {
		tr, err := federation.NewTraceTransport(cfg.FederationTrace, nil)
		if err != nil {
			return nil, err
		}
		fc.Transport = tr
	}
	return federation.New(pool, fc)
}

// Handler is the HTTP handler of every route (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.handler }

// Ready reports whether the database is reachable and its schema current
// (migrations.Ready, the check both servers share).
func (s *Server) Ready(ctx context.Context) error { return migrations.Ready(ctx, s.pool) }

// Run serves on listen until ctx ends, then shuts down gracefully. Background
// jobs (intertrading handshakes and checks, session pruning) run alongside.
func (s *Server) Run(ctx context.Context, listen string) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("server: listen: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on a listener the caller opened.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if s.Intertrade != nil {
		if err := s.Intertrade.Start(ctx); err != nil {
			ln.Close()
			return fmt.Errorf("server: intertrading: %w", err)
		}
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		// Requests in flight finish during shutdown: their context is not
		// cancelled with ctx (Shutdown waits for them, up to its timeout).
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	s.log.Info("community server listening", "addr", ln.Addr().String(), "community", s.cfg.CommunityID,
		"currency", s.cfg.Currency, "circle", s.cfg.CircleURL)
	err := serve.Run(ctx, srv, ln, 10*time.Second, func(ctx context.Context) {
		// Federation delivery keeps a worker per peer (woken by its
		// outbox), beside the periodic jobs.
		fed := make(chan struct{})
		go func() {
			defer close(fed)
			s.Federation.Run(ctx)
		}()
		s.Jobs.Run(ctx)
		<-fed
	})
	s.group.Close()
	if s.Intertrade != nil {
		s.Intertrade.Close()
	}
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.log.Info("community server stopped")
	return nil
}

// NewDeals returns the market's deals service (rounds and proposals) of the
// community server configured by cfg, on pool.
func NewDeals(cfg Config, pool *pgxpool.Pool) *deals.Service {
	return NewDealsSending(cfg, pool, nil, nil)
}

// NewDealsSending is NewDeals sending each proposal to the other parties'
// home servers through fed (nil: not sent).
func NewDealsSending(cfg Config, pool *pgxpool.Pool, fed *federation.Service, logger *slog.Logger) *deals.Service {
	dc := deals.Config{BaseURL: cfg.PublicURL, CommunityID: cfg.CommunityID,
		Currency: cfg.Currency, Divisions: cfg.CurrencyDivisions, Logger: logger}
	if fed != nil {
		dc.Send = fed.Post
	}
	return deals.New(pool, dc)
}
