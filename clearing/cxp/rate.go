package cxp

import (
	"errors"

	"github.com/sxp-network/sxp/ledger/money"
)

// The one conversion rule: a rate (ticks) is the number of base units one unit of a
// community's currency is worth. A conversion computes the exact result (ledger/money)
// and truncates it to a whole minor unit of the target currency, towards zero
// (money.TowardZero: 2.9 → 2, -2.9 → -2). So no conversion ever yields more value than it
// was given: the payer's community sends the circle at most the base value its member
// paid (ToBase), and the payee's community credits at most the base value the circle sent
// (FromBase). The remainder (less than one minor unit of the target) stays with the
// community that converted, which records it (see server/intertrade). A round trip never
// gains; it may lose the truncation of each side. Half-away-from-zero rounding created
// money: 0.03 base paid to a rate-2 member became 0.02 units worth 0.04 base.

// ToBase converts localMinor minor units of a currency with localDivisions decimal places
// at rate ticks into minor units of the base unit (baseDivisions decimal places), truncated
// towards zero. A rate that is not a valid positive rate is *Error 11/12/15/8 on
// "ticks" (see ValidateRate); a result outside int64 is *Error 8 on "quantity".
func ToBase(localMinor int64, localDivisions int, ticks Decimal, baseDivisions int) (int64, error) {
	r, err := ParseRate("ticks", ticks)
	if err != nil {
		return 0, err
	}
	return converted(money.ToBase(localMinor, localDivisions, r, baseDivisions, money.TowardZero))
}

// FromBase converts baseMinor minor units of the base unit into minor units of a currency
// with localDivisions decimal places at rate ticks, truncated towards zero. Errors
// as ToBase.
func FromBase(baseMinor int64, baseDivisions int, ticks Decimal, localDivisions int) (int64, error) {
	r, err := ParseRate("ticks", ticks)
	if err != nil {
		return 0, err
	}
	return converted(money.FromBase(baseMinor, baseDivisions, r, localDivisions, money.TowardZero))
}

func converted(v int64, err error) (int64, error) {
	if errors.Is(err, money.ErrRange) {
		return 0, InvalidField("quantity", "out of range")
	}
	return v, err
}
