package clearing

import (
	"fmt"

	"github.com/sxp-network/sxp/ledger/money"
)

// ParseAmount reads a decimal amount such as "-1000" or "12.50" into minor
// units of a unit with the given decimal places (money.Parse: the plain
// spelling; a value that is not a whole number of minor units is an error,
// never a rounding).
func ParseAmount(s string, divisions int) (int64, error) {
	v, err := money.Parse(s, divisions)
	if err != nil {
		return 0, fmt.Errorf("amount %q: %w", s, err)
	}
	return v, nil
}

// FormatAmount writes minor units as a decimal with exactly divisions places
// (money.Format: the same text on the wire and in the admin API).
func FormatAmount(minor int64, divisions int) string {
	return money.Format(minor, divisions)
}

// ParseTicks checks a rate (base units per unit of a community's currency)
// in the plain spelling (money.ParseRate: greater than 0, at most 12 decimal
// places, at most 10^9) and returns its canonical form (no trailing zeros).
func ParseTicks(s string) (string, error) {
	r, err := money.ParseRate(s)
	if err != nil {
		return "", fmt.Errorf("rate %q: %w", s, err)
	}
	return r.String(), nil
}
