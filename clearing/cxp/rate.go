package cxp

import "math/big"

// The one conversion rule: a rate (ticks) is the number of base units one unit of a
// community's currency is worth. A conversion computes the exact rational result with
// math/big and truncates it to a whole minor unit of the target currency, towards zero
// (2.9 → 2, -2.9 → -2). So no conversion ever yields more value than it was given: the
// payer's community sends the circle at most the base value its member paid (ToBase),
// and the payee's community credits at most the base value the circle sent (FromBase).
// The remainder (less than one minor unit of the target) stays with the community that
// converted, which records it (see server/intertrade). A round trip never gains; it may
// lose the truncation of each side. Half-away-from-zero rounding created money: 0.03
// base paid to a rate-2 member became 0.02 units worth 0.04 base.

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
	return truncQuo(num, den)
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
	return truncQuo(num, den)
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

// truncQuo is num/den (den > 0) truncated towards zero.
func truncQuo(num, den *big.Int) (int64, error) {
	q := new(big.Int).Quo(num, den) // Quo truncates towards zero
	if !q.IsInt64() {
		return 0, InvalidField("quantity", "out of range: "+clip(q.String()))
	}
	return q.Int64(), nil
}
