package money

import (
	"errors"
	"fmt"
	"math"

	"github.com/cockroachdb/apd/v3"
)

// Rounding says how a conversion rounds its exact result to a whole minor
// unit of the target currency.
type Rounding int

const (
	// HalfAwayFromZero rounds to the nearest minor unit, halves away from
	// zero: 2.5 → 3, -2.5 → -3.
	HalfAwayFromZero Rounding = iota
	// Floor rounds toward minus infinity: 2.9 → 2, -2.1 → -3. For the
	// positive amounts of a payment it never gives more than the exact value.
	Floor
	// Ceiling rounds toward plus infinity: 2.1 → 3, -2.9 → -2.
	Ceiling
	// TowardZero truncates: 2.9 → 2, -2.9 → -2. It never gives a result
	// larger in magnitude than the exact value: the circle's one conversion
	// rule (clearing/cxp), so that no conversion creates value.
	TowardZero
)

// String names the rounding.
func (m Rounding) String() string {
	switch m {
	case HalfAwayFromZero:
		return "half away from zero"
	case Floor:
		return "floor"
	case Ceiling:
		return "ceiling"
	case TowardZero:
		return "toward zero"
	}
	return fmt.Sprintf("Rounding(%d)", int(m))
}

// ToBase converts localMinor minor units of a currency with localDivisions
// decimal places at rate r into minor units of the base unit (baseDivisions
// places): the exact value localMinor × r × 10^(baseDivisions−localDivisions),
// rounded once by mode. A result outside ±math.MaxInt64 is ErrRange.
func ToBase(localMinor int64, localDivisions int, r Rate, baseDivisions int, mode Rounding) (int64, error) {
	if err := checkConversion(localDivisions, r, baseDivisions); err != nil {
		return 0, err
	}
	var x apd.Decimal
	if _, err := exact.Mul(&x, apd.New(localMinor, int32(baseDivisions-localDivisions)), &r.d); err != nil {
		return 0, fmt.Errorf("money: to base: %w", err)
	}
	return quoRound(&x, apd.New(1, 0), mode)
}

// FromBase converts baseMinor minor units of the base unit (baseDivisions
// places) at rate r into minor units of a currency with localDivisions
// places: the exact value baseMinor / r × 10^(localDivisions−baseDivisions),
// rounded once by mode. A result outside ±math.MaxInt64 is ErrRange.
func FromBase(baseMinor int64, baseDivisions int, r Rate, localDivisions int, mode Rounding) (int64, error) {
	if err := checkConversion(localDivisions, r, baseDivisions); err != nil {
		return 0, err
	}
	return quoRound(apd.New(baseMinor, int32(localDivisions-baseDivisions)), &r.d, mode)
}

func checkConversion(localDivisions int, r Rate, baseDivisions int) error {
	for _, d := range []int{localDivisions, baseDivisions} {
		if d < 0 || d > MaxDivisions {
			return fmt.Errorf("%w: %d", ErrDivisions, d)
		}
	}
	if !r.Valid() {
		return errors.New("money: no rate")
	}
	return nil
}

// quoRound is n/d (d > 0) rounded to a whole number by mode, as an int64.
// The whole part q and the remainder rem of n/d = q + rem/d are exact
// (rem has n's sign, |rem| < d); the mode then picks q or its neighbour.
// (apd's Quantize is not used to round: in v3.2.3 it rounds 0.03864 to 0
// under RoundCeiling when more digits are dropped than the coefficient has.)
func quoRound(n, d *apd.Decimal, mode Rounding) (int64, error) {
	var q, rem apd.Decimal
	if _, err := exact.QuoInteger(&q, n, d); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrRange, err)
	}
	if _, err := exact.Rem(&rem, n, d); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrRange, err)
	}
	step := 0 // added to q
	switch mode {
	case TowardZero: // QuoInteger truncates
	case Floor:
		if rem.Sign() < 0 {
			step = -1
		}
	case Ceiling:
		if rem.Sign() > 0 {
			step = 1
		}
	case HalfAwayFromZero:
		var twice apd.Decimal
		if _, err := exact.Add(&twice, &rem, &rem); err != nil {
			return 0, fmt.Errorf("money: rounding: %w", err)
		}
		if twice.Abs(&twice).Cmp(d) >= 0 {
			step = rem.Sign()
		}
	default:
		return 0, fmt.Errorf("money: unknown rounding %d", mode)
	}
	if _, err := exact.Add(&q, &q, apd.New(int64(step), 0)); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrRange, err)
	}
	v, err := q.Int64()
	if err != nil || v == math.MinInt64 {
		return 0, ErrRange
	}
	return v, nil
}
