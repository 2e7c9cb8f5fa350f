package payments

import (
	"errors"
	"fmt"

	"github.com/sxp-network/sxp/ledger/money"
)

// Currency is a community currency: its code and how many decimal places
// its amounts have. Amounts are held as int64 minor units (cents for 2
// divisions) and written on the wire as decimal strings ("12.50").
type Currency struct {
	Code      string
	Divisions int
}

// maxDivisions keeps 10^divisions and the amounts far inside int64.
const maxDivisions = 8

// Parse reads a decimal string ("12.50", "-3", "12.500") into minor units,
// by money's plain grammar: an optional '-', digits, optionally '.' and
// digits; no '+', spaces or exponents; the value a whole number of minor
// units (money.ErrPlaces otherwise) within ±math.MaxInt64.
func (c Currency) Parse(s string) (int64, error) {
	if c.Divisions < 0 || c.Divisions > maxDivisions {
		return 0, fmt.Errorf("currency %s: bad divisions %d", c.Code, c.Divisions)
	}
	v, err := money.Parse(s, c.Divisions)
	if errors.Is(err, money.ErrPlaces) {
		return 0, fmt.Errorf("%w: %s allows at most %d", money.ErrPlaces, c.Code, c.Divisions)
	}
	return v, err
}

// ParsePositive is Parse for amounts that must be greater than zero.
func (c Currency) ParsePositive(s string) (int64, error) {
	v, err := c.Parse(s)
	if err != nil {
		return 0, err
	}
	if v <= 0 {
		return 0, errors.New("must be greater than zero")
	}
	return v, nil
}

// Format writes minor units as a decimal string with exactly the
// currency's decimal places: 1250 → "12.50", -5 → "-0.05".
func (c Currency) Format(v int64) string {
	return money.Format(v, c.Divisions)
}
