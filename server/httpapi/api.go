// Package httpapi is the HTTP layer of the community server: the one route
// table (routes.go), middleware, JSON helpers, and the server-rendered
// pages for members and admins. Handlers bind and validate the request,
// call one domain method, and map its result; gin stops here.
package httpapi

import (
	"context"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/sxp-network/sxp/ledger/ledgermetrics"
	"github.com/sxp-network/sxp/server/announce"
	"github.com/sxp-network/sxp/server/federation"
	"github.com/sxp-network/sxp/server/intertrade"
	"github.com/sxp-network/sxp/server/members"
	"github.com/sxp-network/sxp/server/payments"
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

// Handlers holds the domain services the routes call.
type Handlers struct {
	Community Community
	Members   *members.Service
	Payments  *payments.Service
	// Announcements are the offers and wants (announcements helper's handlers).
	Announcements *announce.Service
	// Intertrade pays member@community through the circle and receives its
	// relays; nil when the community is not in a circle.
	Intertrade *intertrade.Service
	// Federation is sxp-fed/1: discovery, peering, inbox and events (nil: the
	// routes answer 404).
	Federation *federation.Service

	// Ready reports whether the server can serve (database reachable,
	// schema current); /readyz answers 503 with its error.
	Ready func(ctx context.Context) error
	// Metrics counts requests by route template; MetricsHandler serves
	// /metrics. Both may be nil (no metrics).
	Metrics        *ledgermetrics.HTTP
	MetricsHandler http.Handler
	Logger         *slog.Logger
	// Now is the clock of cookies and pages; time.Now by default.
	Now func() time.Time
	// SecureCookies marks cookies Secure (when the public URL is https).
	SecureCookies bool

	pages map[string]*template.Template
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
