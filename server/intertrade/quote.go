package intertrade

import (
	"context"
	"time"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/ledger/money"
)

// CurrencyLookup finds another community's currency code and decimal
// places by its uri (its /.well-known/sxp, through federation). It is how a
// quote names what the payee receives: the circle's list of communities has
// their rates but not their currencies.
type CurrencyLookup func(ctx context.Context, uri string) (code string, divisions int, err error)

// Quote is what a payment to member@community would move now. The CXP API
// has no quote route, so it is computed here, from the rates the community
// already holds: ours from the last handshake (the rate Pay converts with)
// and the payee community's from the circle's list of communities (cached
// for a minute), converted exactly as the real intertrade is, truncating
// towards zero at each step (cxp.ToBase, then cxp.FromBase). The circle
// converts at its rates at the moment of payment: if a rate changes
// meanwhile, the payee receives the amount at the new one, which the
// receipt shows.
type Quote struct {
	Payee         string // the member, without @community
	Community     string // the payee's community id
	CommunityName string
	Trading       bool   // the community may trade in the circle now
	Amount        int64  // our minor units
	Currency      string // our currency's code
	Divisions     int
	Ticks         cxp.Decimal // our rate
	Quantity      cxp.Decimal // base units
	PayeeTicks    cxp.Decimal // the payee community's rate
	// PayeeCurrency and PayeeDivisions are the payee's currency; PayeeAmount
	// is what they receive, in its minor units. Known is false when the
	// payee's community did not tell its currency: then only Quantity is known.
	PayeeCurrency  string
	PayeeDivisions int
	PayeeAmount    int64
	Known          bool
	RatesAt        time.Time // when the circle listed the rates
}

// Quote converts amount (our minor units) for a payment to r.To
// ("bob@acorn"); errors as Pay's before it records anything.
func (s *Service) Quote(ctx context.Context, to string, amount int64) (Quote, error) {
	member, community, err := s.parseAddress(to)
	if err != nil {
		return Quote{}, err
	}
	if amount <= 0 {
		return Quote{}, invalid("amount", "the amount must be greater than zero")
	}
	peer, err := s.exchange(ctx, community)
	if err != nil {
		return Quote{}, err
	}
	s.mu.Lock()
	at := s.listedAt
	s.mu.Unlock()
	q := Quote{Payee: member, Community: community, CommunityName: peer.Name, Trading: peer.Status == cxp.AccountTrading,
		Amount: amount, Currency: s.cfg.Currency, Divisions: s.cfg.Divisions, Ticks: s.Ticks(), PayeeTicks: peer.Ticks, RatesAt: at}
	base := s.base()
	quantity, err := cxp.ToBase(amount, s.cfg.Divisions, q.Ticks, base)
	if err != nil {
		return Quote{}, invalid("amount", "the amount cannot be converted to base units: %v", err)
	}
	if quantity <= 0 {
		return Quote{}, invalid("amount", "the amount is worth less than the circle's smallest unit")
	}
	q.Quantity = cxp.FromMinor(quantity, base)
	if s.currencies == nil {
		return q, nil
	}
	code, div, err := s.currencies(ctx, peer.URI)
	if err != nil || div < 0 || div > 8 || code == "" {
		s.log.Info("the payee community's currency is unknown", "community", community, "err", err)
		return q, nil
	}
	if v, err := cxp.FromBase(quantity, base, peer.Ticks, div); err == nil {
		q.PayeeCurrency, q.PayeeDivisions, q.PayeeAmount, q.Known = code, div, v, true
	}
	return q, nil
}

// Receipt is a payment with what its payee received in their currency.
type Receipt struct {
	Payment
	CommunityName string
	// PayeeAmount is in PayeeCurrency's minor units (PayeeDivisions places);
	// Known is false when the circle did not say the payee's rate (a pending
	// payment) or the payee's community did not tell its currency.
	PayeeCurrency  string
	PayeeDivisions int
	PayeeAmount    int64
	Known          bool
}

// Receipt adds to p what its payee received: the base quantity the circle
// moved, at the payee's rate the circle answered with, truncated towards
// zero as the circle does (cxp.FromBase).
func (s *Service) Receipt(ctx context.Context, p Payment) Receipt {
	r := Receipt{Payment: p}
	_, community, err := s.parseAddress(p.To)
	if err != nil {
		return r
	}
	peer, err := s.exchange(ctx, community)
	if err != nil {
		return r
	}
	r.CommunityName = peer.Name
	if s.currencies == nil || p.PayeeTicks == "" {
		return r
	}
	code, div, err := s.currencies(ctx, peer.URI)
	if err != nil || code == "" || div < 0 || div > 8 {
		return r
	}
	if v, ok := Received(p, div); ok {
		r.PayeeCurrency, r.PayeeDivisions, r.PayeeAmount, r.Known = code, div, v, true
	}
	return r
}

// Received is what the payee of a payment received in their currency (its
// minor units, payeeDivisions places), from the base quantity the circle
// moved and the payee's rate it answered with; false when either is unknown.
func Received(p Payment, payeeDivisions int) (int64, bool) {
	if p.PayeeTicks == "" || p.Quantity == "" {
		return 0, false
	}
	base, err := money.WrittenPlaces(string(p.Quantity))
	if err != nil {
		return 0, false
	}
	q, err := p.Quantity.Minor(base)
	if err != nil {
		return 0, false
	}
	v, err := cxp.FromBase(q, base, p.PayeeTicks, payeeDivisions)
	return v, err == nil
}
