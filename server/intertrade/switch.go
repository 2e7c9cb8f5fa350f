package intertrade

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
	"github.com/sxp-network/sxp/ledger/jobs"
)

// Switch is the community's intertrading as the routes and jobs see it: Alone
// until a Service is put in with Use (at start, from the settings or from
// credentials a circle sent earlier; or while serving, the moment a request
// to join is approved), then that Service. It is safe for concurrent use.
type Switch struct{ cur atomic.Pointer[Service] }

// Use puts svc in force: every later call goes to it.
func (w *Switch) Use(svc *Service) { w.cur.Store(svc) }

// Service is the Service in force, nil while alone.
func (w *Switch) Service() *Service { return w.cur.Load() }

// impl is the Service in force or Alone.
func (w *Switch) impl() interface {
	Pay(ctx context.Context, r PayRequest) (Payment, error)
	Quote(ctx context.Context, to string, amount int64) (Quote, error)
	Receipt(ctx context.Context, p Payment) Receipt
	Communities(ctx context.Context) ([]Community, error)
	Overview(ctx context.Context) (Overview, error)
	History(ctx context.Context, q Query) ([]Intertrade, error)
	Handshake(ctx context.Context) (HandshakeResult, error)
	Reconcile(ctx context.Context) (IntegrityReport, error)
	SettlePending(ctx context.Context) (int, error)
	RelayVerifier() (httpsig.Verifier, *cxp.Error)
	Receive(ctx context.Context, from string, body []byte) (cxp.TransactionResponse, *cxp.Error)
} {
	if s := w.cur.Load(); s != nil {
		return s
	}
	return Alone{}
}

// Pay pays through the circle, or refuses while alone.
func (w *Switch) Pay(ctx context.Context, r PayRequest) (Payment, error) { return w.impl().Pay(ctx, r) }

// Quote says what a payment to member@community would move now, or
// refuses while alone.
func (w *Switch) Quote(ctx context.Context, to string, amount int64) (Quote, error) {
	return w.impl().Quote(ctx, to, amount)
}

// Receipt adds what the payee received to payment p (nothing while alone).
func (w *Switch) Receipt(ctx context.Context, p Payment) Receipt { return w.impl().Receipt(ctx, p) }

// Communities lists the circle's communities.
func (w *Switch) Communities(ctx context.Context) ([]Community, error) {
	return w.impl().Communities(ctx)
}

// Overview is the intertrading overview.
func (w *Switch) Overview(ctx context.Context) (Overview, error) { return w.impl().Overview(ctx) }

// History lists intertrades.
func (w *Switch) History(ctx context.Context, q Query) ([]Intertrade, error) {
	return w.impl().History(ctx, q)
}

// Handshake handshakes with the circle.
func (w *Switch) Handshake(ctx context.Context) (HandshakeResult, error) {
	return w.impl().Handshake(ctx)
}

// Reconcile reconciles with the circle.
func (w *Switch) Reconcile(ctx context.Context) (IntegrityReport, error) {
	return w.impl().Reconcile(ctx)
}

// SettlePending settles unconfirmed payments.
func (w *Switch) SettlePending(ctx context.Context) (int, error) { return w.impl().SettlePending(ctx) }

// RelayVerifier is the verifier of the circle's relays.
func (w *Switch) RelayVerifier() (httpsig.Verifier, *cxp.Error) { return w.impl().RelayVerifier() }

// Receive takes a relay from the circle.
func (w *Switch) Receive(ctx context.Context, from string, body []byte) (cxp.TransactionResponse, *cxp.Error) {
	return w.impl().Receive(ctx, from, body)
}

// Jobs are the Service's jobs (Service.Jobs), each every interval, run on
// whichever Service is in force and skipped while alone.
func (w *Switch) Jobs(interval time.Duration) []jobs.Job {
	if interval <= 0 {
		interval = 5 * time.Minute
	}
	var out []jobs.Job
	for _, j := range (&Service{cfg: Config{Interval: interval}}).Jobs() {
		name := j.Name
		out = append(out, jobs.Job{Name: name, Every: j.Every, Jitter: j.Jitter, Run: func(ctx context.Context) (int64, error) {
			s := w.cur.Load()
			if s == nil {
				return 0, nil
			}
			for _, sj := range s.Jobs() {
				if sj.Name == name {
					return sj.Run(ctx)
				}
			}
			return 0, nil
		}})
	}
	return out
}
