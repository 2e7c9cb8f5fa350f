package money

import (
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

func mustRate(t testing.TB, s string) Rate {
	t.Helper()
	r, err := ParseRate(s)
	if err != nil {
		t.Fatalf("ParseRate(%q): %v", s, err)
	}
	return r
}

func TestToBaseFromBase(t *testing.T) {
	tests := []struct {
		name          string
		v             int64
		from, to      int
		rate          string
		toBase        bool
		half, fl, cei int64
	}{
		{"integer rate", 1000, 2, 2, "2", true, 2000, 2000, 2000},
		{"half up", 25, 1, 0, "1", true, 3, 2, 3},
		{"half down negative", -25, 1, 0, "1", true, -3, -3, -2},
		{"third", 1, 0, 0, "3", false, 0, 0, 1},
		{"two thirds", 2, 0, 0, "3", false, 1, 0, 1},
		{"minus two thirds", -2, 0, 0, "3", false, -1, -1, 0},
		{"half from base", 1, 0, 0, "2", false, 1, 0, 1},
		{"minus half from base", -1, 0, 0, "2", false, -1, -1, 0},
		{"fine rate", 100000, 2, 2, "0.000001", false, 100000000000, 100000000000, 100000000000},
		{"divisions differ", 12345, 2, 0, "1.5", true, 185, 185, 186},
		{"twelve places", 1, 0, 12, "0.000000000001", true, 1, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustRate(t, tt.rate)
			for _, c := range []struct {
				mode Rounding
				want int64
			}{{HalfAwayFromZero, tt.half}, {Floor, tt.fl}, {Ceiling, tt.cei}} {
				var got int64
				var err error
				if tt.toBase {
					got, err = ToBase(tt.v, tt.from, r, tt.to, c.mode)
				} else {
					got, err = FromBase(tt.v, tt.from, r, tt.to, c.mode)
				}
				if err != nil || got != c.want {
					t.Errorf("%s: got %d, %v; want %d", c.mode, got, err, c.want)
				}
			}
		})
	}
	if _, err := FromBase(math.MaxInt64, 0, mustRate(t, "0.000001"), 0, Floor); err == nil {
		t.Errorf("FromBase beyond int64: got nil error, want ErrRange")
	}
	if _, err := ToBase(math.MaxInt64, 0, mustRate(t, "2"), 0, Floor); err == nil {
		t.Errorf("ToBase beyond int64: got nil error, want ErrRange")
	}
	if _, err := ToBase(1, 0, Rate{}, 0, Floor); err == nil {
		t.Errorf("ToBase with the zero Rate: got nil error")
	}
}

// exactValue is v × 10^shift × rate (or ÷ rate), the oracle for the properties.
func exactValue(v int64, shift int, rate Rate, multiply bool) *big.Rat {
	r, err := NumberRat(rate.String())
	if err != nil {
		panic(err)
	}
	x := new(big.Rat).SetInt64(v)
	p := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(shift))), nil))
	if shift >= 0 {
		x.Mul(x, p)
	} else {
		x.Quo(x, p)
	}
	if multiply {
		return x.Mul(x, r)
	}
	return x.Quo(x, r)
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// randomRate is a rate with 0..12 decimal places and a value up to 10^4.
func randomRate(rng *rand.Rand) Rate {
	places := rng.IntN(RatePlaces + 1)
	coeff := rng.Int64N(10_000*pow10(places)) + 1
	r, err := ParseRate(Format(coeff, places))
	if err != nil {
		panic(err)
	}
	return r
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// randomAmount is an amount of random size, sign and magnitude class.
func randomAmount(rng *rand.Rand) int64 {
	v := rng.Int64N(pow10(rng.IntN(13) + 1))
	if rng.IntN(4) == 0 {
		v = -v
	}
	return v
}

// Properties over random amounts, rates and divisions, checked against an
// exact math/big oracle: each mode is the right rounding of the exact value;
// Floor both ways never gains (FromBase(ToBase(x)) ≤ x, ToBase(FromBase(q)) ≤ q)
// and Ceiling both ways never loses.
func TestConversionProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 2026))
	for i := 0; i < 20000; i++ {
		x := randomAmount(rng)
		r := randomRate(rng)
		ld, bd := rng.IntN(5), rng.IntN(5)
		for _, dir := range []struct {
			name   string
			conv   func(int64, Rounding) (int64, error)
			back   func(int64, Rounding) (int64, error)
			oracle *big.Rat
		}{
			{"to base",
				func(v int64, m Rounding) (int64, error) { return ToBase(v, ld, r, bd, m) },
				func(v int64, m Rounding) (int64, error) { return FromBase(v, bd, r, ld, m) },
				exactValue(x, bd-ld, r, true)},
			{"from base",
				func(v int64, m Rounding) (int64, error) { return FromBase(v, ld, r, bd, m) },
				func(v int64, m Rounding) (int64, error) { return ToBase(v, bd, r, ld, m) },
				exactValue(x, bd-ld, r, false)},
		} {
			fl, err1 := dir.conv(x, Floor)
			ce, err2 := dir.conv(x, Ceiling)
			ha, err3 := dir.conv(x, HalfAwayFromZero)
			if err1 != nil || err2 != nil || err3 != nil {
				if dir.oracle.Num().BitLen()-dir.oracle.Denom().BitLen() < 62 {
					t.Fatalf("%s %d at %s (%d→%d): %v %v %v", dir.name, x, r, ld, bd, err1, err2, err3)
				}
				continue
			}
			ex := dir.oracle
			f, c, h := new(big.Rat).SetInt64(fl), new(big.Rat).SetInt64(ce), new(big.Rat).SetInt64(ha)
			// floor ≤ exact ≤ ceiling, ceiling − floor is 0 (exact) or 1.
			if f.Cmp(ex) > 0 || c.Cmp(ex) < 0 || ce-fl > 1 || (ex.IsInt() && ce != fl) {
				t.Fatalf("%s %d at %s (%d→%d): floor %d, ceiling %d, exact %s", dir.name, x, r, ld, bd, fl, ce, ex.FloatString(20))
			}
			// half away from zero is within half a unit, and a half goes away from zero.
			diff := new(big.Rat).Sub(h, ex)
			twice := new(big.Rat).Mul(diff, big.NewRat(2, 1))
			if twice.Abs(twice).Cmp(big.NewRat(1, 1)) > 0 {
				t.Fatalf("%s %d at %s: half away %d, exact %s", dir.name, x, r, ha, ex.FloatString(20))
			}
			if twice.Cmp(big.NewRat(1, 1)) == 0 && (diff.Sign() > 0) != (ex.Sign() > 0) {
				t.Fatalf("%s %d at %s: half %s went to %d", dir.name, x, r, ex.FloatString(20), ha)
			}
			// no round trip gains (floor) or loses (ceiling).
			if back, err := dir.back(fl, Floor); err == nil && back > x {
				t.Fatalf("%s %d at %s (%d→%d): floor round trip %d → %d → %d gains", dir.name, x, r, ld, bd, x, fl, back)
			}
			if back, err := dir.back(ce, Ceiling); err == nil && back < x {
				t.Fatalf("%s %d at %s (%d→%d): ceiling round trip %d → %d → %d loses", dir.name, x, r, ld, bd, x, ce, back)
			}
		}
	}
}

func TestRateScale(t *testing.T) {
	tests := []struct {
		rate, percent string
		places        int
		mode          Rounding
		want          string
		err           error
	}{
		{"1.234567", "1", 6, HalfAwayFromZero, "1.246913", nil}, // 1.24691267
		{"1.234567", "1", 6, Floor, "1.246912", nil},
		{"1", "-5", 6, HalfAwayFromZero, "0.95", nil},
		{"2", "50", 0, HalfAwayFromZero, "3", nil},
		{"0.000001", "-40", 6, HalfAwayFromZero, "0.000001", nil}, // 0.0000006 rounds up
		{"0.000001", "-60", 6, HalfAwayFromZero, "", ErrNotPositive},
		{"1000000000", "1", 6, HalfAwayFromZero, "", ErrRange},
		{"1", "1e2", 6, HalfAwayFromZero, "", ErrSyntax},
	}
	for _, tt := range tests {
		got, err := mustRate(t, tt.rate).Scale(tt.percent, tt.places, tt.mode)
		if !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) || err == nil && got.String() != tt.want {
			t.Errorf("%s.Scale(%s, %d, %s): got %s, %v; want %s, %v", tt.rate, tt.percent, tt.places, tt.mode, got, err, tt.want, tt.err)
		}
	}
}
