package cxp

import (
	"errors"
	"fmt"
	"math"
	"math/big"

	"github.com/sxp-network/sxp/ledger/money"
)

// Decimal is an exact decimal number on the wire: the text of a JSON number literal,
// kept verbatim ("12.50", "-3", "1e3"). It is never converted through float64.
// The zero value "" means absent. Its grammar and values are ledger/money's number
// spelling (money.ParseNumber, money.ParseRateNumber).
type Decimal string

// MaxDecimalLen bounds the length of a number literal; longer ones are refused (code 15).
const MaxDecimalLen = money.MaxLen

// RateDecimals is the most decimal places a rate's (ticks) value may have.
const RateDecimals = money.RatePlaces

// ParseDecimal checks that s is a JSON number literal no longer than MaxDecimalLen
// and returns it as a Decimal. A refusal is a *Error code 15 on field "number".
func ParseDecimal(s string) (Decimal, error) {
	if money.CheckNumber(s) != nil {
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
	if money.CheckNumber(s) != nil {
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
	if money.CheckNumber(string(d)) != nil {
		return nil, fmt.Errorf("cxp: %q is not a JSON number", string(d))
	}
	return []byte(d), nil
}

func (d Decimal) String() string { return string(d) }

// Valid reports whether d is a JSON number literal (an empty Decimal is not).
func (d Decimal) Valid() bool {
	return money.CheckNumber(string(d)) == nil
}

// Rat is d's exact value, or nil if d is not a valid number.
func (d Decimal) Rat() *big.Rat {
	r, err := money.NumberRat(string(d))
	if err != nil {
		return nil
	}
	return r
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
// places (money.ParseNumber): "12.5" with divisions 2 is 1250. It refuses (code 15,
// field "number") a value that is not a whole number of minor units ("0.001" with 2
// divisions; trailing zeros are fine: "1.50" with 1 division is 15), and a value
// outside ±math.MaxInt64. Exponents are applied exactly ("1e3" is 1000).
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
	v, err := money.ParseNumber(string(d), divisions)
	switch {
	case err == nil:
		return v, nil
	case errors.Is(err, money.ErrPlaces):
		return 0, TypeError(field, placesType(divisions))
	case errors.Is(err, money.ErrRange):
		return 0, TypeError(field, "number between "+string(FromMinor(-math.MaxInt64, divisions))+
			" and "+string(FromMinor(math.MaxInt64, divisions)))
	}
	return 0, TypeError(field, "number")
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

// FromMinor writes v minor units with exactly divisions decimal places (money.Format):
// FromMinor(1250, 2) is "12.50", FromMinor(-5, 2) is "-0.05", FromMinor(7, 0) is "7".
func FromMinor(v int64, divisions int) Decimal {
	return Decimal(money.Format(v, divisions))
}

// ValidateRate checks a rate (ticks) sent in field (money.ParseRateNumber): present (11),
// a number (15), at most RateDecimals decimal places (15), greater than 0 (12) and at
// most money.MaxRate (15, as an amount out of range).
func ValidateRate(field string, d Decimal) *Error {
	_, err := ParseRate(field, d)
	return err
}

// ParseRate is ValidateRate returning the rate, for callers of money.ToBase and
// money.FromBase with an explicit rounding.
func ParseRate(field string, d Decimal) (money.Rate, *Error) {
	if d == "" {
		return money.Rate{}, MissingField(field)
	}
	r, err := money.ParseRateNumber(string(d))
	switch {
	case err == nil:
		return r, nil
	case errors.Is(err, money.ErrPlaces):
		return money.Rate{}, TypeError(field, placesType(RateDecimals))
	case errors.Is(err, money.ErrNotPositive):
		return money.Rate{}, SignError(field, ">", string(d))
	case errors.Is(err, money.ErrRange):
		return money.Rate{}, TypeError(field, "number between 0 and "+money.MaxRate)
	}
	return money.Rate{}, TypeError(field, "number")
}
