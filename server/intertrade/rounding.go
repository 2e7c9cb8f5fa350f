package intertrade

import (
	"math/big"
	"strings"

	"github.com/sxp-network/sxp/clearing/cxp"
)

// Rounding: conversions truncate towards zero (cxp.ToBase, cxp.FromBase),
// so a payment never carries more value across the circle than it was
// given. What truncation leaves over is recorded exactly, in base units, on
// each intertrade (its rounding), and the sum of those remainders is the
// community's rounding account:
//
//	out (we pay):      amount × ticks = quantity + rounding
//	in  (we are paid): quantity = amount × ticks + rounding
//
// with amount in our currency, quantity in base units and rounding ≥ 0
// (a database constraint). The integrity check proves both equations for
// every completed intertrade.

// roundingOut is the remainder of converting amount (our minor units, div
// decimal places) at ticks into quantity (base minor units, baseDiv places).
func roundingOut(amount int64, div int, ticks cxp.Decimal, quantity int64, baseDiv int) cxp.Decimal {
	v := localValue(amount, div, ticks)
	return exactDecimal(v.Sub(v, new(big.Rat).SetFrac(big.NewInt(quantity), tenTo(baseDiv))))
}

// roundingIn is the remainder of converting quantity into amount.
func roundingIn(amount int64, div int, ticks cxp.Decimal, quantity int64, baseDiv int) cxp.Decimal {
	q := new(big.Rat).SetFrac(big.NewInt(quantity), tenTo(baseDiv))
	return exactDecimal(q.Sub(q, localValue(amount, div, ticks)))
}

// localValue is amount minor units at ticks, in base units.
func localValue(amount int64, div int, ticks cxp.Decimal) *big.Rat {
	t := ticks.Rat()
	if t == nil {
		t = new(big.Rat)
	}
	return new(big.Rat).Mul(new(big.Rat).SetFrac(big.NewInt(amount), tenTo(div)), t)
}

// exactDecimal writes r, whose denominator divides a power of ten (a rate
// has at most cxp.RateDecimals places, a currency at most 8), exactly.
func exactDecimal(r *big.Rat) cxp.Decimal {
	s := r.FloatString(24)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return cxp.Decimal(s)
}

func tenTo(n int) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil) }
