package cxp

import "math/big"

// The one conversion rule: a rate (ticks) is the number of base units one unit of a
// community's currency is worth. A conversion computes the exact rational result with
// math/big and rounds it to the nearest minor unit of the target currency, halves away
// from zero (2.5 → 3, -2.5 → -3). ToBase and FromBase are each rounded once; a round
// trip may therefore differ from the start by the rounding of the coarser side.

// ToBase converts localMinor minor units of a currency with localDivisions decimal places
// at rate ticks into minor units of the base unit (baseDivisions decimal places).
// A rate that is not a positive number is *Error 12/15 on "ticks"; a result outside
// int64 is *Error 8 on "quantity".
func ToBase(localMinor int64, localDivisions int, ticks Decimal, baseDivisions int) (int64, error) {
	t, err := positiveRate(ticks)
	if err != nil {
		return 0, err
	}
	// base = local / 10^ld × ticks × 10^bd
	num := new(big.Int).Mul(big.NewInt(localMinor), t.Num())
	num.Mul(num, pow10(baseDivisions))
	den := new(big.Int).Mul(t.Denom(), pow10(localDivisions))
	return roundQuo(num, den)
}

// FromBase converts baseMinor minor units of the base unit into minor units of a currency
// with localDivisions decimal places at rate ticks. Errors as ToBase.
func FromBase(baseMinor int64, baseDivisions int, ticks Decimal, localDivisions int) (int64, error) {
	t, err := positiveRate(ticks)
	if err != nil {
		return 0, err
	}
	// local = base / 10^bd / ticks × 10^ld
	num := new(big.Int).Mul(big.NewInt(baseMinor), t.Denom())
	num.Mul(num, pow10(localDivisions))
	den := new(big.Int).Mul(t.Num(), pow10(baseDivisions))
	return roundQuo(num, den)
}

func positiveRate(ticks Decimal) (*big.Rat, *Error) {
	if ticks == "" {
		return nil, MissingField("ticks")
	}
	t := ticks.Rat()
	if t == nil {
		return nil, TypeError("ticks", "number")
	}
	if t.Sign() <= 0 {
		return nil, SignError("ticks", ">", string(ticks))
	}
	return t, nil
}

// roundQuo is num/den (den > 0) rounded to the nearest integer, halves away from zero.
func roundQuo(num, den *big.Int) (int64, error) {
	neg := num.Sign() < 0
	a := new(big.Int).Abs(num)
	q, r := new(big.Int).QuoRem(a, den, new(big.Int))
	if r.Lsh(r, 1).Cmp(den) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if neg {
		q.Neg(q)
	}
	if !q.IsInt64() {
		return 0, InvalidField("quantity", "out of range: "+clip(q.String()))
	}
	return q.Int64(), nil
}
