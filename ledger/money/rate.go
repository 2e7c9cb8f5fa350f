package money

import (
	"fmt"
	"regexp"

	"github.com/cockroachdb/apd/v3"
)

// Rate is an exchange rate (ticks): the number of base units one unit of a
// community's currency is worth. The zero Rate is not a valid rate; get one
// from ParseRate or ParseRateNumber.
type Rate struct {
	d apd.Decimal // reduced: no trailing zeros
}

// ParseRate reads a plain spelling of a rate (admins, the configuration).
func ParseRate(s string) (Rate, error) {
	return parseRate(s, plainSpelling)
}

// ParseRateNumber reads a rate written as a JSON number literal (the CXP wire).
func ParseRateNumber(s string) (Rate, error) {
	return parseRate(s, numberSpelling)
}

func parseRate(s string, spelling *regexp.Regexp) (Rate, error) {
	d, err := parse(s, spelling)
	if err != nil {
		return Rate{}, err
	}
	if places(d) > RatePlaces {
		return Rate{}, fmt.Errorf("%w: at most %d", ErrPlaces, RatePlaces)
	}
	if d.Sign() <= 0 {
		return Rate{}, ErrNotPositive
	}
	if d.Cmp(maxRate) > 0 {
		return Rate{}, fmt.Errorf("%w: at most %s", ErrRange, MaxRate)
	}
	var r Rate
	r.d.Reduce(d)
	return r, nil
}

// String is the rate's shortest plain spelling: "2.5", "1000", "0.000001".
func (r Rate) String() string {
	if r.d.IsZero() {
		return ""
	}
	return r.d.Text('f')
}

// Valid reports whether r came from a successful parse.
func (r Rate) Valid() bool { return r.d.Sign() > 0 }

// Cmp compares two rates by value: -1, 0 or +1.
func (r Rate) Cmp(o Rate) int { return r.d.Cmp(&o.d) }
