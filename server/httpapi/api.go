// Package httpapi is the HTTP layer of the community server. Handlers bind
// and validate the request, call one domain method, and map its result; gin
// stops here. Files by what they serve:
//
//   - routes.go: the one route table, every route of the server;
//   - the JSON API under /api/v1: admin.go, members.go, payments.go,
//     announcements.go, intertrade.go, with json.go (binding) and errors.go
//     (the one error shape and the one code → status table);
//   - the HTML pages: *_pages.go, with pages.go (templates, CSRF, the page
//     error view), answering refusals through the same table;
//   - CXP: relay.go (PUT /transactions, verified at the edge);
//   - both: middleware.go (authentication, logging, limits), health.go.
//
// A feature that is off is a service that says so: a community in no
// circle has intertrade.Alone, never a nil service.
package httpapi

import (
	"context"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
	"github.com/sxp-network/sxp/ledger/httpmetrics"
	"github.com/sxp-network/sxp/ledger/ratelimit"
	"github.com/sxp-network/sxp/server/announce"
	"github.com/sxp-network/sxp/server/contracts"
	"github.com/sxp-network/sxp/server/deals"
	"github.com/sxp-network/sxp/server/federation"
	"github.com/sxp-network/sxp/server/intertrade"
	"github.com/sxp-network/sxp/server/mail"
	"github.com/sxp-network/sxp/server/memberkeys"
	"github.com/sxp-network/sxp/server/members"
	"github.com/sxp-network/sxp/server/messages"
	"github.com/sxp-network/sxp/server/payments"
	"github.com/sxp-network/sxp/server/people"
	"github.com/sxp-network/sxp/server/pictures"
)

// Community describes the community to pages and clients.
type Community struct {
	ID        string
	Name      string
	Currency  payments.Currency
	PublicURL string
	// Registration is "open" or "approval".
	Registration string
}

// Intertrading is what the routes need of intertrading. Its two
// implementations are *intertrade.Service (in a circle) and intertrade.Alone
// (running alone: every call refused with intertrade.ErrNotInCircle, relays
// with CXP code 16), so no handler checks for a missing service.
type Intertrading interface {
	Pay(ctx context.Context, r intertrade.PayRequest) (intertrade.Payment, error)
	// Quote is what a payment to member@community would move now; Receipt
	// adds to a payment what its payee received.
	Quote(ctx context.Context, to string, amount int64) (intertrade.Quote, error)
	Receipt(ctx context.Context, p intertrade.Payment) intertrade.Receipt
	Communities(ctx context.Context) ([]intertrade.Community, error)
	Overview(ctx context.Context) (intertrade.Overview, error)
	History(ctx context.Context, q intertrade.Query) ([]intertrade.Intertrade, error)
	Handshake(ctx context.Context) (intertrade.HandshakeResult, error)
	Reconcile(ctx context.Context) (intertrade.IntegrityReport, error)
	SettlePending(ctx context.Context) (int, error)
	// RelayVerifier is the verifier of the circle's relays, or code 16.
	RelayVerifier() (httpsig.Verifier, *cxp.Error)
	Receive(ctx context.Context, from string, body []byte) (cxp.TransactionResponse, *cxp.Error)
}

var (
	_ Intertrading = (*intertrade.Service)(nil)
	_ Intertrading = intertrade.Alone{}
	_ Intertrading = (*intertrade.Switch)(nil)
)

// Handlers holds the domain services the routes call.
type Handlers struct {
	Community Community
	Members   *members.Service
	Payments  *payments.Service
	// Announcements are the offers and wants (announcements helper's handlers).
	Announcements *announce.Service
	// Intertrade pays member@community through the circle and receives its
	// relays: an *intertrade.Service, or intertrade.Alone when the community
	// is in no circle (never nil).
	Intertrade Intertrading
	// Join asks a circle to let the community join (the intertrading
	// admin page, while alone); nil: the page offers no such form.
	Join *intertrade.Joiner
	// Federation is sxp-fed/1: discovery, peering, inbox and events (nil: the
	// routes answer 404).
	Federation *federation.Service
	// PeerLimit bounds each active peer's signed federation requests (nil:
	// no limit); the excess is answered 429 with Retry-After.
	PeerLimit *ratelimit.Limiter
	// Deals runs the market's rounds and keeps its proposals (nil: its
	// routes answer 404).
	Deals *deals.Service
	// Keys are the members' contract keys (nil: their routes answer 404).
	Keys *memberkeys.Store
	// Mail is the community's e-mail (never nil: off without SMTP
	// settings, and then its pages say so).
	Mail *mail.Service
	// Pictures of profiles and announcements, Messages between members and
	// the People directory (people_pages.go, pictures.go, messages.go).
	Pictures *pictures.Service
	Messages *messages.Service
	People   *people.Directory
	// Contracts runs the parties' side of contract signing and settlement
	// (nil: its routes answer 404).
	Contracts *contracts.Service

	// Ready reports whether the server can serve (database reachable,
	// schema current); /readyz answers 503 with its error.
	Ready func(ctx context.Context) error
	// Metrics counts requests by route template; MetricsHandler serves
	// /metrics. Both may be nil (no metrics).
	Metrics        *httpmetrics.HTTP
	MetricsHandler http.Handler
	// MetricsToken, when set, is the bearer token /metrics requires
	// (SXP_METRICS_TOKEN): the metrics show the community's balances.
	MetricsToken string
	Logger       *slog.Logger
	// Now is the clock of cookies and pages; time.Now by default.
	Now func() time.Time
	// SecureCookies marks cookies Secure (when the public URL is https).
	SecureCookies bool

	pages     map[string]map[string]*template.Template // language → file name → page
	catalogue *catalogue                               // the pages' messages (i18n.go)
	icons     iconCache                                // the app's icons, drawn once
}

func (h *Handlers) now() time.Time {
	if h.Now == nil {
		return time.Now()
	}
	return h.Now()
}

func (h *Handlers) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.Default()
	}
	return h.Logger
}
