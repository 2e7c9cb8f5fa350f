package intertrade

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/ledger"
)

// sums are our side of the integrity check.
type sums struct {
	AccountBalance int64       // the import/export account's posted balance, local minor units
	AccountHeld    int64       // held on it by payments in flight
	LocalSum       int64       // signed sum of completed intertrades' amounts (out +, in −)
	BaseSum        int64       // signed sum of their base quantities, base minor units
	Volume         int64       // base quantities of the last 365 days, both ways
	Pending        int         // intertrades in flight
	Rounding       cxp.Decimal // the rounding account: the sum of the remainders, base units
	Unexplained    int         // completed intertrades whose remainder does not explain their conversion
}

// importExportAccount is the import/export account as it is now.
func (s *Service) importExportAccount(ctx context.Context) (ledger.Account, error) {
	id, err := s.importExport(ctx)
	if err != nil {
		return ledger.Account{}, err
	}
	acc, err := s.ledger.Account(ctx, id)
	if err != nil {
		return ledger.Account{}, fmt.Errorf("intertrade: import/export account: %w", err)
	}
	return acc, nil
}

func (s *Service) sums(ctx context.Context) (sums, error) {
	acc, err := s.importExportAccount(ctx)
	if err != nil {
		return sums{}, err
	}
	var base, volume string
	var out sums
	err = s.pool.QueryRow(ctx, `
		SELECT COALESCE(sum(CASE direction WHEN 'out' THEN amount ELSE -amount END) FILTER (WHERE state = 'completed'), 0),
		       COALESCE(sum(CASE direction WHEN 'out' THEN quantity ELSE -quantity END) FILTER (WHERE state = 'completed'), 0)::text,
		       COALESCE(sum(quantity) FILTER (WHERE state = 'completed' AND created_at > $1), 0)::text,
		       count(*) FILTER (WHERE state = 'pending')
		FROM intertrades`, s.now().Add(-365*24*time.Hour),
	).Scan(&out.LocalSum, &base, &volume, &out.Pending)
	if err != nil {
		return sums{}, fmt.Errorf("intertrade: sums: %w", err)
	}
	if out.BaseSum, err = cxp.Decimal(base).Minor(s.base()); err != nil {
		return sums{}, fmt.Errorf("intertrade: base sum %s: %w", base, err)
	}
	if out.Volume, err = cxp.Decimal(volume).Minor(s.base()); err != nil {
		return sums{}, fmt.Errorf("intertrade: volume %s: %w", volume, err)
	}
	// Every completed intertrade's conversion is explained by its remainder
	// (see rounding.go), which is less than one minor unit of what it was
	// converted to. Rows recorded before remainders were (NULL) are skipped.
	var rounding string
	err = s.pool.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE
		         (direction = 'out' AND (amount * ticks * power(10::numeric, -$1::int) <> quantity + rounding
		                                 OR rounding >= power(10::numeric, -$2::int)))
		      OR (direction = 'in' AND (quantity <> amount * ticks * power(10::numeric, -$1::int) + rounding
		                                 OR rounding >= ticks * power(10::numeric, -$1::int)))),
		       COALESCE(sum(rounding), 0)::text
		FROM intertrades WHERE state = 'completed' AND rounding IS NOT NULL`, s.cfg.Divisions, s.base(),
	).Scan(&out.Unexplained, &rounding)
	if err != nil {
		return sums{}, fmt.Errorf("intertrade: rounding: %w", err)
	}
	out.Rounding = exactDecimal(cxp.Decimal(rounding).Rat())
	out.AccountBalance, out.AccountHeld = acc.Balance, acc.PendingCredits
	return out, nil
}

// totals are the figures a prepare reports (AccountBalance, LocalSum,
// BaseSum, Volume), from the import/export account and the maintained
// intertrade_totals and intertrade_volume_days (migration 000016: a trigger
// updates them in the transaction of every intertrade that completes),
// never from a scan of the intertrades: one account, one row, and a row per
// day of the last year. Volume
// counts whole UTC days, the 365 before today and today.
func (s *Service) totals(ctx context.Context) (sums, error) {
	acc, err := s.importExportAccount(ctx)
	if err != nil {
		return sums{}, err
	}
	var base, volume string
	out := sums{AccountBalance: acc.Balance, AccountHeld: acc.PendingCredits}
	err = s.pool.QueryRow(ctx, `
		SELECT local_sum, base_sum::text,
		       (SELECT coalesce(sum(volume), 0) FROM intertrade_volume_days WHERE day >= $1::date)::text
		FROM intertrade_totals WHERE one = true`, s.now().UTC().AddDate(0, 0, -365).Format(time.DateOnly),
	).Scan(&out.LocalSum, &base, &volume)
	if err != nil {
		return sums{}, fmt.Errorf("intertrade: totals: %w", err)
	}
	if out.BaseSum, err = cxp.Decimal(base).Minor(s.base()); err != nil {
		return sums{}, fmt.Errorf("intertrade: base sum %s: %w", base, err)
	}
	if out.Volume, err = cxp.Decimal(volume).Minor(s.base()); err != nil {
		return sums{}, fmt.Errorf("intertrade: volume %s: %w", volume, err)
	}
	return out, nil
}

// IntegrityReport is one reconciliation of the import/export account with
// the circle. OK when the account's balance equals the signed sum of the
// completed intertrades' local amounts, the signed sum of their base
// quantities equals minus the circle's virtual customer balance, and every
// conversion is explained by its recorded remainder (the rounding account).
type IntegrityReport struct {
	ID             int64
	At             time.Time
	OK             bool
	AccountBalance int64       // local minor units
	LocalSum       int64       // local minor units
	BaseSum        cxp.Decimal // base units: the import/export balance expressed in base units
	CircleBalance  cxp.Decimal // base units, from the last successful handshake ("" if none)
	HandshakeAt    time.Time   // when the circle reported CircleBalance
	Pending        int         // intertrades in flight at the time
	Rounding       cxp.Decimal // the rounding account: remainders kept by truncation, base units
	Problems       []string
	// Stale: the circle's balance disagrees but is older than our records
	// (a later handshake failed, or intertrades completed since it), so
	// the comparison is unknown rather than a mismatch.
	Stale bool
}

// State is the check in words: "ok", "mismatch", or "unknown (data from
// <the circle's handshake>)" when the circle's data is stale.
func (r IntegrityReport) State() string {
	switch {
	case len(r.Problems) > 0:
		return "mismatch"
	case r.Stale:
		return "unknown (data from " + r.HandshakeAt.UTC().Format("2006-01-02 15:04") + " UTC)"
	case r.OK:
		return "ok"
	}
	return "unknown"
}

// CheckIntegrity compares our records with the circle's last reported
// balance (call Handshake first for a fresh one), records the result and
// logs a mismatch. It never changes a balance.
func (s *Service) CheckIntegrity(ctx context.Context) (IntegrityReport, error) {
	sm, err := s.sums(ctx)
	if err != nil {
		return IntegrityReport{}, err
	}
	hs, ok, err := s.LastHandshake(ctx, true)
	if err != nil {
		return IntegrityReport{}, err
	}
	rep := IntegrityReport{
		At: s.now(), AccountBalance: sm.AccountBalance, LocalSum: sm.LocalSum,
		BaseSum: cxp.FromMinor(sm.BaseSum, s.base()), Pending: sm.Pending, Rounding: sm.Rounding,
	}
	if sm.Unexplained > 0 {
		rep.Problems = append(rep.Problems, fmt.Sprintf(
			"%d completed intertrades are not explained by their rate and rounding remainder (amount × rate and base quantity differ by more than the recorded remainder)",
			sm.Unexplained))
	}
	// The maintained totals that prepares report must be what the scan of
	// every intertrade finds.
	if tot, err := s.totals(ctx); err != nil {
		return IntegrityReport{}, err
	} else if tot.LocalSum != sm.LocalSum || tot.BaseSum != sm.BaseSum {
		rep.Problems = append(rep.Problems, fmt.Sprintf(
			"the maintained totals (%s %s, %s base units) differ from the recorded intertrades' sums (%s %s, %s base units)",
			cxp.FromMinor(tot.LocalSum, s.cfg.Divisions), s.cfg.Currency, cxp.FromMinor(tot.BaseSum, s.base()),
			cxp.FromMinor(sm.LocalSum, s.cfg.Divisions), s.cfg.Currency, cxp.FromMinor(sm.BaseSum, s.base())))
	}
	if sm.AccountBalance != sm.LocalSum {
		rep.Problems = append(rep.Problems, fmt.Sprintf(
			"the import/export account's balance %s differs from the recorded intertrades' sum %s (%s)",
			cxp.FromMinor(sm.AccountBalance, s.cfg.Divisions), cxp.FromMinor(sm.LocalSum, s.cfg.Divisions), s.cfg.Currency))
	}
	stale := false
	if ok {
		if stale, err = s.newerThan(ctx, hs); err != nil {
			return IntegrityReport{}, err
		}
	}
	switch {
	case !ok || hs.Balance == "":
		rep.Problems = append(rep.Problems, "the circle has not reported our virtual customer's balance yet")
	default:
		rep.CircleBalance, rep.HandshakeAt = hs.Balance, hs.At
		circle, err := hs.Balance.Minor(s.base())
		switch {
		case err != nil:
			rep.Problems = append(rep.Problems, fmt.Sprintf("the circle's balance %s has more than %d decimal places", hs.Balance, s.base()))
		case sm.BaseSum != -circle && stale:
			rep.Stale = true
		case sm.BaseSum != -circle:
			p := fmt.Sprintf("our intertrades sum to %s base units, but the circle's virtual customer balance is %s (it should be %s)",
				rep.BaseSum, hs.Balance, cxp.FromMinor(-sm.BaseSum, s.base()))
			if sm.Pending > 0 {
				p += fmt.Sprintf("; %d intertrades are in flight", sm.Pending)
			}
			rep.Problems = append(rep.Problems, p)
		}
	}
	rep.OK = len(rep.Problems) == 0 && !rep.Stale
	var circle *string
	if rep.CircleBalance != "" {
		v := string(rep.CircleBalance)
		circle = &v
	}
	err = s.pool.QueryRow(ctx, `
		INSERT INTO intertrade_integrity_checks (at, ok, account_balance, local_sum, base_sum, circle_balance, problems, rounding, stale, circle_data_at)
		VALUES ($1, $2, $3, $4, $5::numeric, $6::numeric, $7, $8::numeric, $9, $10) RETURNING id`,
		rep.At, rep.OK, rep.AccountBalance, rep.LocalSum, string(rep.BaseSum), circle, strings.Join(rep.Problems, "\n"), string(rep.Rounding),
		rep.Stale, nullTime(rep.HandshakeAt),
	).Scan(&rep.ID)
	if err != nil {
		return IntegrityReport{}, fmt.Errorf("intertrade: record integrity check: %w", err)
	}
	if !rep.OK {
		s.log.Error("intertrading integrity check failed", "problems", strings.Join(rep.Problems, "; "))
	}
	return rep, nil
}

// Reconcile handshakes for a fresh circle balance, reports our balance to
// the circle (a prepare, which the circle checks on its side), then checks
// integrity.
// A circle that cannot be reached leaves the last known balance in use.
func (s *Service) Reconcile(ctx context.Context) (IntegrityReport, error) {
	if _, err := s.Handshake(ctx); err != nil {
		s.log.Warn("handshake before the integrity check failed", "err", err)
	} else if _, err := s.prepare(ctx); err != nil {
		// The prepare reports our import/export balance to the circle,
		// which checks it against the virtual customer on its side.
		s.log.Warn("reporting our balance to the circle failed", "err", err)
	}
	return s.CheckIntegrity(ctx)
}

// LastIntegrity is the latest integrity check (ok=false when there was none).
func (s *Service) LastIntegrity(ctx context.Context) (IntegrityReport, bool, error) {
	var rep IntegrityReport
	var base string
	var circle *string
	var problems string
	var dataAt *time.Time
	err := s.pool.QueryRow(ctx, `
		SELECT id, at, ok, account_balance, local_sum, base_sum::text, circle_balance::text, problems, coalesce(rounding::text, ''),
		       stale, circle_data_at
		FROM intertrade_integrity_checks ORDER BY id DESC LIMIT 1`,
	).Scan(&rep.ID, &rep.At, &rep.OK, &rep.AccountBalance, &rep.LocalSum, &base, &circle, &problems, &rep.Rounding,
		&rep.Stale, &dataAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return IntegrityReport{}, false, nil
	}
	if err != nil {
		return IntegrityReport{}, false, fmt.Errorf("intertrade: last integrity check: %w", err)
	}
	rep.BaseSum = cxp.Decimal(base)
	if circle != nil {
		rep.CircleBalance = cxp.Decimal(*circle)
	}
	if problems != "" {
		rep.Problems = strings.Split(problems, "\n")
	}
	if dataAt != nil {
		rep.HandshakeAt = *dataAt
	}
	return rep, true, nil
}

// Overview is what the admin page shows.
type Overview struct {
	Config       Config         // the key left out
	RateInForce  cxp.Decimal    // the rate conversions use
	Account      ledger.Account // the import/export account
	Handshake    HandshakeResult
	HasHandshake bool
	Integrity    IntegrityReport
	HasIntegrity bool
	Pending      int // outgoing payments the circle has not answered
	Failed       int
	Completed    int
}

// Overview gathers the intertrading state for the admins.
func (s *Service) Overview(ctx context.Context) (Overview, error) {
	o := Overview{Config: s.Config(), RateInForce: s.Ticks()}
	var err error
	if o.Account, err = s.importExportAccount(ctx); err != nil {
		return Overview{}, err
	}
	if o.Handshake, o.HasHandshake, err = s.LastHandshake(ctx, false); err != nil {
		return Overview{}, err
	}
	if o.Integrity, o.HasIntegrity, err = s.LastIntegrity(ctx); err != nil {
		return Overview{}, err
	}
	err = s.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'failed'),
		count(*) FILTER (WHERE state = 'completed') FROM intertrades`).Scan(&o.Pending, &o.Failed, &o.Completed)
	if err != nil {
		return Overview{}, fmt.Errorf("intertrade: counts: %w", err)
	}
	return o, nil
}

// Balance is the balance of a member's account after a payment (for answers).
func (s *Service) Balance(ctx context.Context, id ledger.AccountID) (int64, error) {
	acc, err := s.ledger.Account(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("intertrade: account: %w", err)
	}
	return acc.Balance, nil
}

// newerThan reports whether our records are newer than the successful
// handshake hs: a later handshake failed, or an intertrade completed or
// changed after it.
func (s *Service) newerThan(ctx context.Context, hs HandshakeResult) (bool, error) {
	var newer bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM intertrade_handshakes WHERE id > $1 AND NOT ok)
		OR EXISTS (SELECT 1 FROM intertrades WHERE state = 'completed' AND updated_at > $2)`, hs.ID, hs.At).Scan(&newer)
	if err != nil {
		return false, fmt.Errorf("intertrade: integrity: newer records: %w", err)
	}
	return newer, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
