package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/server"
)

func communityCommand(stdout io.Writer) *command {
	return &command{
		name:    "community",
		summary: "run a community server (members, payments, offers and wants, intertrading)",
		usage:   "sxp community [--listen 127.0.0.1:8081] [settings]",
		help: `Run a community server: its members' web pages and JSON API under /api/v1, and,
in an intertrading circle, the receiver of the circle's relays (PUT /transactions).
Every setting is a flag and an environment variable; a bad one is named at start.
A community with no circle settings runs alone. Run 'sxp migrate up' on its
database first.`,
		flags: func(fs *flag.FlagSet) func(context.Context, []string) error {
			settings := communitySettings(fs)
			listen := envString(fs, "listen", "SXP_LISTEN", "127.0.0.1:8081", "address to serve on")
			servePprof := pprofFlag(fs)
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected arguments %q", args)
				}
				cfg := settings()
				cfg.Listen = *listen
				if err := cfg.Validate(); err != nil {
					return usagef("%v", err)
				}
				logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
				pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
				if err != nil {
					return fmt.Errorf("setting DATABASE_URL (--database): %w", err)
				}
				defer pool.Close()
				if err := servePprof(ctx, logger); err != nil {
					return err
				}
				srv, err := server.New(ctx, cfg, pool, logger)
				if err != nil {
					return err
				}
				if err := srv.Ready(ctx); err != nil {
					return fmt.Errorf("not ready: %w", err)
				}
				fmt.Fprintf(stdout, "community %s (%s, %s) serving at http://%s/\n", cfg.CommunityID, cfg.CommunityName, cfg.Currency, *listen)
				return srv.Run(ctx, *listen)
			}
		},
	}
}

// communitySettings declares every community setting (design.md, "sxp
// community settings") as a flag with its environment variable, and returns
// a function that reads them after parsing.
func communitySettings(fs *flag.FlagSet) func() server.Config {
	db := envDatabase(fs, "database", "DATABASE_URL", "PostgreSQL URL of the community's database")
	id := envString(fs, "community-id", "SXP_COMMUNITY_ID", "", "the community's id, also its members' @suffix, e.g. leaf")
	name := envString(fs, "community-name", "SXP_COMMUNITY_NAME", "", "the community's display name")
	cur := envString(fs, "currency", "SXP_CURRENCY", "", "currency code, e.g. LEAF")
	div := envInt64(fs, "currency-divisions", "SXP_CURRENCY_DIVISIONS", 2, "decimal places of the currency (0-8)")
	pub := envString(fs, "public-url", "SXP_PUBLIC_URL", "", "the server's own base URL, also its CXP uri")
	min := envString(fs, "default-min", "SXP_DEFAULT_MIN", "-100", "members' default lower balance limit (decimal, <= 0)")
	max := envString(fs, "default-max", "SXP_DEFAULT_MAX", "1000", "members' default upper balance limit (decimal, >= 0)")
	nmin := envString(fs, "newcomer-min", "SXP_NEWCOMER_MIN", "", "new members' lower balance limit until an admin approves them (decimal, <= 0; e.g. 0: no spending on credit); empty: the default limits at once")
	nmax := envString(fs, "newcomer-max", "SXP_NEWCOMER_MAX", "", "new members' upper balance limit until an admin approves them (decimal, >= 0)")
	reg := envString(fs, "registration", "SXP_REGISTRATION", "open", "open, or approval (an admin approves new members)")
	curl := envString(fs, "circle-url", "SXP_CIRCLE_URL", "", "the intertrading circle's (clearing house's) base URL; empty: run alone")
	cid := envString(fs, "circle-id", "SXP_CIRCLE_ID", "", "the circle's id (keyid of its relays)")
	key := envSecret(fs, "circle-key", "SXP_CIRCLE_KEY", "the key printed by 'sxp admin community add'")
	rate := envString(fs, "rate", "SXP_RATE", "", "base units per unit of the currency (decimal), as registered in the circle")
	hs := envDuration(fs, "handshake-interval", "SXP_HANDSHAKE_INTERVAL", 5*time.Minute, "how often to handshake with the circle and check integrity")
	ctimeout := envDuration(fs, "circle-timeout", "SXP_CIRCLE_TIMEOUT", 30*time.Second, "how long one call to the circle may take; an unanswered payment is retried twice this long after")
	hashes := envInt64(fs, "hash-concurrency", "SXP_HASH_CONCURRENCY", 0, "password hashes computed at once (19 MiB each); 0: the number of CPUs. Beyond it log-ins wait up to 2 s, then get 429")
	metricsToken := envSecret(fs, "metrics-token", "SXP_METRICS_TOKEN", "bearer token that GET /metrics requires (optional; without it /metrics is open)")
	lang := envString(fs, "search-language", "SXP_SEARCH_LANGUAGE", "english", "PostgreSQL text search configuration of announcements")
	fsecret := envSecret(fs, "federation-secret", "SXP_FEDERATION_SECRET", "seals the server's federation private keys its members' contract keys and the circle key a request to join brought in its database (keep it with your backups)")
	arbURL := envString(fs, "arbiter-url", "SXP_ARBITER_URL", "", "base URL of the arbiter of signed contracts; empty: the circle's clearing house")
	arbKey := envString(fs, "arbiter-key", "SXP_ARBITER_KEY", "", "the arbiter's base64 Ed25519 public key; empty: fetched from {url}/arbiter/v1/key")
	ftimeout := envDuration(fs, "federation-timeout", "SXP_FEDERATION_TIMEOUT", 10*time.Second, "timeout of every request to a federation peer")
	fretry := envDuration(fs, "federation-retry", "SXP_FEDERATION_RETRY", 2*time.Second, "first retry delay of a failed delivery to a peer (doubles, with jitter)")
	fpull := envDuration(fs, "federation-pull", "SXP_FEDERATION_PULL", 5*time.Minute, "how often to pull peers' events (also on start)")
	roundEvery := envDuration(fs, "deals-round-every", "SXP_DEALS_ROUND_EVERY", 0, "run a deals round (the market's deal finder over every want list held) this often, e.g. 1h; 0: only when an admin runs one")
	ftrace := envString(fs, "federation-trace", "SXP_FEDERATION_TRACE", "", "append every request sent to peers to this file (for tests)")
	smtpURL := envSecret(fs, "smtp-url", "SXP_SMTP_URL", "SMTP server for e-mail: smtp://user:password@host:587 (STARTTLS when offered) or smtps://user:password@host:465 (TLS); empty: no e-mail")
	smtpFrom := envString(fs, "smtp-from", "SXP_SMTP_FROM", "", "sender of e-mail, e.g. \"Leaf Valley <leaf@example.org>\" (with --smtp-url)")
	mailEvery := envDuration(fs, "mail-interval", "SXP_MAIL_INTERVAL", 10*time.Second, "how often e-mail is sent from the outbox and notices are looked for")
	return func() server.Config {
		return server.Config{
			DatabaseURL: *db, CommunityID: *id, CommunityName: *name, Currency: *cur,
			CurrencyDivisions: int(*div), PublicURL: *pub, DefaultMin: *min, DefaultMax: *max,
			NewcomerMin: *nmin, NewcomerMax: *nmax, Registration: *reg, CircleURL: *curl, CircleID: *cid, CircleKey: *key, Rate: *rate,
			HandshakeInterval: *hs, CircleTimeout: *ctimeout, SearchLanguage: *lang,
			HashConcurrency: int(*hashes), MetricsToken: *metricsToken,
			FederationSecret: *fsecret, FederationTimeout: *ftimeout, FederationRetry: *fretry, FederationPull: *fpull, FederationTrace: *ftrace,
			ArbiterURL: *arbURL, ArbiterKey: *arbKey,
			SMTPURL: *smtpURL, SMTPFrom: *smtpFrom, MailInterval: *mailEvery,
			DealsRoundEvery: *roundEvery,
		}
	}
}
