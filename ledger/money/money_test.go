package money

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in        string
		divisions int
		want      int64
		plain     error // Parse
		number    error // ParseNumber
	}{
		{"12.5", 2, 1250, nil, nil},
		{"12.50", 2, 1250, nil, nil},
		{"1.500", 2, 150, nil, nil}, // trailing zeros are not precision
		{"1.505", 2, 0, ErrPlaces, ErrPlaces},
		{"0.5", 0, 0, ErrPlaces, ErrPlaces},
		{"0", 2, 0, nil, nil},
		{"-0", 2, 0, nil, nil},
		{"-12.34", 2, -1234, nil, nil},
		{"1e2", 2, 10000, ErrSyntax, nil},
		{"1E+3", 0, 1000, ErrSyntax, nil},
		{"2.5e-1", 2, 25, ErrSyntax, nil},
		{"1e-3", 2, 0, ErrSyntax, ErrPlaces},
		{"1e400", 2, 0, ErrSyntax, ErrRange},
		{"1e401", 2, 0, ErrSyntax, ErrSyntax},
		{"92233720368547758.07", 2, math.MaxInt64, nil, nil},
		{"-92233720368547758.07", 2, -math.MaxInt64, nil, nil},
		{"92233720368547758.08", 2, 0, ErrRange, ErrRange},
		{"-92233720368547758.08", 2, 0, ErrRange, ErrRange},
		{"007", 2, 0, ErrSyntax, ErrSyntax},
		{"+1", 2, 0, ErrSyntax, ErrSyntax},
		{" 1", 2, 0, ErrSyntax, ErrSyntax},
		{"1 ", 2, 0, ErrSyntax, ErrSyntax},
		{".5", 2, 0, ErrSyntax, ErrSyntax},
		{"5.", 2, 0, ErrSyntax, ErrSyntax},
		{"１", 2, 0, ErrSyntax, ErrSyntax},
		{"1_000", 2, 0, ErrSyntax, ErrSyntax},
		{"NaN", 2, 0, ErrSyntax, ErrSyntax},
		{"Infinity", 2, 0, ErrSyntax, ErrSyntax},
		{"", 2, 0, ErrSyntax, ErrSyntax},
		{"1." + strings.Repeat("0", 62), 2, 100, nil, nil},                 // 64 characters
		{"0." + strings.Repeat("0", 62) + "1", 2, 0, ErrSyntax, ErrSyntax}, // 65
		{"1", 19, 0, ErrDivisions, ErrDivisions},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			for _, p := range []struct {
				name  string
				parse func(string, int) (int64, error)
				want  error
			}{{"Parse", Parse, tt.plain}, {"ParseNumber", ParseNumber, tt.number}} {
				got, err := p.parse(tt.in, tt.divisions)
				if !errors.Is(err, p.want) || (err == nil) != (p.want == nil) {
					t.Errorf("%s: got %d, %v; want error %v", p.name, got, err, p.want)
				} else if err == nil && got != tt.want {
					t.Errorf("%s: got %d, want %d", p.name, got, tt.want)
				}
			}
		})
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		v         int64
		divisions int
		want      string
	}{
		{1250, 2, "12.50"}, {5, 2, "0.05"}, {-5, 2, "-0.05"}, {0, 2, "0.00"}, {7, 0, "7"}, {-7, 0, "-7"},
		{1, 6, "0.000001"}, {math.MaxInt64, 2, "92233720368547758.07"}, {math.MinInt64, 2, "-92233720368547758.08"},
		{math.MaxInt64, 18, "9.223372036854775807"},
	}
	for _, tt := range tests {
		if got := Format(tt.v, tt.divisions); got != tt.want {
			t.Errorf("Format(%d, %d): got %q, want %q", tt.v, tt.divisions, got, tt.want)
		}
	}
}

func TestParseRate(t *testing.T) {
	tests := []struct {
		in     string
		want   string // canonical spelling
		plain  error  // ParseRate
		number error  // ParseRateNumber
	}{
		{"1", "1", nil, nil},
		{"2.50", "2.5", nil, nil},
		{"0.000001", "0.000001", nil, nil},
		{"0.000000000001", "0.000000000001", nil, nil},
		{"0.0000000000001", "", ErrPlaces, ErrPlaces}, // 13 decimal places
		{"1.0000000000000", "1", nil, nil},            // 13 written, the value has none
		{"1000000000", "1000000000", nil, nil},
		{"1000000000.000001", "", ErrRange, ErrRange},
		{"1e3", "1000", ErrSyntax, nil},
		{"25e-1", "2.5", ErrSyntax, nil},
		{"1E-7", "0.0000001", ErrSyntax, nil},
		{"0", "", ErrNotPositive, ErrNotPositive},
		{"-0", "", ErrNotPositive, ErrNotPositive},
		{"-1", "", ErrNotPositive, ErrNotPositive},
		{"007", "", ErrSyntax, ErrSyntax},
		{"", "", ErrSyntax, ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			for _, p := range []struct {
				name  string
				parse func(string) (Rate, error)
				want  error
			}{{"ParseRate", ParseRate, tt.plain}, {"ParseRateNumber", ParseRateNumber, tt.number}} {
				got, err := p.parse(tt.in)
				if !errors.Is(err, p.want) || (err == nil) != (p.want == nil) {
					t.Errorf("%s: got %s, %v; want error %v", p.name, got, err, p.want)
				} else if err == nil && got.String() != tt.want {
					t.Errorf("%s: got %s, want %s", p.name, got, tt.want)
				}
			}
		})
	}
	a, b := mustRate(t, "2.5"), mustRate(t, "2.50")
	if a.Cmp(b) != 0 || a.Cmp(mustRate(t, "3")) >= 0 {
		t.Errorf("Cmp: got %d and %d, want 0 and -1", a.Cmp(b), a.Cmp(mustRate(t, "3")))
	}
}

func TestNumberRat(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want *big.Rat
	}{{"12.5", big.NewRat(25, 2)}, {"-0", new(big.Rat)}, {"1e3", big.NewRat(1000, 1)}, {"1.5e-2", big.NewRat(3, 200)}} {
		if got, err := NumberRat(tt.in); err != nil || got.Cmp(tt.want) != 0 {
			t.Errorf("NumberRat(%s): got %v %v, want %v", tt.in, got, err, tt.want)
		}
	}
	if _, err := NumberRat("1,5"); !errors.Is(err, ErrSyntax) {
		t.Errorf("NumberRat(1,5): got %v, want ErrSyntax", err)
	}
}

// FuzzParse: no spelling panics; the plain grammar is the number grammar
// without exponents and they agree on every value; what is accepted is
// exactly math/big's value scaled to minor units; Format reads back to the
// same amount with both grammars; a rate's canonical spelling is accepted by
// both with the same value. The seed corpus is in testdata/fuzz/FuzzParse;
// `go test -fuzz FuzzParse ./ledger/money` explores.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string, divisions int) {
		if divisions < 0 || divisions > MaxDivisions {
			divisions = 2
		}
		pv, perr := Parse(s, divisions)
		nv, nerr := ParseNumber(s, divisions)
		if perr == nil && (nerr != nil || nv != pv) {
			t.Fatalf("%q: Parse %d, ParseNumber %d %v", s, pv, nv, nerr)
		}
		if perr != nil && nerr == nil && !strings.ContainsAny(s, "eE") {
			t.Fatalf("%q: refused by Parse (%v) without an exponent, accepted by ParseNumber", s, perr)
		}
		if nerr == nil {
			want, ok := new(big.Rat).SetString(s)
			scaled := new(big.Rat).Mul(want, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(divisions)), nil)))
			if !ok || !scaled.IsInt() || scaled.Num().Int64() != nv {
				t.Fatalf("%q at %d: got %d, math/big %v", s, divisions, nv, scaled)
			}
			text := Format(nv, divisions)
			for _, parse := range []func(string, int) (int64, error){Parse, ParseNumber} {
				if back, err := parse(text, divisions); err != nil || back != nv {
					t.Fatalf("%q: %d → %q → %d, %v", s, nv, text, back, err)
				}
			}
		}
		pr, prerr := ParseRate(s)
		nr, nrerr := ParseRateNumber(s)
		if prerr == nil && (nrerr != nil || nr.Cmp(pr) != 0) {
			t.Fatalf("%q: ParseRate %s, ParseRateNumber %s %v", s, pr, nr, nrerr)
		}
		if nrerr == nil {
			for _, parse := range []func(string) (Rate, error){ParseRate, ParseRateNumber} {
				if back, err := parse(nr.String()); err != nil || back.Cmp(nr) != 0 || back.String() != nr.String() {
					t.Fatalf("%q: rate %s read back as %s, %v", s, nr, back, err)
				}
			}
		}
	})
}
