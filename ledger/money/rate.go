package money

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/cockroachdb/apd/v3"
)

// Rate is an exchange rate (ticks): the number of base units one unit of a
// community's currency is worth. The zero Rate is not a valid rate; get one
// from ParseRate or ParseRateNumber.
type Rate struct {
	d apd.Decimal // reduced: no trailing zeros
}

// ParseRate reads a plain spelling of a rate (admins, the configuration).
func ParseRate(s string) (Rate, error) {
	return parseRate(s, plainSpelling)
}

// ParseRateNumber reads a rate written as a JSON number literal (the CXP wire).
func ParseRateNumber(s string) (Rate, error) {
	return parseRate(s, numberSpelling)
}

func parseRate(s string, spelling *regexp.Regexp) (Rate, error) {
	d, err := parse(s, spelling)
	if err != nil {
		return Rate{}, err
	}
	return newRate(d)
}

// newRate checks d's value against the rules of a rate.
func newRate(d *apd.Decimal) (Rate, error) {
	if places(d) > RatePlaces {
		return Rate{}, fmt.Errorf("%w: at most %d", ErrPlaces, RatePlaces)
	}
	if d.Sign() <= 0 {
		return Rate{}, ErrNotPositive
	}
	if d.Cmp(maxRate) > 0 {
		return Rate{}, fmt.Errorf("%w: at most %s", ErrRange, MaxRate)
	}
	var r Rate
	r.d.Reduce(d)
	return r, nil
}

// String is the rate's shortest plain spelling: "2.5", "1000", "0.000001".
func (r Rate) String() string {
	if r.d.IsZero() {
		return ""
	}
	return r.d.Text('f')
}

// Valid reports whether r came from a successful parse.
func (r Rate) Valid() bool { return r.d.Sign() > 0 }

// Cmp compares two rates by value: -1, 0 or +1.
func (r Rate) Cmp(o Rate) int { return r.d.Cmp(&o.d) }

// Scale is r moved by percent % (r × (100 + percent) / 100; percent in the
// plain spelling, negative to move down), rounded once to places decimal
// places (0..RatePlaces) by mode: the step of a floating rate. The result must
// itself be a rate (ErrNotPositive, ErrRange otherwise).
func (r Rate) Scale(percent string, places int, mode Rounding) (Rate, error) {
	if !r.Valid() {
		return Rate{}, errors.New("money: no rate")
	}
	if places < 0 || places > RatePlaces {
		return Rate{}, fmt.Errorf("money: %d rate places: %w", places, ErrPlaces)
	}
	p, err := parse(percent, plainSpelling)
	if err != nil {
		return Rate{}, fmt.Errorf("percent: %w", err)
	}
	// In units of 10^-places: r × (100 + p) × 10^places / 100.
	var n apd.Decimal
	if _, err := exact.Add(&n, apd.New(100, 0), p); err != nil {
		return Rate{}, fmt.Errorf("money: scale: %w", err)
	}
	if _, err := exact.Mul(&n, &n, &r.d); err != nil {
		return Rate{}, fmt.Errorf("money: scale: %w", err)
	}
	if _, err := exact.Mul(&n, &n, apd.New(1, int32(places))); err != nil {
		return Rate{}, fmt.Errorf("money: scale: %w", err)
	}
	v, err := quoRound(&n, apd.New(100, 0), mode)
	if err != nil {
		return Rate{}, err
	}
	return newRate(apd.New(v, -int32(places)))
}
