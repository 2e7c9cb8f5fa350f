package clearing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/ledger/money"
)

// Handshake stores a community's statement data and answers with its
// account: status, balance, limits, count of intertrades, whether it signed
// with its current key, and the rate in force for it. A declared rate that
// differs from the one in force is kept as a declaration and takes effect
// according to the circle's rate policy.
func (h *House) Handshake(ctx context.Context, callerID string, keyIndex int, req cxp.HandshakeRequest) (cxp.HandshakeResponse, error) {
	defer h.changed()
	if err := req.Validate(); err != nil {
		return cxp.HandshakeResponse{}, err
	}
	circle, err := h.Circle(ctx)
	if err != nil {
		return cxp.HandshakeResponse{}, err
	}
	c, err := h.Community(ctx, callerID)
	if err != nil {
		return cxp.HandshakeResponse{}, cxp.NewError(cxp.CodeNotPermitted, map[string]string{"keyid": callerID})
	}
	uri, uerr := CheckURI(req.URI)
	if uerr != nil || uri != c.URI {
		return cxp.HandshakeResponse{}, cxp.InvalidField("uri", req.URI)
	}
	// The wire spelling (exponents allowed), stored in the canonical plain form.
	rate, terr := money.ParseRateNumber(string(req.Ticks))
	if terr != nil {
		return cxp.HandshakeResponse{}, cxp.TypeError("ticks", "positive number")
	}
	declared := rate.String()
	var firstTrade *time.Time
	if req.FirstTrade > 0 {
		t := time.Unix(req.FirstTrade, 0).UTC()
		firstTrade = &t
	}
	visibility := req.Visibility != nil && *req.Visibility
	var lat, lon *string
	if req.Lat != nil && *req.Lat != "" {
		s := string(*req.Lat)
		lat = &s
	}
	if req.Lon != nil && *req.Lon != "" {
		s := string(*req.Lon)
		lon = &s
	}
	// A declaration is kept only when it differs from the rate in force and
	// the policy lets communities declare.
	keepDeclared := circle.RatePolicy != RateFixed && !ticksEqual(declared, c.Ticks)
	var count int64
	err = h.ledger.InTx(ctx, func(tx *ledgerTx) error {
		q := tx.Conn()
		now := h.now()
		_, err := q.Exec(ctx, `UPDATE clearing_communities SET mail = $2, api = $3, traders = $4, transactions = $5,
			first_trade = $6, divisions_text = $7, visibility = $8, logo = $9, lat = $10::numeric, lon = $11::numeric,
			last_handshake_at = $12,
			declared_ticks = CASE WHEN $13 THEN $14::numeric ELSE NULL END,
			declared_at = CASE WHEN NOT $13 THEN NULL
				WHEN declared_ticks IS DISTINCT FROM $14::numeric THEN $12 ELSE declared_at END
			WHERE id = $1`,
			c.ID, req.Mail, string(req.API), req.Traders, req.Transactions, firstTrade, req.Divisions, visibility,
			req.Logo, lat, lon, now, keepDeclared, declared)
		if err != nil {
			return fmt.Errorf("clearing: handshake: %w", err)
		}
		// Maintained per day (migration 000016), not counted from the history.
		return q.QueryRow(ctx, `SELECT coalesce(sum(count), 0)::bigint FROM clearing_volume_days
			WHERE community_id = $1`, c.ID).Scan(&count)
	})
	if err != nil {
		return cxp.HandshakeResponse{}, err
	}
	status := cxp.AccountTrading
	msg := fmt.Sprintf("Welcome to %s, %s.", circle.Name, c.Name)
	if c.Status == StatusBlocked {
		status = cxp.AccountBlocked
		msg = "Your exchange is blocked: " + c.BlockReason
	}
	if keepDeclared {
		msg += fmt.Sprintf(" Your declared rate %s is noted; the rate in force is %s (%s).", declared, c.Ticks, circle.RatePolicy)
	}
	return cxp.HandshakeResponse{
		Status:        cxp.StatusOK(msg),
		AccountStatus: status,
		Balance:       cxp.FromMinor(c.Balance, circle.Divisions),
		Min:           cxp.FromMinor(c.Min, circle.Divisions),
		Max:           cxp.FromMinor(c.Max, circle.Divisions),
		Count:         count,
		Keymatch:      keyIndex == 0,
		Ticks:         cxp.Decimal(c.Ticks),
	}, nil
}

func ticksEqual(a, b string) bool {
	x, err1 := ParseTicks(a)
	y, err2 := ParseTicks(b)
	return err1 == nil && err2 == nil && x == y
}

// Clients lists the circle's other trading communities with their rates.
func (h *House) Clients(ctx context.Context, callerID string) (cxp.ClientsResponse, error) {
	list, err := h.communityRows(ctx, `status = 'trading' AND id <> $1`, callerID)
	if err != nil {
		return cxp.ClientsResponse{}, err
	}
	out := cxp.ClientsResponse{Status: cxp.StatusOK(fmt.Sprintf("%d exchanges", len(list))),
		Clients: map[string]string{}, Exchanges: []cxp.Exchange{}}
	for _, c := range list {
		out.Clients[c.URI] = c.Name
		out.Exchanges = append(out.Exchanges, cxp.Exchange{ID: c.ID, Name: c.Name, URI: c.URI,
			Ticks: cxp.Decimal(c.Ticks), Status: cxp.AccountTrading})
	}
	return out, nil
}

// communityRows lists communities (without ledger data) by id.
func (h *House) communityRows(ctx context.Context, where string, args ...any) ([]Community, error) {
	rows, err := h.pool.Query(ctx, `SELECT `+communityColumns+` FROM clearing_communities c WHERE `+where+` ORDER BY c.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("clearing: communities: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Community, error) { return scanCommunity(r) })
	if err != nil {
		return nil, fmt.Errorf("clearing: communities: %w", err)
	}
	return list, nil
}

// Prepare records what the community reports about its import/export
// account (its balance must be minus the virtual customer's; a mismatch or a
// reported integrity failure is flagged, never fixed) and answers the
// largest amounts it may spend and earn now.
func (h *House) Prepare(ctx context.Context, callerID string, req cxp.PrepareRequest) (cxp.PrepareResponse, error) {
	circle, err := h.Circle(ctx)
	if err != nil {
		return cxp.PrepareResponse{}, err
	}
	volume, balance, cerr := req.Validate(circle.Divisions)
	if cerr != nil {
		return cxp.PrepareResponse{}, cerr
	}
	c, err := h.Community(ctx, callerID)
	if err != nil {
		return cxp.PrepareResponse{}, cxp.NewError(cxp.CodeNotPermitted, map[string]string{"keyid": callerID})
	}
	if c.Status != StatusTrading {
		return cxp.PrepareResponse{}, cxp.NewError(cxp.CodeNotPermitted, map[string]string{"keyid": callerID, "reason": c.BlockReason})
	}
	reported := req.Balance != "" || req.Integrity != nil || req.Volume != ""
	if reported {
		var bal, vol *int64
		if req.Balance != "" {
			bal = &balance
		}
		if req.Volume != "" {
			vol = &volume
		}
		ok := IntegrityOK(bal, req.Integrity, c.Balance)
		defer h.changed()
		_, err := h.pool.Exec(ctx, `UPDATE clearing_communities SET reported_balance = $2, reported_volume = $3,
			reported_integrity = $4, reported_at = $5, integrity_ok = $6 WHERE id = $1`,
			c.ID, bal, vol, req.Integrity, h.now(), ok)
		if err != nil {
			return cxp.PrepareResponse{}, fmt.Errorf("clearing: prepare: %w", err)
		}
		if !ok {
			h.log.WarnContext(ctx, "clearing: integrity mismatch", "community", c.ID,
				"reported_balance", bal, "virtual_customer_balance", c.Balance, "reported_integrity", req.Integrity)
		}
	}
	return cxp.PrepareResponse{
		Status:     cxp.StatusOK("OK"),
		SpendLimit: cxp.FromMinor(max(c.SpendHeadroom(), 0), circle.Divisions),
		EarnLimit:  cxp.FromMinor(max(c.EarnHeadroom(), 0), circle.Divisions),
	}, nil
}

// IntegrityOK is the integrity rule: the community's import/export balance
// must be exactly minus its virtual customer's balance, and the community
// must report that its own balances add up to zero.
func IntegrityOK(reportedBalance *int64, reportedIntegrity *bool, vcBalance int64) bool {
	if reportedIntegrity != nil && !*reportedIntegrity {
		return false
	}
	if reportedBalance != nil && *reportedBalance != -vcBalance {
		return false
	}
	return true
}

// errIsNotFound says whether err is a clearing ErrNotFound.
func errIsNotFound(err error) bool {
	var ce *Error
	return errors.As(err, &ce) && ce.Code == ErrNotFound
}
