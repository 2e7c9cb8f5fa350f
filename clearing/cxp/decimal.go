package cxp

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Decimal is an exact decimal number on the wire: the text of a JSON number literal,
// kept verbatim ("12.50", "-3", "1e3"). It is never converted through float64.
// The zero value "" means absent.
type Decimal string

// MaxDecimalLen bounds the length of a number literal; longer ones are refused (code 15).
const MaxDecimalLen = 64

// maxExponent bounds the exponent of a number literal ("1e401" is refused).
const maxExponent = 400

// RateDecimals is the most decimal places a rate (ticks) may have.
const RateDecimals = 6

// ParseDecimal checks that s is a JSON number literal no longer than MaxDecimalLen
// and returns it as a Decimal. A refusal is a *Error code 15 on field "number".
func ParseDecimal(s string) (Decimal, error) {
	if _, err := parseNumber(s); err != nil {
		return "", TypeError("number", "number")
	}
	return Decimal(s), nil
}

// UnmarshalJSON accepts only a JSON number (a string such as "12.50" is a type error,
// code 15). null leaves d unchanged.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if _, err := parseNumber(s); err != nil {
		return TypeError("number", "number")
	}
	*d = Decimal(s)
	return nil
}

// MarshalJSON writes the literal as a JSON number; an absent (empty) Decimal is null.
func (d Decimal) MarshalJSON() ([]byte, error) {
	if d == "" {
		return []byte("null"), nil
	}
	if _, err := parseNumber(string(d)); err != nil {
		return nil, fmt.Errorf("cxp: %q is not a JSON number", string(d))
	}
	return []byte(d), nil
}

func (d Decimal) String() string { return string(d) }

// Valid reports whether d is a JSON number literal (an empty Decimal is not).
func (d Decimal) Valid() bool {
	_, err := parseNumber(string(d))
	return err == nil
}

// Rat is d's exact value, or nil if d is not a valid number.
func (d Decimal) Rat() *big.Rat {
	n, err := parseNumber(string(d))
	if err != nil {
		return nil
	}
	return n.rat()
}

// Sign is -1, 0 or +1 (0 also for an invalid Decimal).
func (d Decimal) Sign() int {
	r := d.Rat()
	if r == nil {
		return 0
	}
	return r.Sign()
}

// Minor is d in integer minor units of a currency with the given number of decimal
// places: "12.5" with divisions 2 is 1250. It refuses (code 15, field "number"), a value
// that is not a whole number of minor units ("0.001" with 2 divisions; trailing zeros
// are fine: "1.50" with 1 division is 15), and a value outside int64.
// Exponents are applied exactly ("1e3" is 1000).
func (d Decimal) Minor(divisions int) (int64, error) {
	v, err := d.MinorField("number", divisions)
	if err != nil {
		return 0, err
	}
	return v, nil
}

// MinorField is Minor with the refusal naming field: a missing value is code 11,
// a malformed or over-precise or out-of-range one code 15.
func (d Decimal) MinorField(field string, divisions int) (int64, *Error) {
	if d == "" {
		return 0, MissingField(field)
	}
	n, err := parseNumber(string(d))
	if err != nil {
		return 0, TypeError(field, "number")
	}
	v, ok, exact := n.scaled(divisions)
	if !exact {
		return 0, TypeError(field, placesType(divisions))
	}
	if !ok {
		return 0, TypeError(field, "number between "+string(FromMinor(math.MinInt64+1, divisions))+
			" and "+string(FromMinor(math.MaxInt64, divisions)))
	}
	return v, nil
}

func placesType(divisions int) string {
	switch divisions {
	case 0:
		return "whole number"
	case 1:
		return "number with at most 1 decimal place"
	}
	return fmt.Sprintf("number with at most %d decimal places", divisions)
}

// FromMinor writes v minor units with exactly divisions decimal places:
// FromMinor(1250, 2) is "12.50", FromMinor(-5, 2) is "-0.05", FromMinor(7, 0) is "7".
func FromMinor(v int64, divisions int) Decimal {
	neg := v < 0
	u := uint64(v)
	if neg {
		u = -u // also right for MinInt64
	}
	s := strconv.FormatUint(u, 10)
	if divisions > 0 {
		if len(s) <= divisions {
			s = strings.Repeat("0", divisions-len(s)+1) + s
		}
		s = s[:len(s)-divisions] + "." + s[len(s)-divisions:]
	}
	if neg {
		s = "-" + s
	}
	return Decimal(s)
}

// number is a parsed JSON number literal: (-1)^neg × digits × 10^exp.
type number struct {
	neg    bool
	digits string // decimal digits without leading zeros; "" for zero
	exp    int
}

// parseNumber parses the JSON number grammar exactly:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func parseNumber(s string) (number, error) {
	bad := fmt.Errorf("cxp: not a JSON number: %q", s)
	if len(s) == 0 || len(s) > MaxDecimalLen {
		return number{}, bad
	}
	var n number
	i := 0
	if s[i] == '-' {
		n.neg = true
		i++
	}
	start := i
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return number{}, bad
	}
	intPart := s[start:i]
	frac := ""
	if i < len(s) && s[i] == '.' {
		i++
		fs := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == fs {
			return number{}, bad
		}
		frac = s[fs:i]
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		es := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == es {
			return number{}, bad
		}
		// The literal is at most MaxDecimalLen long, so the exponent fits easily.
		// Exponents beyond ±maxExponent are refused rather than expanded.
		e, err := strconv.Atoi(s[es:i])
		if err != nil || e > maxExponent {
			return number{}, bad
		}
		if eneg {
			e = -e
		}
		exp = e
	}
	if i != len(s) {
		return number{}, bad
	}
	n.digits = strings.TrimLeft(intPart+frac, "0")
	n.exp = exp - len(frac)
	if n.digits == "" {
		n.neg = false // -0 is 0
	}
	return n, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (n number) rat() *big.Rat {
	if n.digits == "" {
		return new(big.Rat)
	}
	num, _ := new(big.Int).SetString(n.digits, 10)
	if n.neg {
		num.Neg(num)
	}
	r := new(big.Rat).SetInt(num)
	if n.exp > 0 {
		r.Mul(r, new(big.Rat).SetInt(pow10(n.exp)))
	} else if n.exp < 0 {
		r.Quo(r, new(big.Rat).SetInt(pow10(-n.exp)))
	}
	return r
}

// scaled is n × 10^divisions as an int64. exact is false when that is not a whole
// number; ok is false when it does not fit in int64.
func (n number) scaled(divisions int) (v int64, ok, exact bool) {
	if n.digits == "" {
		return 0, true, true
	}
	digits := n.digits
	shift := n.exp + divisions
	if shift < 0 {
		trimmed := strings.TrimRight(digits, "0")
		if len(digits)-len(trimmed) < -shift {
			return 0, false, false
		}
		digits = digits[:len(digits)+shift]
		shift = 0
	}
	if len(digits)+shift > 19 {
		return 0, false, true
	}
	u, err := strconv.ParseUint(digits+strings.Repeat("0", shift), 10, 64)
	if err != nil || u > math.MaxInt64 {
		return 0, false, true
	}
	if n.neg {
		return -int64(u), true, true
	}
	return int64(u), true, true
}

func pow10(n int) *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
}

// ValidateRate checks a rate (ticks) sent in field: present (11), a number (15),
// greater than 0 (12), at most RateDecimals decimal places (15) and at most 10^9.
func ValidateRate(field string, d Decimal) *Error {
	v, err := d.MinorField(field, RateDecimals)
	if err != nil {
		return err
	}
	if v <= 0 {
		return SignError(field, ">", string(d))
	}
	if v > 1_000_000_000*1_000_000 {
		return InvalidField(field, string(d))
	}
	return nil
}
