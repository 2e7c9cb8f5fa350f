package intertrade

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/clearing/cxp"
)

// HandshakeResult is one handshake with the circle: what we declared and
// what the circle answered (or why it could not).
type HandshakeResult struct {
	ID    int64
	At    time.Time
	OK    bool
	Error string // why it failed, when it did
	Sent  cxp.HandshakeRequest
	// The circle's answer.
	AccountStatus int // cxp.AccountNone, AccountBlocked or AccountTrading
	Balance       cxp.Decimal
	Min, Max      cxp.Decimal
	Count         int64
	Keymatch      bool
	Ticks         cxp.Decimal // the rate in force
	Message       string
}

// Handshake announces the community to the circle with its statement data,
// records the answer, adopts the circle's rate in force and refreshes the
// list of the circle's communities. A failed handshake is recorded too.
func (s *Service) Handshake(ctx context.Context) (HandshakeResult, error) {
	req, err := s.statement(ctx)
	if err != nil {
		return HandshakeResult{}, err
	}
	res := HandshakeResult{At: s.now(), Sent: req}
	resp, callErr := s.client.Handshake(ctx, req)
	if callErr == nil {
		callErr = errOf(resp.Status)
	}
	if callErr != nil {
		res.Error = handshakeFailure(callErr)
	} else {
		res.OK = true
		res.AccountStatus, res.Balance, res.Min, res.Max = resp.AccountStatus, resp.Balance, resp.Min, resp.Max
		res.Count, res.Keymatch, res.Ticks, res.Message = resp.Count, resp.Keymatch, resp.Ticks, resp.Message
		s.learnBase(resp.Min)
		if res.Ticks != "" && cxp.ValidateRate("ticks", res.Ticks) == nil {
			s.mu.Lock()
			s.ticks = res.Ticks
			s.mu.Unlock()
			if res.Ticks.Rat().Cmp(cxp.Decimal(s.cfg.Rate).Rat()) != 0 {
				s.log.Warn("the circle's rate in force differs from ours; converting at the circle's", "ours", s.cfg.Rate, "circle", res.Ticks)
			}
		}
		if !res.Keymatch {
			s.log.Warn("the circle says we did not sign with the current key")
		}
	}
	if err := s.saveHandshake(ctx, &res); err != nil {
		return res, err
	}
	if callErr != nil {
		return res, fmt.Errorf("intertrade: handshake: %w", callErr)
	}
	if _, err := s.refreshExchanges(ctx); err != nil {
		s.log.Warn("listing the circle's communities failed", "err", err)
	}
	return res, nil
}

// statement is the handshake's statement data, from the database.
func (s *Service) statement(ctx context.Context) (cxp.HandshakeRequest, error) {
	var first *time.Time
	var recent, traders int64
	now := s.now()
	err := s.pool.QueryRow(ctx, `
		SELECT (SELECT min(created_at) FROM ledger_transfers WHERE currency = $1),
		       (SELECT count(*) FROM ledger_transfers WHERE currency = $1 AND created_at > $2),
		       (SELECT count(*) FROM members WHERE status = 'active')`,
		s.cfg.Currency, now.Add(-30*24*time.Hour)).Scan(&first, &recent, &traders)
	if err != nil {
		return cxp.HandshakeRequest{}, fmt.Errorf("intertrade: statement data: %w", err)
	}
	visible := true
	req := cxp.HandshakeRequest{
		API: cxp.Decimal(cxp.APIVersion), Mail: s.cfg.Mail, Ticks: cxp.Decimal(s.cfg.Rate),
		Traders: traders, Transactions: recent, URI: s.cfg.PublicURL, Visibility: &visible,
	}
	if first != nil {
		req.FirstTrade = first.Unix()
	}
	if s.cfg.Divisions > 0 {
		// The seed's notation: "01" means cents.
		req.Divisions = strings.Repeat("0", s.cfg.Divisions-1) + "1"
	}
	return req, nil
}

func (s *Service) saveHandshake(ctx context.Context, r *HandshakeResult) error {
	sent, err := json.Marshal(r.Sent)
	if err != nil {
		return err
	}
	num := func(d cxp.Decimal) *string {
		if d == "" || !d.Valid() {
			return nil
		}
		v := string(d)
		return &v
	}
	var status, count *int64
	var keymatch *bool
	if r.OK {
		st, c, k := int64(r.AccountStatus), r.Count, r.Keymatch
		status, count, keymatch = &st, &c, &k
	}
	err = s.pool.QueryRow(ctx, `
		INSERT INTO intertrade_handshakes (at, ok, error, sent, status, balance, min, max, count, keymatch, ticks, message)
		VALUES ($1, $2, $3, $4, $5, $6::numeric, $7::numeric, $8::numeric, $9, $10, $11::numeric, $12)
		RETURNING id`,
		r.At, r.OK, r.Error, sent, status, num(r.Balance), num(r.Min), num(r.Max), count, keymatch, num(r.Ticks), r.Message,
	).Scan(&r.ID)
	if err != nil {
		return fmt.Errorf("intertrade: record handshake: %w", err)
	}
	return nil
}

// LastHandshake is the latest handshake (ok=false when there was none);
// lastOK the latest successful one.
func (s *Service) LastHandshake(ctx context.Context, lastOK bool) (HandshakeResult, bool, error) {
	var r HandshakeResult
	var sent []byte
	var status, count *int64
	var keymatch *bool
	var balance, min, max, ticks *string
	err := s.pool.QueryRow(ctx, `
		SELECT id, at, ok, error, sent, status, balance::text, min::text, max::text, count, keymatch, ticks::text, message
		FROM intertrade_handshakes WHERE ok OR NOT $1 ORDER BY id DESC LIMIT 1`, lastOK,
	).Scan(&r.ID, &r.At, &r.OK, &r.Error, &sent, &status, &balance, &min, &max, &count, &keymatch, &ticks, &r.Message)
	if errors.Is(err, pgx.ErrNoRows) {
		return HandshakeResult{}, false, nil
	}
	if err != nil {
		return HandshakeResult{}, false, fmt.Errorf("intertrade: last handshake: %w", err)
	}
	_ = json.Unmarshal(sent, &r.Sent)
	dec := func(p *string) cxp.Decimal {
		if p == nil {
			return ""
		}
		return cxp.Decimal(*p)
	}
	r.Balance, r.Min, r.Max, r.Ticks = dec(balance), dec(min), dec(max), dec(ticks)
	if status != nil {
		r.AccountStatus = int(*status)
	}
	if count != nil {
		r.Count = *count
	}
	if keymatch != nil {
		r.Keymatch = *keymatch
	}
	return r, true, nil
}

// Community is another community of the circle, for the pay form.
type Community struct {
	ID      string
	Name    string
	URI     string
	Ticks   cxp.Decimal
	Trading bool
}

// exchangesTTL is how long the circle's list of communities is reused.
const exchangesTTL = time.Minute

// Communities lists the circle's other communities, by id.
func (s *Service) Communities(ctx context.Context) ([]Community, error) {
	list, err := s.exchanges(ctx, false)
	if err != nil {
		return nil, err
	}
	out := make([]Community, 0, len(list))
	for _, e := range list {
		if e.ID == s.cfg.CommunityID {
			continue
		}
		out = append(out, Community{ID: e.ID, Name: e.Name, URI: e.URI, Ticks: e.Ticks, Trading: e.Status == cxp.AccountTrading})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// exchange is the community with id, from the circle's list.
func (s *Service) exchange(ctx context.Context, id string) (cxp.Exchange, error) {
	for fresh := false; ; fresh = true {
		list, err := s.exchanges(ctx, fresh)
		if err != nil {
			return cxp.Exchange{}, err
		}
		for _, e := range list {
			if e.ID == id {
				return e, nil
			}
		}
		if fresh {
			return cxp.Exchange{}, &Error{Code: ErrNotFound, Field: "to", Message: fmt.Sprintf("there is no community %q in the circle", id)}
		}
	}
}

// exchanges is the circle's list of communities, cached for exchangesTTL
// (fresh forces a new list).
func (s *Service) exchanges(ctx context.Context, fresh bool) ([]cxp.Exchange, error) {
	s.mu.Lock()
	list, at := s.exchangesList, s.listedAt
	s.mu.Unlock()
	if !fresh && list != nil && s.now().Sub(at) < exchangesTTL {
		return list, nil
	}
	return s.refreshExchanges(ctx)
}

func (s *Service) refreshExchanges(ctx context.Context) ([]cxp.Exchange, error) {
	resp, err := s.client.Clients(ctx)
	if err == nil {
		err = errOf(resp.Status)
	}
	if err != nil {
		if cxp.IsUnreachable(err) {
			return nil, &Error{Code: ErrRefused, CXP: cxp.CodeServerNotFound, Message: reasonCircleUnreachable}
		}
		return nil, fmt.Errorf("intertrade: list the circle's communities: %w", err)
	}
	s.mu.Lock()
	s.exchangesList, s.listedAt = resp.Exchanges, s.now()
	s.mu.Unlock()
	return resp.Exchanges, nil
}

// prepareRequest is the prepare form's data: the last 365 days' volume, our
// own integrity (the import/export account agrees with our records), and
// the import/export balance in base units.
// prepare reports our import/export balance, volume and integrity to the
// circle and keeps its OK answer (the limits we may spend and earn) for
// payments until the next handshake interval.
func (s *Service) prepare(ctx context.Context) (cxp.PrepareResponse, error) {
	prep, err := s.client.Prepare(ctx, s.prepareRequest(ctx))
	if err == nil {
		err = errOf(prep.Status)
	}
	if err != nil {
		return prep, err
	}
	s.mu.Lock()
	s.prepared, s.preparedAt = prep, s.now()
	s.mu.Unlock()
	return prep, nil
}

// cachedPrepare is the last OK prepare answer while it is younger than the
// handshake interval (fresh=false), else a new prepare (fresh=true).
func (s *Service) cachedPrepare(ctx context.Context) (prep cxp.PrepareResponse, fresh bool, err error) {
	s.mu.Lock()
	prep, at := s.prepared, s.preparedAt
	s.mu.Unlock()
	if !at.IsZero() && s.now().Sub(at) < s.cfg.Interval {
		return prep, false, nil
	}
	prep, err = s.prepare(ctx)
	return prep, true, err
}

func (s *Service) prepareRequest(ctx context.Context) cxp.PrepareRequest {
	t, err := s.totals(ctx)
	if err != nil {
		s.log.Warn("prepare data", "err", err)
		return cxp.PrepareRequest{}
	}
	ok := t.AccountBalance == t.LocalSum
	return cxp.PrepareRequest{
		Volume:    cxp.FromMinor(t.Volume, s.base()),
		Integrity: &ok,
		Balance:   cxp.FromMinor(t.BaseSum, s.base()),
	}
}

// handshakeFailure is a failed handshake in words for the admin page: a
// block says the circle's reason for it.
func handshakeFailure(err error) string {
	if e, ok := cxp.AsError(err); ok && e.Code == cxp.CodeNotPermitted {
		if r := e.Args["reason"]; r != "" {
			return "the circle has blocked this community: " + r
		}
		return "the circle does not let this community trade (CXP code 16: blocked, or unknown to it)"
	}
	return err.Error()
}
