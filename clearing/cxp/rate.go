package cxp

import (
	"errors"

	"github.com/sxp-network/sxp/ledger/money"
)

// The conversions below delegate to ledger/money with money.HalfAwayFromZero:
// the exact result is rounded once to the nearest minor unit of the target,
// halves away from zero (2.5 → 3, -2.5 → -3). A round trip may therefore
// differ from the start by the rounding of the coarser side, in either
// direction. Callers that must never create value (a credit never worth more
// than its debit) call money.ToBase/FromBase with money.Floor instead, with
// the rate from ParseRate.

// ToBase converts localMinor minor units of a currency with localDivisions decimal places
// at rate ticks into minor units of the base unit (baseDivisions decimal places), rounded
// half away from zero. A rate that is not a valid positive rate is *Error 11/12/15/8 on
// "ticks" (see ValidateRate); a result outside int64 is *Error 8 on "quantity".
func ToBase(localMinor int64, localDivisions int, ticks Decimal, baseDivisions int) (int64, error) {
	r, err := ParseRate("ticks", ticks)
	if err != nil {
		return 0, err
	}
	return converted(money.ToBase(localMinor, localDivisions, r, baseDivisions, money.HalfAwayFromZero))
}

// FromBase converts baseMinor minor units of the base unit into minor units of a currency
// with localDivisions decimal places at rate ticks, rounded half away from zero. Errors
// as ToBase.
func FromBase(baseMinor int64, baseDivisions int, ticks Decimal, localDivisions int) (int64, error) {
	r, err := ParseRate("ticks", ticks)
	if err != nil {
		return 0, err
	}
	return converted(money.FromBase(baseMinor, baseDivisions, r, localDivisions, money.HalfAwayFromZero))
}

func converted(v int64, err error) (int64, error) {
	if errors.Is(err, money.ErrRange) {
		return 0, InvalidField("quantity", "out of range")
	}
	return v, err
}
