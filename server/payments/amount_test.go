package payments

import "testing"

func TestCurrencyParse(t *testing.T) {
	cur := Currency{Code: "LEAF", Divisions: 2}
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"12.50", 1250, false},
		{"12.5", 1250, false},
		{"12", 1200, false},
		{"0.01", 1, false},
		{".5", 0, true}, // money's plain grammar: no bare point, no '+'
		{"-3", -300, false},
		{"+3.10", 0, true},
		{"12.500", 1250, false}, // trailing zeros are not precision
		{"0", 0, false},
		{"92233720368547758.07", 9223372036854775807, false},
		{"92233720368547758.08", 0, true},
		{"1234567890123456.78", 123456789012345678, false},
		{"12.505", 0, true},
		{"12.", 0, true},
		{"", 0, true},
		{".", 0, true},
		{"-", 0, true},
		{"1e3", 0, true},
		{" 1", 0, true},
		{"1,5", 0, true},
		{"0x10", 0, true},
		{"--1", 0, true},
		{"1.2.3", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := cur.Parse(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Parse(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("Parse(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestCurrencyParseDivisions(t *testing.T) {
	tests := []struct {
		div     int
		in      string
		want    int64
		wantErr bool
	}{
		{0, "7", 7, false},
		{0, "7.0", 7, false},
		{0, "7.5", 0, true},
		{3, "1.234", 1234, false},
		{3, "1.2345", 0, true},
	}
	for _, tt := range tests {
		got, err := Currency{Code: "X", Divisions: tt.div}.Parse(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("divisions %d Parse(%q) = %d, %v; want %d, error %v", tt.div, tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestCurrencyParsePositive(t *testing.T) {
	cur := Currency{Code: "LEAF", Divisions: 2}
	for _, in := range []string{"0", "0.00", "-1"} {
		if _, err := cur.ParsePositive(in); err == nil {
			t.Errorf("ParsePositive(%q): got no error, want one", in)
		}
	}
	if v, err := cur.ParsePositive("0.01"); err != nil || v != 1 {
		t.Errorf("ParsePositive(0.01) = %d, %v; want 1", v, err)
	}
}

func TestCurrencyFormat(t *testing.T) {
	tests := []struct {
		div  int
		in   int64
		want string
	}{
		{2, 1250, "12.50"},
		{2, 5, "0.05"},
		{2, -5, "-0.05"},
		{2, 0, "0.00"},
		{2, -100000, "-1000.00"},
		{0, 42, "42"},
		{3, 1, "0.001"},
		{2, -9223372036854775808, "-92233720368547758.08"},
	}
	for _, tt := range tests {
		if got := (Currency{Code: "X", Divisions: tt.div}).Format(tt.in); got != tt.want {
			t.Errorf("Format(%d, div %d) = %q, want %q", tt.in, tt.div, got, tt.want)
		}
	}
}
