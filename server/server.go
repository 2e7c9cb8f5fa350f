// Package server is the community server: it builds the ledger, the
// domain services (members, payments, announcements, intertrading) and the
// HTTP layer from a Config, and runs them until its context ends.
package server

import (
	"context"
	"crypto/ed25519"
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

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/ledger/jobs"
	"github.com/sxp-network/sxp/ledger/ratelimit"
	"github.com/sxp-network/sxp/ledger/serve"
	"github.com/sxp-network/sxp/migrations"
	"github.com/sxp-network/sxp/server/announce"
	"github.com/sxp-network/sxp/server/contracts"
	"github.com/sxp-network/sxp/server/deals"
	"github.com/sxp-network/sxp/server/federation"
	"github.com/sxp-network/sxp/server/httpapi"
	"github.com/sxp-network/sxp/server/intertrade"
	"github.com/sxp-network/sxp/server/mail"
	"github.com/sxp-network/sxp/server/memberkeys"
	"github.com/sxp-network/sxp/server/members"
	"github.com/sxp-network/sxp/server/messages"
	"github.com/sxp-network/sxp/server/metrics"
	"github.com/sxp-network/sxp/server/payments"
	"github.com/sxp-network/sxp/server/people"
	"github.com/sxp-network/sxp/server/pictures"
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
	// Circle is the community's intertrading: alone, or in the circle of its
	// settings or of an approved request to join (it switches while serving).
	Circle *intertrade.Switch
	// Join asks a circle to let the community join, from its admin pages.
	Join       *intertrade.Joiner
	Federation *federation.Service
	Deals      *deals.Service    // the market: rounds and proposals
	Keys       *memberkeys.Store // the members' contract keys
	Mail       *mail.Service     // e-mail; off (Enabled false) without SMTP settings
	Pictures   *pictures.Service
	Messages   *messages.Service
	People     *people.Directory
	// Contracts signs the contracts of ready proposals for this server's
	// members and settles them (its worker runs while the server serves).
	Contracts *contracts.Service
	Handlers  *httpapi.Handlers
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
	newcomer, _ := cfg.Newcomer()
	s := &Server{cfg: cfg, pool: pool, log: logger, Registry: prometheus.NewRegistry()}
	s.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(s.Registry)
	s.Ledger = ledger.New(pool, ledger.Options{Observer: m.Ledger})
	s.Registry.MustRegister(metrics.NewCommunity(pool, s.Ledger, logger))
	var err error
	if s.Keys, err = NewMemberKeys(ctx, cfg, pool, logger); err != nil {
		return nil, err
	}
	s.Members = members.New(pool, s.Ledger, members.Options{
		Currency: cfg.Currency, Community: cfg.CommunityID, DefaultMin: min, DefaultMax: max, Newcomer: newcomer,
		Approval: cfg.Registration == RegistrationApproval, MaxHashing: cfg.HashConcurrency,
		Created: s.Keys.Make, // a new member's contract key, in the registration's transaction
	})
	if err := s.Members.CheckCurrency(ctx); err != nil {
		return nil, fmt.Errorf("setting SXP_CURRENCY (--currency): %w", err)
	}
	s.Payments = payments.New(pool, s.Ledger, s.Members, cfg.Money(), nil)
	// Local payments share commits (group commit): the hot accounts stop
	// serialising every payment on their row lock and a WAL flush each.
	s.group = s.Ledger.NewCommitter(ledger.CommitterOptions{})
	s.Payments.UseGroupCommit(s.group)
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
	s.Keys.OnChange(fed.PublishMemberWantLists) // want lists carry the member's key
	s.Deals = newDeals(cfg, pool, s.Keys, fed, logger)
	s.Circle = &intertrade.Switch{}
	if cfg.InCircle() {
		svc, err := s.newIntertrade(cxp.JoinCredentials{CircleURL: cfg.CircleURL, CircleID: cfg.CircleID, Key: cfg.CircleKey, Ticks: cfg.Rate})
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		s.Circle.Use(svc)
	}
	s.Join = intertrade.NewJoiner(pool, intertrade.JoinConfig{CommunityID: cfg.CommunityID, Name: cfg.CommunityName,
		Currency: cfg.Currency, Divisions: cfg.CurrencyDivisions, PublicURL: cfg.PublicURL}, intertrade.JoinOptions{
		Key: func(ctx context.Context) (string, ed25519.PublicKey, error) {
			k, err := fed.CurrentKey(ctx)
			return k.KeyID, k.PublicKey, err
		},
		Sign: fed.SignAs, Seal: fed.SealSecret, Open: fed.OpenSecret, OnJoined: s.joined, Logger: logger,
		HTTP: &http.Client{Timeout: orDefault(cfg.CircleTimeout, 30*time.Second)},
	})
	if !cfg.InCircle() {
		// Credentials a circle sent on approving our request to join, earlier.
		creds, ok, err := s.Join.Joined(ctx)
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		if ok {
			svc, err := s.newIntertrade(creds)
			if err != nil {
				return nil, fmt.Errorf("server: %w", err)
			}
			s.Circle.Use(svc)
			fed.JoinedCircle(creds.CircleID, creds.CircleURL)
		}
	}
	s.Mail, err = mail.New(pool, s.Members, mail.Config{SMTPURL: cfg.SMTPURL, From: cfg.SMTPFrom, BaseURL: cfg.PublicURL,
		Community: cfg.CommunityName, CommunityID: cfg.CommunityID, Currency: cfg.Money(), Logger: logger,
		Registerer: s.Registry, Every: cfg.MailInterval})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.Pictures = pictures.New(pool, nil)
	s.Messages = messages.New(pool, messages.Config{CommunityID: cfg.CommunityID, BaseURL: cfg.PublicURL,
		Send: fed.Post, Logger: logger})
	s.People = people.New(pool, nil)
	cc := contracts.Config{BaseURL: cfg.PublicURL, CommunityID: cfg.CommunityID, Currency: cfg.Currency,
		Divisions: cfg.CurrencyDivisions, Send: fed.Post, Logger: logger, Keys: s.Keys,
		Members: s.Members, Payments: s.Payments, Announcements: s.Announcements, Registerer: s.Registry}
	cc.Intertrade = s.Circle // a leg to member@community is refused while the community is in no circle
	s.Contracts = contracts.New(pool, cc)
	s.Handlers = &httpapi.Handlers{
		Community: httpapi.Community{ID: cfg.CommunityID, Name: cfg.CommunityName, Currency: cfg.Money(),
			PublicURL: cfg.PublicURL, Registration: cfg.Registration},
		Members:        s.Members,
		Payments:       s.Payments,
		Announcements:  s.Announcements,
		Intertrade:     s.Circle,
		Join:           s.Join,
		Federation:     s.Federation,
		PeerLimit:      ratelimit.New(PeerRate, PeerBurst),
		Deals:          s.Deals,
		Keys:           s.Keys,
		Mail:           s.Mail,
		Pictures:       s.Pictures,
		Messages:       s.Messages,
		People:         s.People,
		Contracts:      s.Contracts,
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
	s.Jobs.Add(s.Mail.Jobs()...)
	s.Jobs.Add(s.Circle.Jobs(cfg.HandshakeInterval)...)
	every := orDefault(cfg.HandshakeInterval, 5*time.Minute)
	s.Jobs.Add(jobs.Job{Name: "circle_join_poll", Every: every, Jitter: every / 10, Run: func(ctx context.Context) (int64, error) {
		if s.Circle.Service() != nil {
			return 0, nil // in a circle already
		}
		joined, err := s.Join.Poll(ctx)
		if joined {
			return 1, err
		}
		return 0, err
	}})
	s.Jobs.Add(s.Deals.Jobs()...)    // deliveries of proposals and answers, deadlines, scheduled rounds
	s.Jobs.Add(s.Messages.Jobs()...) // deliveries of messages to members of peers
	return s, nil
}

// newIntertrade is the community's intertrading in the circle of c (its
// settings, or the credentials an approved request to join brought).
func (s *Server) newIntertrade(c cxp.JoinCredentials) (*intertrade.Service, error) {
	cfg := s.cfg
	return intertrade.New(s.pool, s.Ledger, s.Members, intertrade.Config{
		CircleURL: c.CircleURL, CircleID: c.CircleID, CommunityID: cfg.CommunityID, Key: c.Key,
		Rate: c.Ticks, PublicURL: cfg.PublicURL, Currency: cfg.Currency, Divisions: cfg.CurrencyDivisions,
		Interval: cfg.HandshakeInterval, Timeout: cfg.CircleTimeout,
	}, intertrade.Options{Logger: s.log, Currencies: s.Federation.CurrencyOf})
}

// joined starts intertrading with the credentials of an approved request to
// join, while the server serves: from the next request on, payments to
// member@community go through the circle and its relays are accepted.
func (s *Server) joined(ctx context.Context, c cxp.JoinCredentials) error {
	svc, err := s.newIntertrade(c)
	if err != nil {
		return err
	}
	if err := svc.Start(ctx); err != nil {
		svc.Close()
		return err
	}
	s.Circle.Use(svc)
	s.Federation.JoinedCircle(c.CircleID, c.CircleURL)
	return nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
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
	if svc := s.Circle.Service(); svc != nil {
		if err := svc.Start(ctx); err != nil {
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
		"currency", s.cfg.Currency, "circle", s.cfg.CircleURL, "circle_id", s.Federation.CircleID())
	err := serve.Run(ctx, srv, ln, 10*time.Second, func(ctx context.Context) {
		// Federation delivery keeps a worker per peer (woken by its
		// outbox), beside the periodic jobs.
		fed, mailer := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(fed)
			s.Federation.Run(ctx)
		}()
		// E-mail a member waits for (a link) is sent at once, not at
		// the next run of mail_send.
		go func() {
			defer close(mailer)
			s.Mail.Run(ctx)
		}()
		// Contracts: one worker runs the rounds, resolves and settles,
		// woken by promises, answers and cancels, and every second.
		signing := make(chan struct{})
		go func() {
			defer close(signing)
			s.Contracts.Run(ctx)
		}()
		rounds := make(chan struct{}) // rounds started from the admin page
		go func() {
			defer close(rounds)
			s.Deals.Run(ctx)
		}()
		s.Jobs.Run(ctx)
		<-fed
		<-mailer
		<-signing
		<-rounds
	})
	s.group.Close()
	if svc := s.Circle.Service(); svc != nil {
		svc.Close() // its group commits, after the last request
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
	keys, _ := memberkeys.New(pool, cfg.FederationSecret) // an error only for an empty secret
	return newDeals(cfg, pool, keys, fed, logger)
}

func newDeals(cfg Config, pool *pgxpool.Pool, keys *memberkeys.Store, fed *federation.Service, logger *slog.Logger) *deals.Service {
	dc := deals.Config{BaseURL: cfg.PublicURL, CommunityID: cfg.CommunityID,
		Currency: cfg.Currency, Divisions: cfg.CurrencyDivisions, Logger: logger, TTP: cfg.TTP(), Keys: keys,
		RetryBase: cfg.FederationRetry, RoundEvery: cfg.DealsRoundEvery}
	if fed != nil {
		dc.Send = fed.Post
	}
	return deals.New(pool, dc)
}

// NewMemberKeys returns the members' contract keys, sealed under
// SXP_FEDERATION_SECRET, after the start's one idempotent step: a key for
// every member without one, and (with the secret) every unsealed key sealed.
func NewMemberKeys(ctx context.Context, cfg Config, pool *pgxpool.Pool, logger *slog.Logger) (*memberkeys.Store, error) {
	keys, err := memberkeys.New(pool, cfg.FederationSecret)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	done, err := keys.Ensure(ctx)
	if err != nil {
		return nil, fmt.Errorf("server: members' contract keys (is the schema current? 'sxp migrate up'): %w", err)
	}
	if done != (memberkeys.Ensured{}) {
		logger.Info("members' contract keys", "made", done.Made, "sealed", done.Sealed)
	}
	if cfg.FederationSecret == "" {
		logger.Warn("SXP_FEDERATION_SECRET is not set: members' contract keys are stored unsealed (they are sealed at the first start with it)")
	}
	return keys, nil
}
