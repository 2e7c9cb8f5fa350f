package cxp

import (
	"math"
	"math/big"
	"testing"
)

func TestToBase(t *testing.T) {
	tests := []struct {
		name          string
		local         int64
		localDiv      int
		ticks         Decimal
		baseDiv       int
		want          int64
		wantErrorCode Code
	}{
		{"10 units at rate 1 are 10 base", 1000, 2, "1", 2, 1000, OK},
		{"10 units at rate 2 are 20 base", 1000, 2, "2", 2, 2000, OK},
		{"rate 0.5", 1000, 2, "0.5", 2, 500, OK},
		{"0 stays 0", 0, 2, "3", 2, 0, OK},
		{"different divisions", 7, 0, "1.5", 2, 1050, OK},
		{"to fewer divisions", 1234, 2, "1", 0, 12, OK},
		{"half truncates towards zero", 1, 2, "0.5", 2, 0, OK},           // 0.005 → 0.00
		{"negative half truncates towards zero", -1, 2, "0.5", 2, 0, OK}, // -0.005 → 0.00
		{"below half truncates", 1, 2, "0.499999", 2, 0, OK},
		{"above half truncates too", 1, 2, "0.500001", 2, 0, OK},
		{"just under a whole unit truncates", 199, 2, "0.999999", 2, 198, OK},
		{"one third", 100, 2, "0.333333", 2, 33, OK},
		{"two thirds", 100, 2, "0.666667", 2, 66, OK},
		{"rate with exponent", 100, 2, "25e-1", 2, 250, OK},
		{"large exact", math.MaxInt64 / 4, 2, "2", 2, math.MaxInt64 / 4 * 2, OK},
		{"overflow", math.MaxInt64, 2, "2", 2, 0, CodeInvalidField},
		{"zero rate", 100, 2, "0", 2, 0, CodeSign},
		{"negative rate", 100, 2, "-1", 2, 0, CodeSign},
		{"missing rate", 100, 2, "", 2, 0, CodeMissingField},
		{"bad rate", 100, 2, "abc", 2, 0, CodeType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ToBase(tt.local, tt.localDiv, tt.ticks, tt.baseDiv)
			if code := CodeOf(err); code != tt.wantErrorCode {
				t.Fatalf("code: got %d (%v), want %d", code, err, tt.wantErrorCode)
			}
			if got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestFromBase(t *testing.T) {
	tests := []struct {
		name     string
		base     int64
		baseDiv  int
		ticks    Decimal
		localDiv int
		want     int64
	}{
		{"10 base at rate 2 are 5 units", 1000, 2, "2", 2, 500},
		{"10 base at rate 1 are 10 units", 1000, 2, "1", 2, 1000},
		{"rate 0.5 doubles", 1000, 2, "0.5", 2, 2000},
		{"one third rounds down", 100, 2, "3", 2, 33},
		{"two thirds truncates", 200, 2, "3", 2, 66},
		{"half truncates towards zero", 1, 2, "2", 2, 0}, // 0.005 → 0.00
		{"negative half towards zero", -1, 2, "2", 2, 0}, // -0.005 → 0.00
		{"negative", -1000, 2, "4", 2, -250},
		{"to a currency without decimals", 150, 2, "1", 0, 1}, // 1.5 → 1
		{"to a currency without decimals, 1.49", 149, 2, "1", 0, 1},
		{"to more divisions", 1, 0, "3", 3, 333},
		{"fine rate", 100000, 2, "0.000001", 2, 100000000000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromBase(tt.base, tt.baseDiv, tt.ticks, tt.localDiv)
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
	if _, err := FromBase(math.MaxInt64, 0, "0.000001", 0); CodeOf(err) != CodeInvalidField {
		t.Errorf("overflow: got %v, want code 8", err)
	}
}

// Converting between two communities through the base unit: 10 units of A (rate 1)
// are 10 base units, which are 5 units of B (rate 2), as design.md says.
func TestConvertThroughBase(t *testing.T) {
	base, err := ToBase(1000, 2, "1", 2)
	if err != nil {
		t.Fatal(err)
	}
	b, err := FromBase(base, 2, "2", 2)
	if err != nil {
		t.Fatal(err)
	}
	if base != 1000 || b != 500 {
		t.Errorf("got base %d, B %d; want 1000, 500", base, b)
	}
}

// Round trips: at an integer rate FromBase(ToBase(x)) is x; in general the
// round trip never gains (|back| ≤ |x|) and loses less than the truncation
// of each side: under one base minor unit (1/rate local minor units) plus
// one local minor unit.
func TestRoundTrip(t *testing.T) {
	rates := []Decimal{"1", "2", "0.5", "0.25", "1.5", "3", "0.333333", "7.123456", "0.000001", "1000"}
	for _, rate := range rates {
		for _, x := range []int64{-100001, -999, -1, 0, 1, 2, 3, 10, 99, 12345, 1000000, 987654321} {
			base, err := ToBase(x, 2, rate, 2)
			if err != nil {
				t.Fatalf("ToBase(%d, %s): %v", x, rate, err)
			}
			back, err := FromBase(base, 2, rate, 2)
			if err != nil {
				t.Fatalf("FromBase(%d, %s): %v", base, rate, err)
			}
			ax, ab := x, back
			if x < 0 {
				ax, ab = -x, -back
			}
			// loss < 1/rate + 1, i.e. (loss - 1) × rate < 1
			loss := new(big.Rat).Mul(big.NewRat(ax-ab-1, 1), rate.Rat())
			if ab > ax || ab < 0 || loss.Cmp(big.NewRat(1, 1)) >= 0 {
				t.Errorf("rate %s: %d → %d → %d, want no gain and a loss under 1/rate + 1", rate, x, base, back)
			}
			// At an integer rate local → base is exact and base → local divides it back.
			if rate == "1" || rate == "2" || rate == "3" || rate == "1000" {
				if back != x {
					t.Errorf("rate %s: %d → %d → %d, want exact", rate, x, base, back)
				}
			}
		}
	}
}

// Base → local → base is exact when the local currency is the finer one (rate <= 1).
func TestRoundTripFromBase(t *testing.T) {
	for _, rate := range []Decimal{"1", "0.5", "0.25", "0.125", "0.01"} {
		for _, x := range []int64{-100001, -1, 0, 1, 3, 12345, 987654321} {
			local, err := FromBase(x, 2, rate, 2)
			if err != nil {
				t.Fatal(err)
			}
			back, err := ToBase(local, 2, rate, 2)
			if err != nil {
				t.Fatal(err)
			}
			if back != x {
				t.Errorf("rate %s: %d → %d → %d, want exact", rate, x, local, back)
			}
		}
	}
}

// Issue 10, hole 3: 0.03 LEAF (rate 1) paid to a member at rate 2 must not
// become 0.02 ACORN (worth 0.04 base), and paying it back must not bring home
// more than was sent. Twenty cycles from 0.03 LEAF may lose to rounding but
// never gain.
func TestRoundingLoopCreatesNothing(t *testing.T) {
	const start = int64(3) // 0.03 LEAF
	leaf := start
	for cycle := range 20 {
		q, err := ToBase(leaf, 2, "1", 2)
		if err != nil {
			t.Fatal(err)
		}
		acorn, err := FromBase(q, 2, "2", 2)
		if err != nil {
			t.Fatal(err)
		}
		if acorn*2 > q {
			t.Fatalf("cycle %d: %d base minor units credited %d ACORN minor units, worth %d", cycle, q, acorn, acorn*2)
		}
		if acorn == 0 {
			break
		}
		back, err := ToBase(acorn, 2, "2", 2)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err = FromBase(back, 2, "1", 2)
		if err != nil {
			t.Fatal(err)
		}
		if leaf > start {
			t.Fatalf("cycle %d: got %d LEAF minor units back from %d, a gain", cycle, leaf, start)
		}
	}
}

// No conversion yields more value than it was given, for any amount and
// rate: ToBase(x) ≤ x × ticks and FromBase(q) × ticks ≤ q, exactly.
func TestConversionNeverCreatesValue(t *testing.T) {
	for _, ticks := range []Decimal{"1", "2", "2.5", "0.333333", "3", "1.000001", "0.5", "7"} {
		tr := ticks.Rat()
		for _, div := range [][2]int{{2, 2}, {0, 2}, {2, 0}, {3, 2}} {
			local, base := div[0], div[1]
			for x := int64(1); x <= 400; x++ {
				q, err := ToBase(x, local, ticks, base)
				if err != nil {
					t.Fatal(err)
				}
				// q / 10^base ≤ x / 10^local × ticks
				lhs := new(big.Rat).SetFrac(big.NewInt(q), pow10(base))
				rhs := new(big.Rat).Mul(new(big.Rat).SetFrac(big.NewInt(x), pow10(local)), tr)
				if lhs.Cmp(rhs) > 0 {
					t.Fatalf("ToBase(%d, %d, %s, %d) = %d: more than it was given", x, local, ticks, base, q)
				}
				l, err := FromBase(x, base, ticks, local)
				if err != nil {
					t.Fatal(err)
				}
				lhs = new(big.Rat).Mul(new(big.Rat).SetFrac(big.NewInt(l), pow10(local)), tr)
				rhs = new(big.Rat).SetFrac(big.NewInt(x), pow10(base))
				if lhs.Cmp(rhs) > 0 {
					t.Fatalf("FromBase(%d, %d, %s, %d) = %d: worth more than it was given", x, base, ticks, local, l)
				}
			}
		}
	}
}

func pow10(n int) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil) }
