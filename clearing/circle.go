package clearing

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
)

// Rate policies: how a community's rate changes.
const (
	RateOnApproval = "declared_on_approval" // a rate declared in a handshake waits for an admin's approval
	RateOnSchedule = "declared_on_schedule" // a declared rate takes effect at the next scheduled run
	RateFixed      = "fixed"                // only admins set rates; declarations are ignored
	RateFloating   = "floating"             // opted-in communities' rates follow their balance of trade
)

// Limit policies: how a community's balance limits are set.
const (
	LimitExplicit      = "explicit"       // admins set them
	LimitPerMember     = "per_member"     // ± limit_per_member × the community's traders
	LimitVolumePercent = "volume_percent" // ± limit_percent % of its trailing 3-month volume
)

// Circle is the intertrading circle this clearing house serves.
type Circle struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Unit      string `json:"unit"`
	Divisions int    `json:"divisions"`
	Policy
	CreatedAt time.Time `json:"created_at"`
}

// Policy is the circle's set of rules.
type Policy struct {
	RatePolicy  string `json:"rate_policy"`
	LimitPolicy string `json:"limit_policy"`
	// LimitPerMember and LimitFloor are base minor units.
	LimitPerMember int64  `json:"limit_per_member"`
	LimitPercent   string `json:"limit_percent"`
	LimitFloor     int64  `json:"limit_floor"`
	// RatioPercent bounds |balance| / trailing 365-day volume (code 14); "" for no bound.
	RatioPercent     string `json:"ratio_percent"`
	FloatBandPercent string `json:"float_band_percent"`
	FloatStepPercent string `json:"float_step_percent"`
	// SignatureWindow is how far a request's created time may be off, in seconds.
	SignatureWindow int `json:"signature_window"`
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
var percentPattern = regexp.MustCompile(`^\d{1,6}(\.\d{1,6})?$`)
var unitPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,16}$`)

const circleColumns = `id, name, unit, divisions, rate_policy, limit_policy, limit_per_member,
	limit_percent::text, limit_floor, coalesce(ratio_percent::text, ''), float_band_percent::text,
	float_step_percent::text, signature_window, created_at`

func scanCircle(row pgx.Row) (Circle, error) {
	var c Circle
	err := row.Scan(&c.ID, &c.Name, &c.Unit, &c.Divisions, &c.RatePolicy, &c.LimitPolicy, &c.LimitPerMember,
		&c.LimitPercent, &c.LimitFloor, &c.RatioPercent, &c.FloatBandPercent, &c.FloatStepPercent,
		&c.SignatureWindow, &c.CreatedAt)
	return c, err
}

// Circle returns the circle, or an ErrNotFound *Error before `circle init`.
func (h *House) Circle(ctx context.Context) (Circle, error) {
	if err := h.fresh(ctx); err != nil {
		return Circle{}, err
	}
	return h.cachedCircle(ctx)
}

func circleOf(ctx context.Context, q querier) (Circle, error) {
	c, err := scanCircle(q.QueryRow(ctx, `SELECT `+circleColumns+` FROM clearing_circle`))
	if errors.Is(err, pgx.ErrNoRows) {
		return Circle{}, notFound("the circle is not initialised (run sxp admin circle init)")
	}
	if err != nil {
		return Circle{}, fmt.Errorf("clearing: circle: %w", err)
	}
	return c, nil
}

// InitCircle creates the circle once. Running it again with the same id,
// unit and divisions changes nothing and returns the circle; different
// values are a conflict (the unit of existing balances cannot change).
func (h *House) InitCircle(ctx context.Context, actor, id, name, unit string, divisions int) (Circle, bool, error) {
	defer h.changed()
	if !idPattern.MatchString(id) {
		return Circle{}, false, invalid("id", "%q: use letters, digits, '.', '_' or '-' (at most 63)", id)
	}
	if !unitPattern.MatchString(unit) {
		return Circle{}, false, invalid("unit", "%q: use 1 to 16 letters, digits, '_' or '-'", unit)
	}
	if divisions < 0 || divisions > 8 {
		return Circle{}, false, invalid("divisions", "%d: must be 0 to 8 decimal places", divisions)
	}
	if name == "" {
		name = id
	}
	created := false
	var out Circle
	err := h.ledger.InTx(ctx, func(tx *ledgerTx) error {
		q := tx.Conn()
		existing, err := circleOf(ctx, q)
		if err == nil {
			if existing.ID != id || existing.Unit != unit || existing.Divisions != divisions {
				return conflict("id", "the circle is already %s (unit %s, %d divisions)", existing.ID, existing.Unit, existing.Divisions)
			}
			out = existing
			return nil
		}
		if !errIsNotFound(err) {
			return err
		}
		out, err = scanCircle(q.QueryRow(ctx, `INSERT INTO clearing_circle (id, name, unit, divisions, created_at)
			VALUES ($1, $2, $3, $4, $5) RETURNING `+circleColumns, id, name, unit, divisions, h.now()))
		if err != nil {
			return fmt.Errorf("clearing: init circle: %w", err)
		}
		created = true
		return audit(ctx, q, h.now(), actor, "circle.init", id, nil, out)
	})
	return out, created, err
}

// SetPolicy replaces the circle's policy.
func (h *House) SetPolicy(ctx context.Context, actor string, p Policy) (Circle, error) {
	defer h.changed()
	switch p.RatePolicy {
	case RateOnApproval, RateOnSchedule, RateFixed, RateFloating:
	default:
		return Circle{}, invalid("rate_policy", "%q: want declared_on_approval, declared_on_schedule, fixed or floating", p.RatePolicy)
	}
	switch p.LimitPolicy {
	case LimitExplicit, LimitPerMember, LimitVolumePercent:
	default:
		return Circle{}, invalid("limit_policy", "%q: want explicit, per_member or volume_percent", p.LimitPolicy)
	}
	if p.LimitPerMember < 0 || p.LimitFloor < 0 {
		return Circle{}, invalid("limit_per_member", "limits must not be negative")
	}
	if p.LimitPercent != "" && !percentPattern.MatchString(p.LimitPercent) {
		return Circle{}, invalid("limit_percent", "%q is not a decimal percentage", p.LimitPercent)
	}
	for field, v := range map[string]*string{"float_band_percent": &p.FloatBandPercent, "float_step_percent": &p.FloatStepPercent} {
		if *v == "" {
			continue
		}
		if _, err := ParseTicks(*v); err != nil || !percentPattern.MatchString(*v) {
			return Circle{}, invalid(field, "%q is not a positive decimal percentage", *v)
		}
	}
	if p.RatioPercent != "" {
		if _, err := ParseTicks(p.RatioPercent); err != nil {
			return Circle{}, invalid("ratio_percent", "%q is not a positive decimal", p.RatioPercent)
		}
	}
	if p.SignatureWindow < 1 || p.SignatureWindow > 3600 {
		return Circle{}, invalid("signature_window", "%d: must be 1 to 3600 seconds", p.SignatureWindow)
	}
	var out Circle
	err := h.ledger.InTx(ctx, func(tx *ledgerTx) error {
		q := tx.Conn()
		before, err := scanCircle(q.QueryRow(ctx, `SELECT `+circleColumns+` FROM clearing_circle FOR UPDATE`))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("the circle is not initialised")
		}
		if err != nil {
			return err
		}
		pct := func(s, def string) string {
			if s == "" {
				return def
			}
			return s
		}
		out, err = scanCircle(q.QueryRow(ctx, `UPDATE clearing_circle SET rate_policy = $1, limit_policy = $2,
			limit_per_member = $3, limit_percent = $4::numeric, limit_floor = $5, ratio_percent = nullif($6, '')::numeric,
			float_band_percent = $7::numeric, float_step_percent = $8::numeric, signature_window = $9
			RETURNING `+circleColumns,
			p.RatePolicy, p.LimitPolicy, p.LimitPerMember, pct(p.LimitPercent, "0"), p.LimitFloor, p.RatioPercent,
			pct(p.FloatBandPercent, "50"), pct(p.FloatStepPercent, "1"), p.SignatureWindow))
		if err != nil {
			return fmt.Errorf("clearing: set policy: %w", err)
		}
		return audit(ctx, q, h.now(), actor, "circle.policy", out.ID, before.Policy, out.Policy)
	})
	return out, err
}
