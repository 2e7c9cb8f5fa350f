package main

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/sxp-network/sxp/clearing"
	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/ledger/money"
	"github.com/sxp-network/sxp/server"
	"github.com/sxp-network/sxp/server/payments"
)

// moneyAnswer is what an entry point made of a spelling: a value, or the kind of
// refusal ("syntax", "places", "range", "sign").
type moneyAnswer struct {
	v    string
	fail string
}

func (a moneyAnswer) String() string {
	if a.fail != "" {
		return "refused (" + a.fail + ")"
	}
	return a.v
}

func accepted(v string) moneyAnswer { return moneyAnswer{v: v} }
func refused(k string) moneyAnswer  { return moneyAnswer{fail: k} }

// kindOf names a refusal the same way for every entry point: ledger/money's
// errors (wrapped by payments and clearing), and cxp's codes and field types.
func kindOf(err error) string {
	switch {
	case errors.Is(err, money.ErrSyntax):
		return "syntax"
	case errors.Is(err, money.ErrPlaces):
		return "places"
	case errors.Is(err, money.ErrRange):
		return "range"
	case errors.Is(err, money.ErrNotPositive):
		return "sign"
	}
	if e, ok := cxp.AsError(err); ok {
		switch {
		case e.Code == cxp.CodeMissingField || e.Code == cxp.CodeType && e.Args["type"] == "number":
			return "syntax"
		case e.Code == cxp.CodeType && strings.HasPrefix(e.Args["type"], "number between"):
			return "range"
		case e.Code == cxp.CodeType:
			return "places"
		case e.Code == cxp.CodeSign:
			return "sign"
		case e.Code == cxp.CodeInvalidField:
			return "range"
		}
	}
	return "other: " + err.Error()
}

func amountAnswer(v int64, err error) moneyAnswer {
	if err != nil {
		return refused(kindOf(err))
	}
	return accepted(money.Format(v, 0)) // the minor units
}

// The amount entry points: those that read what members, admins and the
// configuration type (plain), and those that read the CXP wire (number).
var (
	plainAmount = map[string]func(s string, divisions int) moneyAnswer{
		"money.Parse": func(s string, d int) moneyAnswer { return amountAnswer(money.Parse(s, d)) },
		"payments.Currency.Parse": func(s string, d int) moneyAnswer {
			return amountAnswer(payments.Currency{Code: "LEAF", Divisions: d}.Parse(s))
		},
		"clearing.ParseAmount": func(s string, d int) moneyAnswer { return amountAnswer(clearing.ParseAmount(s, d)) },
	}
	wireAmount = map[string]func(s string, divisions int) moneyAnswer{
		"money.ParseNumber": func(s string, d int) moneyAnswer { return amountAnswer(money.ParseNumber(s, d)) },
		"cxp.Decimal.Minor": func(s string, d int) moneyAnswer { return amountAnswer(cxp.Decimal(s).Minor(d)) },
		// What cxp.Decode and encoding/json do with a number token of a body.
		"cxp.ParseDecimal": func(s string, d int) moneyAnswer {
			v, err := cxp.ParseDecimal(s)
			if err != nil {
				return refused(kindOf(err))
			}
			return amountAnswer(v.Minor(d))
		},
		"cxp.Decimal.UnmarshalJSON": func(s string, d int) moneyAnswer {
			var v cxp.Decimal
			if err := v.UnmarshalJSON([]byte(s)); err != nil {
				return refused(kindOf(err))
			}
			return amountAnswer(v.Minor(d))
		},
	}
)

func rateAnswer(r money.Rate, err error) moneyAnswer {
	if err != nil {
		return refused(kindOf(err))
	}
	return accepted(r.String())
}

// The rate entry points: the admin's and the community's configuration
// (plain), the handshake and the conversions (wire).
var (
	plainRate = map[string]func(s string) moneyAnswer{
		"money.ParseRate": func(s string) moneyAnswer { return rateAnswer(money.ParseRate(s)) },
		"clearing.ParseTicks": func(s string) moneyAnswer {
			t, err := clearing.ParseTicks(s)
			if err != nil {
				return refused(kindOf(err))
			}
			return accepted(t)
		},
		"server.Config SXP_RATE": func(s string) moneyAnswer {
			c := server.Config{DatabaseURL: "postgres://x@127.0.0.1/leaf", Listen: "127.0.0.1:8081",
				CommunityID: "leaf", CommunityName: "Leaf", Currency: "LEAF", CurrencyDivisions: 2,
				PublicURL: "http://127.0.0.1:8081", DefaultMin: "-100", DefaultMax: "100", Registration: "open",
				CircleURL: "http://127.0.0.1:8080", CircleID: "circle", CircleKey: "k", Rate: s}
			if err := c.Validate(); err != nil {
				// The configuration only says the rate is bad; the kind is money's.
				_, merr := money.ParseRate(s)
				return refused(kindOf(merr))
			}
			r, _ := money.ParseRate(s)
			return accepted(r.String())
		},
	}
	wireRate = map[string]func(s string) moneyAnswer{
		"money.ParseRateNumber": func(s string) moneyAnswer { return rateAnswer(money.ParseRateNumber(s)) },
		"cxp.ValidateRate": func(s string) moneyAnswer {
			if err := cxp.ValidateRate("ticks", cxp.Decimal(s)); err != nil {
				return refused(kindOf(err))
			}
			r, _ := money.ParseRateNumber(s)
			return accepted(r.String())
		},
		"cxp.ToBase ticks": func(s string) moneyAnswer {
			if _, err := cxp.ToBase(100, 2, cxp.Decimal(s), 2); err != nil {
				return refused(kindOf(err))
			}
			r, _ := money.ParseRateNumber(s)
			return accepted(r.String())
		},
	}
)

// TestMoneySpellings runs every spelling through every entry point that
// reads amounts or rates and requires one moneyAnswer per grammar: the plain one
// (members, admins, configuration) and the wire one (CXP JSON numbers, which
// also take exponents). Where both accept a spelling they give the same value,
// and every rate an admin can register is one the community accepts.
func TestMoneySpellings(t *testing.T) {
	amounts := []struct {
		in          string
		divisions   int
		plain, wire moneyAnswer
	}{
		{"1.5", 2, accepted("150"), accepted("150")},
		{"1.50", 2, accepted("150"), accepted("150")},
		{"1.500", 2, accepted("150"), accepted("150")}, // trailing zeros are not precision
		{"1.505", 2, refused("places"), refused("places")},
		{"0.001", 2, refused("places"), refused("places")},
		{"7.5", 0, refused("places"), refused("places")},
		{"1e2", 2, refused("syntax"), accepted("10000")}, // exponents only on the wire
		{"1E+2", 0, refused("syntax"), accepted("100")},
		{"15e-1", 1, refused("syntax"), accepted("15")},
		{"1e-3", 2, refused("syntax"), refused("places")},
		{"1e401", 2, refused("syntax"), refused("syntax")},
		{"+1", 2, refused("syntax"), refused("syntax")},
		{" 1", 2, refused("syntax"), refused("syntax")},
		{"1 ", 2, refused("syntax"), refused("syntax")},
		{"１", 2, refused("syntax"), refused("syntax")}, // full-width digit one
		{"٣", 2, refused("syntax"), refused("syntax")}, // Arabic-Indic three
		{"", 2, refused("syntax"), refused("syntax")},
		{"-", 2, refused("syntax"), refused("syntax")},
		{".5", 2, refused("syntax"), refused("syntax")},
		{"5.", 2, refused("syntax"), refused("syntax")},
		{"007", 2, refused("syntax"), refused("syntax")},
		{"1,5", 2, refused("syntax"), refused("syntax")},
		{"0x10", 2, refused("syntax"), refused("syntax")},
		{"NaN", 2, refused("syntax"), refused("syntax")},
		{"0", 2, accepted("0"), accepted("0")},
		{"-0", 2, accepted("0"), accepted("0")},
		{"-0.00", 2, accepted("0"), accepted("0")},
		{"-12.34", 2, accepted("-1234"), accepted("-1234")},
		{"1234567890123456789", 0, accepted("1234567890123456789"), accepted("1234567890123456789")}, // 19 digits
		{"1234567890123456789", 2, refused("range"), refused("range")},
		{"9999999999999999999", 0, refused("range"), refused("range")},
		{"9223372036854775807", 0, accepted("9223372036854775807"), accepted("9223372036854775807")}, // MaxInt64
		{"9223372036854775808", 0, refused("range"), refused("range")},
		{"-9223372036854775807", 0, accepted("-9223372036854775807"), accepted("-9223372036854775807")},
		{"-9223372036854775808", 0, refused("range"), refused("range")}, // MinInt64: not negatable
		{"92233720368547758.07", 2, accepted("9223372036854775807"), accepted("9223372036854775807")},
		{"92233720368547758.08", 2, refused("range"), refused("range")},
		{"-92233720368547758.08", 2, refused("range"), refused("range")},
		{"1." + strings.Repeat("0", 62), 2, accepted("100"), accepted("100")},           // 64 characters
		{"0." + strings.Repeat("0", 62) + "1", 2, refused("syntax"), refused("syntax")}, // 65
	}
	for _, tt := range amounts {
		t.Run(tt.in, func(t *testing.T) {
			for name, parse := range plainAmount {
				if got := parse(tt.in, tt.divisions); got != tt.plain {
					t.Errorf("%s(%q, %d): got %v, want %v", name, tt.in, tt.divisions, got, tt.plain)
				}
			}
			for name, parse := range wireAmount {
				if got := parse(tt.in, tt.divisions); got != tt.wire {
					t.Errorf("%s(%q, %d): got %v, want %v", name, tt.in, tt.divisions, got, tt.wire)
				}
			}
			if tt.plain.fail == "" && tt.wire != tt.plain {
				t.Errorf("plain %v and wire %v disagree on the value", tt.plain, tt.wire)
			}
		})
	}

	rates := []struct {
		in          string
		plain, wire moneyAnswer
	}{
		{"1", accepted("1"), accepted("1")},
		{"1.5", accepted("1.5"), accepted("1.5")},
		{"1.50", accepted("1.5"), accepted("1.5")},
		{"1.500", accepted("1.5"), accepted("1.5")},
		{"0.000001", accepted("0.000001"), accepted("0.000001")},
		{"0.0000001", accepted("0.0000001"), accepted("0.0000001")}, // 7 places: once refused by the community
		{"1.123456789012", accepted("1.123456789012"), accepted("1.123456789012")},
		{"0.0000000000001", refused("places"), refused("places")}, // 13 decimal places
		{"1.1234567890123", refused("places"), refused("places")},
		{"1.0000000000000", accepted("1"), accepted("1")},
		{"1000000000", accepted("1000000000"), accepted("1000000000")},
		{"1000000000.000000000001", refused("range"), refused("range")},
		{"1e3", refused("syntax"), accepted("1000")},
		{"1E-7", refused("syntax"), accepted("0.0000001")},
		{"0", refused("sign"), refused("sign")},
		{"-0", refused("sign"), refused("sign")},
		{"0.000", refused("sign"), refused("sign")},
		{"-1", refused("sign"), refused("sign")},
		{"-0.000001", refused("sign"), refused("sign")},
		{"+1", refused("syntax"), refused("syntax")},
		{" 1", refused("syntax"), refused("syntax")},
		{"１", refused("syntax"), refused("syntax")},
		{"007", refused("syntax"), refused("syntax")},
		{"", refused("syntax"), refused("syntax")},
	}
	for _, tt := range rates {
		t.Run("rate "+tt.in, func(t *testing.T) {
			for name, parse := range plainRate {
				if got := parse(tt.in); got != tt.plain {
					t.Errorf("%s(%q): got %v, want %v", name, tt.in, got, tt.plain)
				}
			}
			for name, parse := range wireRate {
				if got := parse(tt.in); got != tt.wire {
					t.Errorf("%s(%q): got %v, want %v", name, tt.in, got, tt.wire)
				}
			}
			if tt.plain.fail == "" {
				if tt.wire != tt.plain {
					t.Errorf("plain %v and wire %v disagree on the value", tt.plain, tt.wire)
				}
				// What an admin registers is sent to the community in its
				// canonical spelling; every entry point takes that too.
				for name, parse := range wireRate {
					if got := parse(tt.plain.v); got != tt.plain {
						t.Errorf("canonical %q: %s got %v", tt.plain.v, name, got)
					}
				}
			}
		})
	}
	if got := amountAnswer(money.Parse("1", 2)); got != accepted("100") || math.MaxInt64 != 9223372036854775807 {
		t.Fatalf("sanity: got %v", got)
	}
}
