// Package contracts is the parties' side of contract signing (design.md,
// "Deals and contracts"): when every party of a proposal has accepted, this
// server runs the rounds r = 1 … n+1 of the optimistic multi-party protocol
// for each of its members who is a party, exchanging promises with the
// other parties' home servers over signed federation requests; on a round
// timeout, the deadline or the member's cancel it resolves with the
// arbiter T and sends nothing more; once the contract is signed it settles
// the legs: money legs paid by the payer's server with idempotency key
// h:<leg index>, item legs confirmed by their receivers, offers closed.
//
// Every state change is committed before any message that depends on it
// leaves the server: a promise is stored with its party's new round and the
// sends it needs (table contract_sends) in one transaction, and the sends
// go after the commit, retried until delivered or until their party
// resolves. One worker (Run) drives it; requests that change a contract
// (a promise received, a member's promise or cancel) wake it.
package contracts

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
	"github.com/sxp-network/sxp/server/announce"
	"github.com/sxp-network/sxp/server/intertrade"
	"github.com/sxp-network/sxp/server/memberkeys"
	"github.com/sxp-network/sxp/server/members"
	"github.com/sxp-network/sxp/server/payments"
)

// Keys holds members' contract keys (package server/memberkeys implements
// it; plainkeys.go is the stand-in until then).
type Keys interface {
	// Key is the member's public key, and whether the member holds the
	// private key themselves (then they sign each message through the API).
	Key(ctx context.Context, username string) (ed25519.PublicKey, bool, error)
	// Sign signs msg with the member's key, or returns ErrOwnKey when the
	// member holds their own.
	Sign(ctx context.Context, username string, msg []byte) ([]byte, error)
}

// IntertradePayer pays a member of another community through the circle.
type IntertradePayer interface {
	Pay(ctx context.Context, r intertrade.PayRequest) (intertrade.Payment, error)
}

// States of a local party's run of the protocol.
const (
	StateSigning   = "signing"
	StateResolving = "resolving"
	StateSigned    = "signed"
	StateAborted   = "aborted"
	StateFailed    = "failed"
)

// Config configures a Service.
type Config struct {
	BaseURL     string // this server's base URL
	CommunityID string // member@CommunityID
	Currency    string // this community's currency code
	Divisions   int
	// Send posts body to target on another party's home server, signed
	// (federation.Service.Post). Nil: nothing is sent.
	Send func(ctx context.Context, target string, body []byte) error
	// HTTP calls the arbiter; a client with a 10 s timeout by default.
	HTTP *http.Client
	// Tick is how often the worker sweeps when nothing wakes it (1 s).
	Tick    time.Duration
	Now     func() time.Time
	Logger  *slog.Logger
	Keys    Keys // the members' contract keys (required: memberkeys.Store)
	Members *members.Service
	// Payments pays local payees; Intertrade pays member@community (nil
	// when the community is in no circle: such a leg is refused).
	Payments      *payments.Service
	Intertrade    IntertradePayer
	Announcements *announce.Service
	// Registerer takes the package's metrics (nil: not exported).
	Registerer prometheus.Registerer
}

// Service runs the contracts of one community server.
type Service struct {
	pool *pgxpool.Pool
	cfg  Config
	wake chan struct{}
	m    *metrics

	mu     sync.Mutex
	parsed map[string]*contract.Parsed // by h
}

// New returns the service.
func New(pool *pgxpool.Pool, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	return &Service{pool: pool, cfg: cfg, wake: make(chan struct{}, 1), parsed: map[string]*contract.Parsed{},
		m: newMetrics(cfg.Registerer)}
}

// Wake makes the worker sweep now (a proposal became ready, a promise or a
// cancel came in).
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run sweeps every Tick, and whenever woken, until ctx ends.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		if _, err := s.Step(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn("contracts: sweep failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
	}
}

// Step is one sweep: start the contracts whose proposal is ready, run
// every active party's rounds as far as the promises held allow, send what
// is due, resolve with T where needed, settle signed contracts. It returns
// how many things it changed or sent.
func (s *Service) Step(ctx context.Context) (int64, error) {
	var n int64
	started, err := s.start(ctx)
	if err != nil {
		return n, err
	}
	n += started
	for range 8 { // local parties see each other's promises at once: go on while they move
		moved, err := s.advanceAll(ctx)
		if err != nil {
			return n, err
		}
		sent, err := s.flush(ctx)
		if err != nil {
			return n, err
		}
		n += moved + sent
		if moved == 0 {
			break
		}
	}
	resolved, err := s.resolveAll(ctx)
	if err != nil {
		return n, err
	}
	settled, err := s.settle(ctx)
	if err != nil {
		return n, err
	}
	return n + resolved + settled, nil
}

// Error codes of this package, safe to show (the HTTP layer maps each).
const (
	CodeInvalid   = "invalid"
	CodeNotFound  = "not_found"
	CodeConflict  = "conflict"
	CodeForbidden = "forbidden"
)

// Codes lists every code, for the HTTP layer's table and its test.
func Codes() []string { return []string{CodeInvalid, CodeNotFound, CodeConflict, CodeForbidden} }

// Error is a refusal of this package; nothing was stored when one is returned.
type Error struct {
	Code    string
	Field   string
	Message string
}

func (e *Error) Error() string { return "contracts: " + e.Code + ": " + e.Message }

func refuse(code, format string, a ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, a...)}
}

// parse returns the parsed contract of h from its JSON, cached.
func (s *Service) parse(h string, raw []byte) (*contract.Parsed, error) {
	s.mu.Lock()
	p, ok := s.parsed[h]
	s.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := contract.Parse(raw)
	if err != nil {
		return nil, err
	}
	if p.Hash() != h {
		return nil, fmt.Errorf("%w: the contract's hash is %s, not %s", contract.ErrInvalid, p.Hash(), h)
	}
	s.mu.Lock()
	s.parsed[h] = p
	s.mu.Unlock()
	return p, nil
}

// local reports whether party i of p is a member of this server, and their
// username.
func (s *Service) local(p contract.Party) (string, bool) {
	if strings.TrimRight(p.Server, "/") != s.cfg.BaseURL {
		return "", false
	}
	return strings.CutSuffix(p.Member, "@"+s.cfg.CommunityID)
}

func isRefusal(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// ErrOwnKey is what Keys.Sign returns when the member holds their own key
// and signs through the API (memberkeys.ErrOwnKey).
var ErrOwnKey = memberkeys.ErrOwnKey
