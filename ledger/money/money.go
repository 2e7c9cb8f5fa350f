// Package money is the one place where SXP reads, writes, compares and
// converts amounts and exchange rates. Both servers and clearing/cxp use it;
// it imports no package of this module (every package may import it, as it
// lives under ledger, which imports neither server nor clearing).
// Arithmetic is exact, on github.com/cockroachdb/apd/v3 decimals; no value
// ever passes through a float.
//
// # Amounts
//
// An amount is held as int64 minor units of a currency with a number of
// decimal places (its divisions, 0 to MaxDivisions): 12.50 at 2 places is
// 1250. Two spellings are read, and they never disagree on the value of a
// spelling both accept:
//
//   - Plain (Parse, ParseRate): what members, admins, the command line and
//     the configuration write: an optional '-', digits without leading zeros,
//     then optionally '.' and at least one digit. ASCII only: no '+', no
//     spaces, no exponent, no digit separators, no bare point ("5." or ".5"),
//     no full-width or other non-ASCII digits.
//     Grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?
//   - Number (ParseNumber, ParseRateNumber): a JSON number literal (RFC 8259)
//     as it arrives on the CXP wire: the plain grammar with an optional
//     exponent [eE][+-]?[0-9]+. Other implementations write JSON numbers
//     with exponents (Java's BigDecimal writes 1E-7), so the wire accepts
//     them; a plain spelling means the same value in both.
//
// Both are at most MaxLen characters, and a number's exponent (after moving
// the point to the end of its digits) lies within ±MaxExponent.
//
// The value decides the rest, never the spelling: an amount is accepted when
// its value is a whole number of minor units (trailing zeros are not
// precision: "1.500" at 2 places is 150, "1.505" is refused with ErrPlaces,
// which CXP answers as code 15) and lies within ±math.MaxInt64 (ErrRange
// otherwise; math.MinInt64 is refused so that every accepted amount can be
// negated). "-0" is 0.
//
// Format writes exactly divisions decimal places ("12.50", "-0.05", "7"),
// which both spellings read back to the same value.
//
// # Rates
//
// A rate (ticks) is the number of base units one unit of a community's
// currency is worth. A rate is spelt like an amount (plain for admins and the
// configuration, number on the wire) and accepted when its value is greater
// than 0 (ErrNotPositive), a whole number of 10^-RatePlaces (ErrPlaces) and
// at most MaxRate (ErrRange). Rate.String is the shortest plain spelling
// ("2.50" and "25e-1" are "2.5"), which every entry point accepts: a rate an
// admin registers is a rate the community accepts. Rate.Scale moves a rate by
// a percentage, rounded once (the floating rate rule).
//
// # Conversion
//
// ToBase and FromBase convert between a currency and the base unit at a rate,
// computing the exact value and rounding it once, to a whole minor unit of
// the target, by an explicit Rounding. Floor for both directions never
// creates value: FromBase(ToBase(x, Floor), Floor) <= x, and the other way
// round.
package money

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"

	"github.com/cockroachdb/apd/v3"
)

const (
	// MaxLen is the longest spelling accepted, in bytes.
	MaxLen = 64
	// MaxExponent bounds a number's exponent ("1e401" is refused rather than expanded).
	MaxExponent = 400
	// MaxDivisions is the most decimal places a currency may have.
	MaxDivisions = 18
	// RatePlaces is the most decimal places a rate's value may have.
	RatePlaces = 12
)

// MaxRate is the largest rate accepted.
const MaxRate = "1000000000"

var (
	// ErrSyntax: not a spelling of the grammar.
	ErrSyntax = errors.New("not a decimal number like 12.50")
	// ErrPlaces: the value has more decimal places than allowed.
	ErrPlaces = errors.New("too many decimal places")
	// ErrRange: the value is too large in magnitude.
	ErrRange = errors.New("out of range")
	// ErrNotPositive: a rate that is not greater than zero.
	ErrNotPositive = errors.New("not greater than zero")
	// ErrDivisions: a number of decimal places outside 0..MaxDivisions.
	ErrDivisions = errors.New("decimal places outside 0..18")
)

var (
	plainSpelling  = regexp.MustCompile(`^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?$`)
	numberSpelling = regexp.MustCompile(`^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$`)
	maxRate        = mustDecimal(MaxRate)
)

// workPrecision holds every intermediate of a conversion exactly: an int64
// (19 digits) times a rate (at most 10+12 digits), shifted by up to
// 2×MaxDivisions places.
const workPrecision = 100

// exact is the context for arithmetic that must not round; an operation that
// would is an error.
var exact = apd.Context{Precision: workPrecision, MaxExponent: apd.MaxExponent, MinExponent: apd.MinExponent,
	Traps: apd.Inexact | apd.Rounded | apd.DefaultTraps}

// Parse reads a plain spelling into minor units of a currency with divisions
// decimal places.
func Parse(s string, divisions int) (int64, error) {
	return parseMinor(s, plainSpelling, divisions)
}

// ParseNumber reads a JSON number literal (the CXP wire) into minor units of
// a currency with divisions decimal places.
func ParseNumber(s string, divisions int) (int64, error) {
	return parseMinor(s, numberSpelling, divisions)
}

// CheckNumber reports whether s is a JSON number literal within the bounds
// above (ErrSyntax otherwise), whatever its value.
func CheckNumber(s string) error {
	_, err := parse(s, numberSpelling)
	return err
}

// NumberRat is the exact value of a JSON number literal.
func NumberRat(s string) (*big.Rat, error) {
	d, err := parse(s, numberSpelling)
	if err != nil {
		return nil, err
	}
	r := new(big.Rat).SetInt(d.Coeff.MathBigInt())
	if d.Negative {
		r.Neg(r)
	}
	pow := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs32(d.Exponent))), nil))
	if d.Exponent >= 0 {
		return r.Mul(r, pow), nil
	}
	return r.Quo(r, pow), nil
}

// Format writes minor units with exactly divisions decimal places:
// Format(1250, 2) is "12.50", Format(-5, 2) is "-0.05", Format(7, 0) is "7".
// divisions outside 0..MaxDivisions is treated as 0.
func Format(minor int64, divisions int) string {
	if divisions < 0 || divisions > MaxDivisions {
		divisions = 0
	}
	return apd.New(minor, -int32(divisions)).Text('f')
}

func parseMinor(s string, spelling *regexp.Regexp, divisions int) (int64, error) {
	if divisions < 0 || divisions > MaxDivisions {
		return 0, fmt.Errorf("%w: %d", ErrDivisions, divisions)
	}
	d, err := parse(s, spelling)
	if err != nil {
		return 0, err
	}
	if places(d) > divisions {
		return 0, fmt.Errorf("%w: at most %d", ErrPlaces, divisions)
	}
	// The value is a whole number of minor units: writing it with exactly
	// divisions places is exact, and its coefficient is the amount. A value
	// of more than 19 digits cannot be written at precision 19.
	var q apd.Decimal
	ctx := apd.Context{Precision: 19, MaxExponent: apd.MaxExponent, MinExponent: apd.MinExponent}
	cond, err := ctx.Quantize(&q, d, -int32(divisions))
	if err != nil || cond.InvalidOperation() || cond.Inexact() || !q.Coeff.IsInt64() {
		return 0, ErrRange
	}
	v := q.Coeff.Int64()
	if q.Negative {
		v = -v
	}
	return v, nil
}

// parse checks s against spelling and the bounds and returns its value.
func parse(s string, spelling *regexp.Regexp) (*apd.Decimal, error) {
	if len(s) == 0 || len(s) > MaxLen || !spelling.MatchString(s) {
		return nil, ErrSyntax
	}
	d, _, err := apd.NewFromString(s)
	if err != nil || d.Form != apd.Finite || abs32(d.Exponent) > MaxExponent {
		return nil, ErrSyntax
	}
	if d.IsZero() {
		d.Negative = false // "-0" is 0
	}
	return d, nil
}

// places is the number of decimal places d's value needs (0 for integers).
func places(d *apd.Decimal) int {
	var r apd.Decimal
	r.Reduce(d)
	if r.Exponent >= 0 {
		return 0
	}
	return int(-r.Exponent)
}

func abs32(v int32) int64 {
	if v < 0 {
		return -int64(v)
	}
	return int64(v)
}

func mustDecimal(s string) *apd.Decimal {
	d, _, err := apd.NewFromString(s)
	if err != nil {
		panic(err)
	}
	return d
}

// WrittenPlaces is the number of decimal places a plain spelling is written
// with, trailing zeros included ("-12.50" has 2, "7" has 0): how a peer shows
// the places of its unit. A spelling outside the plain grammar is ErrSyntax.
func WrittenPlaces(s string) (int, error) {
	d, err := parse(s, plainSpelling)
	if err != nil {
		return 0, err
	}
	if d.Exponent >= 0 {
		return 0, nil
	}
	return int(-d.Exponent), nil
}
