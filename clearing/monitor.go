package clearing

import (
	"context"
	"fmt"
	"time"
)

// Alert is one thing the governing body should look at (seed item 6).
type Alert struct {
	Kind      string `json:"kind"` // near_limit, integrity, volume_spike, reject_spike, blocked_traffic
	Community string `json:"community"`
	Message   string `json:"message"`
	// Values are the numbers behind the alert (base units as decimals, counts as integers).
	Values map[string]string `json:"values"`
}

// MonitorOptions tunes the monitors. Zero values take the defaults.
type MonitorOptions struct {
	NearPercent int64         // alert when a balance uses more than this % of its limit (90)
	Window      time.Duration // the recent window compared with the baseline (24 h)
	Baseline    time.Duration // the trailing baseline before the window (30 days)
	SpikeFactor int64         // a spike is more than this many times the baseline rate (3)
	MinEvents   int64         // and at least this many events in the window (5)
}

func (o MonitorOptions) withDefaults() MonitorOptions {
	if o.NearPercent <= 0 {
		o.NearPercent = 90
	}
	if o.Window <= 0 {
		o.Window = 24 * time.Hour
	}
	if o.Baseline <= 0 {
		o.Baseline = 30 * 24 * time.Hour
	}
	if o.SpikeFactor <= 0 {
		o.SpikeFactor = 3
	}
	if o.MinEvents <= 0 {
		o.MinEvents = 5
	}
	return o
}

// NearLimit says whether balance (with holds) uses more than percent % of
// the limit on its side.
func NearLimit(balance, min, max, percent int64) bool {
	switch {
	case balance < 0 && min < 0:
		return -balance*100 > -min*percent
	case balance > 0 && max > 0:
		return balance*100 > max*percent
	}
	return false
}

// Spike says whether recent events in a window of length w are more than
// factor times the baseline's rate (baseline events over length b), and at
// least minEvents. Pure integer arithmetic: recent × b > factor × base × w.
func Spike(recent, base int64, w, b time.Duration, factor, minEvents int64) bool {
	if recent < minEvents {
		return false
	}
	if base == 0 {
		return true
	}
	return recent*int64(b/time.Second) > factor*base*int64(w/time.Second)
}

// Monitor runs every monitor and returns the alerts, by kind then community.
func (h *House) Monitor(ctx context.Context, o MonitorOptions) ([]Alert, error) {
	o = o.withDefaults()
	circle, err := h.Circle(ctx)
	if err != nil {
		return nil, err
	}
	list, err := h.Communities(ctx)
	if err != nil {
		return nil, err
	}
	f := func(v int64) string { return FormatAmount(v, circle.Divisions) }
	alerts := []Alert{}
	for _, c := range list {
		spent := c.Balance - c.PendingDebits
		earned := c.Balance + c.PendingCredits
		if NearLimit(spent, c.Min, c.Max, o.NearPercent) || NearLimit(earned, c.Min, c.Max, o.NearPercent) {
			alerts = append(alerts, Alert{Kind: "near_limit", Community: c.ID,
				Message: fmt.Sprintf("%s uses more than %d%% of a limit", c.ID, o.NearPercent),
				Values:  map[string]string{"balance": f(c.Balance), "min": f(c.Min), "max": f(c.Max)}})
		}
	}
	for _, c := range list {
		if c.IntegrityOK != nil && !*c.IntegrityOK {
			v := map[string]string{"virtual_customer_balance": f(c.Balance)}
			if c.ReportedBalance != nil {
				v["reported_balance"] = f(*c.ReportedBalance)
				v["expected_reported_balance"] = f(-c.Balance)
			}
			if c.ReportedIntegrity != nil {
				v["reported_integrity"] = fmt.Sprint(*c.ReportedIntegrity)
			}
			alerts = append(alerts, Alert{Kind: "integrity", Community: c.ID,
				Message: fmt.Sprintf("%s reported an import/export balance that is not minus its virtual customer's, or a failed integrity check", c.ID),
				Values:  v})
		}
	}
	for _, c := range list {
		if c.Status == StatusBlocked {
			alerts = append(alerts, Alert{Kind: "blocked", Community: c.ID,
				Message: fmt.Sprintf("%s (%s) is blocked: %s", c.Name, c.ID, c.BlockReason),
				Values:  map[string]string{"reason": c.BlockReason}})
		}
	}
	now := h.now()
	winStart, baseStart := now.Add(-o.Window), now.Add(-o.Window-o.Baseline)
	rows, err := h.pool.Query(ctx, `SELECT c.id,
		coalesce((SELECT sum(quantity) FROM clearing_intertrades i WHERE i.status = 'posted' AND (i.payer_community = c.id OR i.payee_community = c.id) AND i.created_at >= $2 AND i.created_at < $3), 0)::bigint,
		coalesce((SELECT sum(quantity) FROM clearing_intertrades i WHERE i.status = 'posted' AND (i.payer_community = c.id OR i.payee_community = c.id) AND i.created_at >= $1 AND i.created_at < $2), 0)::bigint,
		(SELECT count(*) FROM clearing_events e WHERE e.kind = 'reject' AND e.community_id = c.id AND e.created_at >= $2 AND e.created_at < $3),
		(SELECT count(*) FROM clearing_events e WHERE e.kind = 'reject' AND e.community_id = c.id AND e.created_at >= $1 AND e.created_at < $2),
		(SELECT count(*) FROM clearing_events e WHERE e.kind = 'blocked' AND e.community_id = c.id AND e.created_at >= $2 AND e.created_at < $3)
		FROM clearing_communities c ORDER BY c.id`, baseStart, winStart, now)
	if err != nil {
		return nil, fmt.Errorf("clearing: monitor: %w", err)
	}
	defer rows.Close()
	var volume, rejects, blocked []Alert
	for rows.Next() {
		var id string
		var volRecent, volBase, rejRecent, rejBase, blk int64
		if err := rows.Scan(&id, &volRecent, &volBase, &rejRecent, &rejBase, &blk); err != nil {
			return nil, fmt.Errorf("clearing: monitor: %w", err)
		}
		if volRecent > 0 && Spike(volRecent, volBase, o.Window, o.Baseline, o.SpikeFactor, 1) && volBase > 0 {
			volume = append(volume, Alert{Kind: "volume_spike", Community: id,
				Message: fmt.Sprintf("%s traded more than %d times its usual volume", id, o.SpikeFactor),
				Values:  map[string]string{"recent": f(volRecent), "baseline": f(volBase), "window": o.Window.String(), "baseline_window": o.Baseline.String()}})
		}
		if Spike(rejRecent, rejBase, o.Window, o.Baseline, o.SpikeFactor, o.MinEvents) {
			rejects = append(rejects, Alert{Kind: "reject_spike", Community: id,
				Message: fmt.Sprintf("%s had %d refused requests recently", id, rejRecent),
				Values:  map[string]string{"recent": fmt.Sprint(rejRecent), "baseline": fmt.Sprint(rejBase)}})
		}
		if blk > 0 {
			blocked = append(blocked, Alert{Kind: "blocked_traffic", Community: id,
				Message: fmt.Sprintf("%d requests from or to blocked %s", blk, id),
				Values:  map[string]string{"attempts": fmt.Sprint(blk)}})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clearing: monitor: %w", err)
	}
	alerts = append(alerts, volume...)
	alerts = append(alerts, rejects...)
	return append(alerts, blocked...), nil
}

// IntegrityRow is a community's integrity state.
type IntegrityRow struct {
	Community              string     `json:"community"`
	VirtualCustomerBalance string     `json:"virtual_customer_balance"`
	ReportedBalance        *string    `json:"reported_balance"`
	ReportedIntegrity      *bool      `json:"reported_integrity"`
	ReportedAt             *time.Time `json:"reported_at"`
	OK                     *bool      `json:"ok"` // nil until the community has reported
	// Expected is what the community should report: minus the virtual
	// customer's balance as it is now.
	Expected string `json:"expected_reported_balance"`
	// State is IntegrityState: "ok", "mismatch" or "unknown (…)".
	State string `json:"state"`
}

// IntegrityState judges a community's last report against its virtual
// customer's balance now: "ok" only when the report is minus that balance
// and the community's own check passed; "mismatch" when the check at the
// report failed; "unknown (data from <time>)" when the report was right
// when made but the balance has moved since (the report is stale), and
// "unknown (no report yet)" before the first one.
func IntegrityState(c Community) string {
	switch {
	case c.ReportedBalance == nil || c.ReportedAt == nil:
		return "unknown (no report yet)"
	case c.IntegrityOK != nil && !*c.IntegrityOK:
		return "mismatch"
	case *c.ReportedBalance == -c.Balance:
		return "ok"
	}
	return "unknown (data from " + c.ReportedAt.UTC().Format("2006-01-02 15:04") + " UTC)"
}

// Integrity lists every community's last report against its virtual customer.
func (h *House) Integrity(ctx context.Context) ([]IntegrityRow, error) {
	circle, err := h.Circle(ctx)
	if err != nil {
		return nil, err
	}
	list, err := h.Communities(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]IntegrityRow, 0, len(list))
	for _, c := range list {
		r := IntegrityRow{Community: c.ID, VirtualCustomerBalance: FormatAmount(c.Balance, circle.Divisions),
			ReportedIntegrity: c.ReportedIntegrity, ReportedAt: c.ReportedAt, OK: c.IntegrityOK,
			Expected: FormatAmount(-c.Balance, circle.Divisions), State: IntegrityState(c)}
		if c.ReportedBalance != nil {
			s := FormatAmount(*c.ReportedBalance, circle.Divisions)
			r.ReportedBalance = &s
		}
		out = append(out, r)
	}
	return out, nil
}
