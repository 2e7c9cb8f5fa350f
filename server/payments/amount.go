package payments

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
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

var (
	errAmountSyntax = errors.New("not a decimal number like 12.50")
	errAmountRange  = errors.New("too large")
)

// Parse reads a decimal string ("12.50", "-3", "0.5") into minor units. It
// refuses more decimal places than the currency has, exponents, spaces and
// anything but digits with one optional leading sign and one point.
func (c Currency) Parse(s string) (int64, error) {
	if c.Divisions < 0 || c.Divisions > maxDivisions {
		return 0, fmt.Errorf("currency %s: bad divisions %d", c.Code, c.Divisions)
	}
	neg := false
	body := s
	if strings.HasPrefix(body, "-") || strings.HasPrefix(body, "+") {
		neg = body[0] == '-'
		body = body[1:]
	}
	whole, frac, hasPoint := strings.Cut(body, ".")
	if (whole == "" && frac == "") || (hasPoint && frac == "") || !digits(whole) || !digits(frac) {
		return 0, errAmountSyntax
	}
	if len(frac) > c.Divisions {
		return 0, fmt.Errorf("has %d decimal places, %s allows at most %d", len(frac), c.Code, c.Divisions)
	}
	if whole == "" {
		whole = "0"
	}
	if len(whole) > 18-c.Divisions {
		return 0, errAmountRange
	}
	frac += strings.Repeat("0", c.Divisions-len(frac))
	v, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return 0, errAmountRange
	}
	if neg {
		v = -v
	}
	return v, nil
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
	sign := ""
	u := uint64(v)
	if v < 0 {
		sign = "-"
		u = uint64(-v)
	}
	s := strconv.FormatUint(u, 10)
	if c.Divisions <= 0 {
		return sign + s
	}
	if len(s) <= c.Divisions {
		s = strings.Repeat("0", c.Divisions-len(s)+1) + s
	}
	return sign + s[:len(s)-c.Divisions] + "." + s[len(s)-c.Divisions:]
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
