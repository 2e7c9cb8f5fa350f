// Package intertrade is a community server's side of its intertrading
// circle: a CXP client of the clearing house and the receiver of its relays.
//
// The community holds one import/export account in its own currency (code
// ImportExportCode). A member paying bob@acorn pays into it through a
// pending transfer that is posted when the circle confirms and voided when
// it refuses; a relay from the circle pays a member out of it. Every
// intertrade is recorded with the base-unit quantity the circle used, the
// local amount, and our rate, so that integrity compares exact numbers: the
// import/export account's balance equals the signed sum of the completed
// intertrades' local amounts, and the signed sum of their base quantities
// equals minus the circle's virtual customer balance.
//
// Rates and rounding: a rate (ticks) is the number of base units one unit of
// our currency is worth. Paying, we convert at the rate in force that the
// circle answered in the last handshake (our declared SXP_RATE until a
// handshake succeeds); paid, we convert at the rate the circle used, which
// its relay carries (payee_ticks), never at our own, possibly stale one, and
// refuse a relay whose payee_amount is another amount. Both use cxp's
// conversion functions, which truncate towards zero, so no conversion
// yields more value than it was given; each intertrade records its
// remainder (rounding.go) and the integrity check proves every conversion
// by it.
//
// Unknown outcomes: a payment whose final try the circle did not answer, or
// answered with 27 ("pending": the payee's answer is not known yet), stays
// pending with its hold extended; SettlePending repeats the try with the
// same temp_id until the circle answers. Only a first try whose connection
// could not even be opened fails for being unreachable. The base unit's decimal places are configured
// learned from the handshake (the decimal places of the circle's `min`,
// which the circle writes with exactly its base unit's places), 2 (the
// default of `sxp admin circle init`) until one succeeds; a configured
// BaseDivisions overrides that.
//
// The sequence of an outgoing payment, and its commits on our side (issue
// 15: the fewest that keep a hold before asking to write, a durable record
// before the circle is asked, and nothing acknowledged before commit):
//
//  1. reads: the key's earlier payment, if any, and whether a local payment
//     used the key; the import/export account and the peer list are cached;
//  2. the circle's last prepare answer (spend limit), cached for a handshake
//     interval: no call per payment (Reconcile prepares every interval; over
//     the cached limit we prepare again). Its figures (balance, volume,
//     integrity) come from maintained totals, not a scan of intertrades;
//  3. COMMIT 1: the intertrade row (pending; its temp_id is what a retry
//     repeats) and the member's hold, together;
//  4. CXP call: try, really=true (the circle checks limits and rates,
//     holds, relays, posts); there is no really=false try first: the
//     circle's refusal of the really=true try is as final, and the hold is
//     voided;
//  5. COMMIT 2: post the hold and mark the row completed (or, on the
//     circle's refusal, void and mark it failed); then the member is
//     answered.
//
// A relay from the circle (Receive) costs one commit for its nonce and one
// for the credit with its record. Commits 1 and 2, the credit and the
// nonces go through group commit (ledger.Group): concurrent intertrades
// share them instead of queueing on the import/export account's lock.
//
// Two commits and one signed call per payment (issue 15 found four commits,
// three calls, and two scans of the intertrades table for prepare's report).
package intertrade

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/ledger/jobs"
	"github.com/sxp-network/sxp/ledger/money"
	"github.com/sxp-network/sxp/server/members"
)

// ImportExportCode is the ledger code of the community's import/export account.
const ImportExportCode = "intertrade:import-export"

// importExportLimit bounds the import/export account both ways; the circle
// enforces the community's real limits on its virtual customer.
const importExportLimit = 1_000_000_000_000_000

// Config is the community's intertrading settings.
type Config struct {
	CircleURL     string // SXP_CIRCLE_URL: the clearing house's base URL
	CircleID      string // SXP_CIRCLE_ID: the keyid of relays from the circle
	CommunityID   string // SXP_COMMUNITY_ID: our keyid, and our members' @suffix
	Key           string // SXP_CIRCLE_KEY: the HMAC key (its UTF-8 bytes)
	Rate          string // SXP_RATE: the rate we declare (base units per unit of Currency)
	PublicURL     string // SXP_PUBLIC_URL: our CXP uri, as registered with the circle
	Currency      string // SXP_CURRENCY
	Divisions     int    // SXP_CURRENCY_DIVISIONS
	BaseDivisions int    // the base unit's decimal places; 0: learn them from the handshake (see the package doc)
	Mail          string // the admin's mail address sent in the handshake
	// Interval between handshakes, integrity checks and retries of
	// unconfirmed payments (SXP_HANDSHAKE_INTERVAL); 5 minutes by default.
	Interval time.Duration
	// HoldTTL is the deadline of a payer's hold while the circle has not
	// answered (24 hours by default). Each unanswered retry moves it on: a
	// hold the circle may have written is never left to expire.
	HoldTTL time.Duration
	// Timeout bounds one call to the circle; 30 s by default (the circle
	// itself waits up to 10 s for the payee's server).
	Timeout time.Duration
}

// Options are the service's collaborators and clock.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	HTTP   *http.Client // for calls to the circle; a client with Timeout by default
	// Currencies finds another community's currency for quotes (nil: a
	// quote gives only base units).
	Currencies CurrencyLookup
}

// Service is a community's intertrading.
type Service struct {
	cfg     Config
	pool    *pgxpool.Pool
	ledger  *ledger.Ledger
	members *members.Service
	log     *slog.Logger
	now     func() time.Time
	client  *cxp.Client
	relays  *httpsig.Verifier
	// currencies finds other communities' currencies, for quotes (may be nil).
	currencies CurrencyLookup
	// writes group-commits the transactions on the import/export account
	// (the payer's hold and settlement, the payee's credit), nonces the
	// relays' nonces: concurrent intertrades share commits instead of
	// queueing on that account's lock for one commit each.
	writes, nonces *ledger.Group

	mu            sync.Mutex
	account       ledger.AccountID // the import/export account, once ensured
	ticks         cxp.Decimal      // the rate in force
	baseDiv       int              // the base unit's decimal places in use
	exchangesList []cxp.Exchange   // the circle's communities, from the last list
	listedAt      time.Time
	prepared      cxp.PrepareResponse // the circle's last OK answer to a prepare
	preparedAt    time.Time           // zero: none yet
}

// New checks cfg and returns the service. Call Start before serving.
func New(pool *pgxpool.Pool, led *ledger.Ledger, mem *members.Service, cfg Config, opts Options) (*Service, error) {
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Minute
	}
	if cfg.HoldTTL <= 0 {
		cfg.HoldTTL = 24 * time.Hour
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	cfg.Rate = strings.TrimSpace(cfg.Rate)
	if err := cxp.ValidateRate("rate", cxp.Decimal(cfg.Rate)); err != nil {
		return nil, fmt.Errorf("intertrade: SXP_RATE %q: %v", cfg.Rate, err.Message)
	}
	switch {
	case cfg.CircleURL == "" || cfg.CircleID == "" || cfg.CommunityID == "" || cfg.Key == "":
		return nil, errors.New("intertrade: circle URL, circle id, community id and key are all required")
	case cfg.PublicURL == "":
		return nil, errors.New("intertrade: the public URL (our CXP uri) is required")
	case cfg.Currency == "":
		return nil, errors.New("intertrade: the currency is required")
	case cfg.BaseDivisions < 0 || cfg.BaseDivisions > 8 || cfg.Divisions < 0 || cfg.Divisions > 8:
		return nil, errors.New("intertrade: divisions must be between 0 and 8")
	}
	if cfg.Mail == "" {
		cfg.Mail = "admin@" + hostOf(cfg.PublicURL)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{Timeout: cfg.Timeout}
	}
	s := &Service{
		cfg: cfg, pool: pool, ledger: led, members: mem,
		log: opts.Logger.With("area", "intertrade"), now: opts.Now,
		ticks: cxp.Decimal(cfg.Rate), baseDiv: cfg.BaseDivisions, currencies: opts.Currencies,
	}
	if cfg.BaseDivisions == 0 {
		s.baseDiv = 2
	}
	s.client = &cxp.Client{
		BaseURL: strings.TrimRight(cfg.CircleURL, "/"),
		Signer:  httpsig.Signer{KeyID: cfg.CommunityID, Key: []byte(cfg.Key), Now: opts.Now},
		HTTP:    opts.HTTP,
	}
	s.writes = led.NewGroup(ledger.CommitterOptions{Parallel: 1, Eager: true})
	s.nonces = led.NewGroup(ledger.CommitterOptions{Parallel: 2, NoSavepoints: true, Eager: true})
	s.relays = &httpsig.Verifier{
		Keys:    httpsig.StaticKeys{cfg.CircleID: {[]byte(cfg.Key)}},
		Nonces:  relayNonces{group: s.nonces, now: opts.Now},
		Now:     opts.Now,
		BaseURL: strings.TrimRight(cfg.PublicURL, "/"),
	}
	return s, nil
}

// Close stops the service's group commits once the batches running are
// committed; intertrades after it fail.
func (s *Service) Close() {
	s.writes.Close()
	s.nonces.Close()
}

// Config is the service's settings (the key left out).
func (s *Service) Config() Config {
	c := s.cfg
	c.Key = ""
	c.BaseDivisions = s.base()
	return c
}

// Start creates the import/export account if absent and handshakes once
// (a circle that cannot be reached is logged, not fatal).
func (s *Service) Start(ctx context.Context) error {
	if _, err := s.importExport(ctx); err != nil {
		return err
	}
	if _, err := s.Handshake(ctx); err != nil {
		s.log.Warn("first handshake with the circle failed", "err", err)
	}
	return nil
}

// Jobs are the service's background jobs, each every Interval: settle
// unconfirmed payments, reconcile with the circle (handshake, balance
// report, integrity check) and prune old relay nonces. Start has
// handshaked once already.
func (s *Service) Jobs() []jobs.Job {
	every := s.cfg.Interval
	return []jobs.Job{
		{Name: "intertrade_settle", Every: every, Jitter: every / 10, Run: func(ctx context.Context) (int64, error) {
			n, err := s.SettlePending(ctx)
			return int64(n), err
		}},
		{Name: "intertrade_reconcile", Every: every, Jitter: every / 10, Run: func(ctx context.Context) (int64, error) {
			_, err := s.Reconcile(ctx)
			return 0, err
		}},
		{Name: "intertrade_prune_nonces", Every: every, Jitter: every / 10, Run: s.PruneNonces},
	}
}

// importExport returns the import/export account, creating it if absent.
func (s *Service) importExport(ctx context.Context) (ledger.AccountID, error) {
	s.mu.Lock()
	id := s.account
	s.mu.Unlock()
	if id != 0 {
		return id, nil
	}
	acc, err := s.ledger.AccountByCode(ctx, ImportExportCode)
	if ledger.CodeOf(err) == ledger.CodeUnknownAccount {
		acc, err = s.ledger.CreateAccount(ctx, ledger.NewAccount{
			Code: ImportExportCode, Currency: s.cfg.Currency,
			Min: -importExportLimit, Max: importExportLimit,
			Metadata: map[string]string{"kind": "intertrade", "circle": s.cfg.CircleID},
		})
		if ledger.CodeOf(err) == ledger.CodeDuplicateAccount {
			acc, err = s.ledger.AccountByCode(ctx, ImportExportCode)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("intertrade: import/export account: %w", err)
	}
	if acc.Currency != s.cfg.Currency {
		return 0, fmt.Errorf("intertrade: import/export account is in %s, the community's currency is %s", acc.Currency, s.cfg.Currency)
	}
	s.mu.Lock()
	s.account = acc.ID
	s.mu.Unlock()
	return acc.ID, nil
}

// Ticks is the rate in force: the circle's answer to the last handshake,
// or our declared rate before one succeeded.
func (s *Service) Ticks() cxp.Decimal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ticks
}

// base is the base unit's decimal places in use.
func (s *Service) base() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.baseDiv
}

// learnBase adopts the base unit's decimal places from a number the circle
// wrote with exactly that many (its handshake's min), unless configured.
func (s *Service) learnBase(d cxp.Decimal) {
	places, err := money.WrittenPlaces(string(d))
	if s.cfg.BaseDivisions != 0 || err != nil || places > 8 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.baseDiv != places {
		s.log.Info("the circle's base unit has other decimal places than assumed", "assumed", s.baseDiv, "circle", places)
		s.baseDiv = places
	}
}

func hostOf(u string) string {
	u = strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	if i := strings.IndexAny(u, "/:"); i >= 0 {
		u = u[:i]
	}
	if u == "" || !strings.Contains(u, ".") {
		return "localhost.localdomain"
	}
	return u
}
