package clearing

import (
	"context"
	"fmt"
	"math/big"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/ledger/money"
)

// RateChange is one entry of a community's rate history.
type RateChange struct {
	ID          int64     `json:"id"`
	CommunityID string    `json:"community_id"`
	Ticks       string    `json:"ticks"`
	Previous    string    `json:"previous,omitempty"`
	Source      string    `json:"source"` // created, admin, approved, schedule, floating
	Actor       string    `json:"actor"`
	CreatedAt   time.Time `json:"created_at"`
}

// SetRate fixes a community's rate (an admin decision, under any policy).
func (h *House) SetRate(ctx context.Context, actor, id, ticks string) (Community, error) {
	t, err := ParseTicks(ticks)
	if err != nil {
		return Community{}, invalid("ticks", "%v", err)
	}
	return h.changeRate(ctx, actor, id, "admin", func(Community) (string, error) { return t, nil })
}

// ApproveRate puts a community's declared rate in force.
func (h *House) ApproveRate(ctx context.Context, actor, id string) (Community, error) {
	return h.changeRate(ctx, actor, id, "approved", func(c Community) (string, error) {
		if c.DeclaredTicks == "" {
			return "", conflict("declared_ticks", "community %s has no declared rate to approve", id)
		}
		return c.DeclaredTicks, nil
	})
}

// SetFloating opts a community in or out of the floating rate rule.
func (h *House) SetFloating(ctx context.Context, actor, id string, on bool) (Community, error) {
	defer h.changed()
	var out Community
	err := h.ledger.InTx(ctx, func(tx *ledgerTx) error {
		before, err := h.lockCommunity(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.Conn().Exec(ctx, `UPDATE clearing_communities SET floating = $2 WHERE id = $1`, id, on); err != nil {
			return err
		}
		out = before
		out.Floating = on
		return audit(ctx, tx.Conn(), h.now(), actor, "community.floating", id,
			map[string]bool{"floating": before.Floating}, map[string]bool{"floating": on})
	})
	return out, err
}

func (h *House) changeRate(ctx context.Context, actor, id, source string, next func(Community) (string, error)) (Community, error) {
	defer h.changed()
	var out Community
	err := h.ledger.InTx(ctx, func(tx *ledgerTx) error {
		before, err := h.lockCommunity(ctx, tx, id)
		if err != nil {
			return err
		}
		ticks, err := next(before)
		if err != nil {
			return err
		}
		out, err = h.applyRate(ctx, tx, before, ticks, source, actor)
		return err
	})
	return out, err
}

// applyRate puts ticks in force for a locked community, clears a matching
// declaration, and records the change in the history and the audit log.
func (h *House) applyRate(ctx context.Context, tx *ledger.Tx, before Community, ticks, source, actor string) (Community, error) {
	q := tx.Conn()
	now := h.now()
	if _, err := q.Exec(ctx, `UPDATE clearing_communities SET ticks = $2::numeric,
		declared_ticks = CASE WHEN declared_ticks = $2::numeric THEN NULL ELSE declared_ticks END,
		declared_at = CASE WHEN declared_ticks = $2::numeric THEN NULL ELSE declared_at END
		WHERE id = $1`, before.ID, ticks); err != nil {
		return Community{}, fmt.Errorf("clearing: rate: %w", err)
	}
	if _, err := q.Exec(ctx, `INSERT INTO clearing_rates (community_id, ticks, previous, source, actor, created_at)
		VALUES ($1, $2::numeric, $3::numeric, $4, $5, $6)`, before.ID, ticks, before.Ticks, source, actor, now); err != nil {
		return Community{}, fmt.Errorf("clearing: rate history: %w", err)
	}
	after, err := h.lockCommunity(ctx, tx, before.ID)
	if err != nil {
		return Community{}, err
	}
	err = audit(ctx, q, now, actor, "community.rate", before.ID,
		map[string]string{"ticks": before.Ticks, "declared_ticks": before.DeclaredTicks},
		map[string]string{"ticks": after.Ticks, "declared_ticks": after.DeclaredTicks, "source": source})
	return after, err
}

// Rates is a community's rate history, oldest first.
func (h *House) Rates(ctx context.Context, id string) ([]RateChange, error) {
	rows, err := h.pool.Query(ctx, `SELECT id, community_id, ticks::text, coalesce(previous::text, ''), source, actor, created_at
		FROM clearing_rates WHERE community_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("clearing: rates: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (RateChange, error) {
		var c RateChange
		err := r.Scan(&c.ID, &c.CommunityID, &c.Ticks, &c.Previous, &c.Source, &c.Actor, &c.CreatedAt)
		return c, err
	})
}

// FloatTicks is the floating rule: when a community's balance of trade is
// outside the band (band % of its limit on that side), its rate moves by
// step %: down when it owes (its currency buys less), up when it is owed.
// Inside the band the rate stays. The result has at most 6 decimal places
// (money.Rate.Scale, rounded half away from zero) and never reaches 0.
func FloatTicks(ticks string, balance, min, max int64, bandPercent, stepPercent string) (string, bool) {
	t, err := money.ParseRate(ticks)
	band, ok := new(big.Rat).SetString(bandPercent)
	if err != nil || !ok {
		return ticks, false
	}
	hundred := big.NewRat(100, 1)
	var dir int
	switch {
	case balance < 0 && min < 0:
		// -balance > band% of -min
		if new(big.Rat).Mul(big.NewRat(-balance, 1), hundred).Cmp(new(big.Rat).Mul(band, big.NewRat(-min, 1))) > 0 {
			dir = -1
		}
	case balance > 0 && max > 0:
		if new(big.Rat).Mul(big.NewRat(balance, 1), hundred).Cmp(new(big.Rat).Mul(band, big.NewRat(max, 1))) > 0 {
			dir = 1
		}
	}
	if dir == 0 {
		return ticks, false
	}
	pct := stepPercent
	if dir < 0 {
		pct = "-" + stepPercent
	}
	next, err := t.Scale(pct, 6, money.HalfAwayFromZero)
	if err != nil {
		return ticks, false
	}
	return next.String(), next.Cmp(t) != 0
}

// LimitsFor is the limit policy: the limits a community should have, in base
// minor units, or ok=false when the policy is explicit (admins set them).
// per_member: ± limit_per_member × traders; volume_percent: ± limit_percent %
// of the trailing 3-month volume (rounded down). Neither goes below the
// circle's floor.
func LimitsFor(p Policy, traders, volume3m int64) (min, max int64, ok bool) {
	var v int64
	switch p.LimitPolicy {
	case LimitPerMember:
		v = p.LimitPerMember * traders
		if traders != 0 && v/traders != p.LimitPerMember {
			v = 1<<62 - 1
		}
	case LimitVolumePercent:
		pct, good := new(big.Rat).SetString(p.LimitPercent)
		if !good {
			return 0, 0, false
		}
		r := new(big.Rat).Mul(pct, big.NewRat(volume3m, 100))
		q := new(big.Int).Quo(r.Num(), r.Denom())
		if !q.IsInt64() {
			v = 1<<62 - 1
		} else {
			v = q.Int64()
		}
	default:
		return 0, 0, false
	}
	if v < p.LimitFloor {
		v = p.LimitFloor
	}
	return -v, v, true
}

// ScheduleResult counts what a scheduled run changed.
type ScheduleResult struct {
	RatesApplied  int `json:"rates_applied"`
	RatesFloated  int `json:"rates_floated"`
	LimitsChanged int `json:"limits_changed"`
	LimitsSkipped int `json:"limits_skipped"`
}

// RunSchedule is the circle's scheduled work: declared rates take effect
// (declared_on_schedule), floating rates move (floating, for opted-in
// communities), and limits are recomputed by the limit policy for every
// community without an admin override. Limits that would exclude a
// community's current balance are left alone (and counted as skipped).
func (h *House) RunSchedule(ctx context.Context) (ScheduleResult, error) {
	defer h.changed()
	var res ScheduleResult
	circle, err := h.Circle(ctx)
	if err != nil {
		return res, err
	}
	list, err := h.communityRows(ctx, `true`)
	if err != nil {
		return res, err
	}
	const actor = "schedule"
	for _, c := range list {
		var one ScheduleResult // this community's changes, counted once its transaction committed
		err := h.ledger.InTx(ctx, func(tx *ledgerTx) error {
			one = ScheduleResult{} // InTx may run this again after a serialization failure
			cur, err := h.lockCommunity(ctx, tx, c.ID)
			if err != nil {
				return err
			}
			switch {
			case circle.RatePolicy == RateOnSchedule && cur.DeclaredTicks != "":
				if cur, err = h.applyRate(ctx, tx, cur, cur.DeclaredTicks, "schedule", actor); err != nil {
					return err
				}
				one.RatesApplied++
			case circle.RatePolicy == RateFloating && cur.Floating:
				if next, moved := FloatTicks(cur.Ticks, cur.Balance, cur.Min, cur.Max, circle.FloatBandPercent, circle.FloatStepPercent); moved {
					if cur, err = h.applyRate(ctx, tx, cur, next, "floating", actor); err != nil {
						return err
					}
					one.RatesFloated++
				}
			}
			if cur.LimitsOverride {
				return nil
			}
			now := h.now()
			vol, err := h.volume(ctx, tx.Conn(), cur.ID, now.AddDate(0, -3, 0), now)
			if err != nil {
				return err
			}
			min, max, ok := LimitsFor(circle.Policy, cur.Traders, vol)
			if !ok || (min == cur.Min && max == cur.Max) {
				return nil
			}
			if _, err := tx.SetLimits(ctx, cur.AccountID, min, max); err != nil {
				if ledger.CodeOf(err) == ledger.CodeLimitsExcludeBalance {
					one.LimitsSkipped++
					return nil
				}
				return err
			}
			one.LimitsChanged++
			return audit(ctx, tx.Conn(), now, actor, "community.limits", cur.ID,
				map[string]int64{"min": cur.Min, "max": cur.Max}, map[string]any{"min": min, "max": max, "policy": circle.LimitPolicy})
		})
		if err != nil {
			return res, fmt.Errorf("clearing: schedule %s: %w", c.ID, err)
		}
		res.RatesApplied += one.RatesApplied
		res.RatesFloated += one.RatesFloated
		res.LimitsChanged += one.LimitsChanged
		res.LimitsSkipped += one.LimitsSkipped
	}
	return res, nil
}
