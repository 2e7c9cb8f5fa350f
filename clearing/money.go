package clearing

import (
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"

	"github.com/sxp-network/sxp/clearing/cxp"
)

var amountPattern = regexp.MustCompile(`^([+-]?)(\d{1,18})(?:\.(\d+))?$`)

// ParseAmount reads a decimal amount such as "-1000" or "12.50" into minor
// units of a unit with the given decimal places. More decimal places than
// the unit allows is an error, never a rounding.
func ParseAmount(s string, divisions int) (int64, error) {
	m := amountPattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a decimal amount", s)
	}
	frac := strings.TrimRight(m[3], "0")
	if len(frac) > divisions {
		return 0, fmt.Errorf("%q has more than %d decimal places", s, divisions)
	}
	digits := m[2] + frac + strings.Repeat("0", divisions-len(frac))
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is too large", s)
	}
	if m[1] == "-" {
		n = -n
	}
	return n, nil
}

// FormatAmount writes minor units as a decimal with exactly divisions places
// (cxp.FromMinor: the same text on the wire and in the admin API).
func FormatAmount(minor int64, divisions int) string {
	return string(cxp.FromMinor(minor, divisions))
}

var ticksPattern = regexp.MustCompile(`^\d{1,12}(\.\d{1,12})?$`)

// ParseTicks checks a rate (base units per unit of a community's currency):
// a positive decimal with at most 12 digits on each side of the point. It
// returns the rate in a canonical form (no trailing zeros).
func ParseTicks(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !ticksPattern.MatchString(s) {
		return "", fmt.Errorf("rate %q is not a positive decimal", s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok || r.Sign() <= 0 {
		return "", fmt.Errorf("rate %q must be more than 0", s)
	}
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	s = strings.TrimLeft(s, "0")
	if s == "" || s[0] == '.' {
		s = "0" + s
	}
	return s, nil
}
