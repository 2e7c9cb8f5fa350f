package cxp

import (
	"encoding/json"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
)

func TestDecimalMinor(t *testing.T) {
	tests := []struct {
		in        string
		divisions int
		want      int64
		wantCode  Code
		wantType  string // args["type"] of a code 15
	}{
		{"12.5", 2, 1250, OK, ""},
		{"12.50", 2, 1250, OK, ""},
		{"1.50", 1, 15, OK, ""}, // trailing zeros are not precision
		{"0", 2, 0, OK, ""},
		{"-0", 2, 0, OK, ""},
		{"-0.0", 2, 0, OK, ""},
		{"-12.34", 2, -1234, OK, ""},
		{"7", 0, 7, OK, ""},
		{"1e3", 2, 100000, OK, ""},
		{"1E+3", 0, 1000, OK, ""},
		{"2.5e-1", 2, 25, OK, ""},
		{"1250e-2", 2, 1250, OK, ""},
		{"0.001", 2, 0, CodeType, "number with at most 2 decimal places"},
		{"1.001", 2, 0, CodeType, "number with at most 2 decimal places"},
		{"0.5", 0, 0, CodeType, "whole number"},
		{"0.05", 1, 0, CodeType, "number with at most 1 decimal place"},
		{"1e-3", 2, 0, CodeType, "number with at most 2 decimal places"},
		{"0e-300", 2, 0, OK, ""},
		{"92233720368547758.07", 2, math.MaxInt64, OK, ""},
		{"-92233720368547758.07", 2, -math.MaxInt64, OK, ""},
		{"92233720368547758.08", 2, 0, CodeType, "number between -92233720368547758.07 and 92233720368547758.07"},
		{"1e17", 2, 0, CodeType, "number between -92233720368547758.07 and 92233720368547758.07"},
		{"1e400", 2, 0, CodeType, "number between -92233720368547758.07 and 92233720368547758.07"},
		{"1e401", 2, 0, CodeType, "number"}, // exponent beyond ±400 is refused outright
		{"99999999999999999999999999", 0, 0, CodeType, "number between -9223372036854775807 and 9223372036854775807"},
		{"007", 2, 0, CodeType, "number"}, // leading zeros are not JSON
		{"01.5", 2, 0, CodeType, "number"},
		{"+1", 2, 0, CodeType, "number"},
		{".5", 2, 0, CodeType, "number"},
		{"5.", 2, 0, CodeType, "number"},
		{"1e", 2, 0, CodeType, "number"},
		{"--1", 2, 0, CodeType, "number"},
		{"0x10", 2, 0, CodeType, "number"},
		{"NaN", 2, 0, CodeType, "number"},
		{"Infinity", 2, 0, CodeType, "number"},
		{" 1", 2, 0, CodeType, "number"},
		{"1 ", 2, 0, CodeType, "number"},
		{"1,5", 2, 0, CodeType, "number"},
		{"0." + strings.Repeat("0", 62) + "1", 2, 0, CodeType, "number"}, // 65 characters: longer than MaxDecimalLen
		{"1." + strings.Repeat("0", 61), 2, 100, OK, ""},                 // 64 characters
		{"", 2, 0, CodeMissingField, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Decimal(tt.in).MinorField("quantity", tt.divisions)
			if err == nil && tt.wantCode != OK || err != nil && err.Code != tt.wantCode {
				t.Fatalf("got %d, %v; want code %d", got, err, tt.wantCode)
			}
			if err != nil {
				if err.Code == CodeType && (err.Args["fieldname"] != "quantity" || err.Args["type"] != tt.wantType) {
					t.Errorf("args: got %v, want fieldname quantity, type %q", err.Args, tt.wantType)
				}
				return
			}
			if got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestDecimalMinorWrapper(t *testing.T) {
	if v, err := Decimal("3.25").Minor(2); err != nil || v != 325 {
		t.Errorf("Minor: got %d %v, want 325 nil", v, err)
	}
	_, err := Decimal("0.001").Minor(2)
	if e, ok := AsError(err); !ok || e.Code != CodeType || e.Args["fieldname"] != "number" {
		t.Errorf("Minor: got %v, want code 15 on number", err)
	}
}

func TestFromMinor(t *testing.T) {
	tests := []struct {
		v         int64
		divisions int
		want      Decimal
	}{
		{1250, 2, "12.50"},
		{5, 2, "0.05"},
		{-5, 2, "-0.05"},
		{-1250, 2, "-12.50"},
		{0, 2, "0.00"},
		{7, 0, "7"},
		{-7, 0, "-7"},
		{1, 6, "0.000001"},
		{math.MaxInt64, 2, "92233720368547758.07"},
		{math.MinInt64, 2, "-92233720368547758.08"},
	}
	for _, tt := range tests {
		if got := FromMinor(tt.v, tt.divisions); got != tt.want {
			t.Errorf("FromMinor(%d, %d): got %s, want %s", tt.v, tt.divisions, got, tt.want)
		}
	}
}

// Property: FromMinor then Minor gives back the same integer, for many values and divisions.
func TestFromMinorRoundTrip(t *testing.T) {
	values := []int64{0, 1, -1, 9, 10, 99, 100, 101, 12345, -12345, 1 << 40, -(1 << 40), math.MaxInt64, math.MinInt64 + 1}
	for d := 0; d <= 8; d++ {
		for _, v := range values {
			got, err := FromMinor(v, d).Minor(d)
			if err != nil || got != v {
				t.Errorf("divisions %d: %d → %s → %d, %v", d, v, FromMinor(v, d), got, err)
			}
		}
	}
}

func TestDecimalJSON(t *testing.T) {
	var v struct {
		Q Decimal  `json:"q"`
		P *Decimal `json:"p"`
	}
	if err := json.Unmarshal([]byte(`{"q": 12.50, "p": 1e3}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.Q != "12.50" || v.P == nil || *v.P != "1e3" {
		t.Errorf("got %q %v, want 12.50 1e3 kept verbatim", v.Q, v.P)
	}
	err := json.Unmarshal([]byte(`{"q": "12.50"}`), &v)
	if e, ok := AsError(err); !ok || e.Code != CodeType {
		t.Errorf("string: got %v, want code 15", err)
	}
	b, err := json.Marshal(struct {
		A Decimal `json:"a"`
		B Decimal `json:"b"`
		C Decimal `json:"c,omitempty"`
	}{A: "12.50", B: ""})
	if err != nil || string(b) != `{"a":12.50,"b":null}` {
		t.Errorf("marshal: got %s %v, want {\"a\":12.50,\"b\":null}", b, err)
	}
	if _, err := json.Marshal(Decimal("12,5")); err == nil {
		t.Errorf("marshal of an invalid Decimal: got nil error")
	}
}

func TestDecimalRat(t *testing.T) {
	tests := []struct {
		in   Decimal
		want *big.Rat
	}{
		{"12.5", big.NewRat(25, 2)},
		{"-0", big.NewRat(0, 1)},
		{"1e3", big.NewRat(1000, 1)},
		{"1.5e-2", big.NewRat(3, 200)},
		{"0.000001", big.NewRat(1, 1000000)},
	}
	for _, tt := range tests {
		if got := tt.in.Rat(); got == nil || got.Cmp(tt.want) != 0 {
			t.Errorf("Rat(%s): got %v, want %v", tt.in, got, tt.want)
		}
	}
	if got := Decimal("1,5").Rat(); got != nil {
		t.Errorf("Rat of an invalid Decimal: got %v, want nil", got)
	}
	if s := Decimal("-0.0").Sign(); s != 0 {
		t.Errorf("Sign(-0.0): got %d, want 0", s)
	}
}

func TestParseDecimal(t *testing.T) {
	if d, err := ParseDecimal("-3.5"); err != nil || d != "-3.5" {
		t.Errorf("got %q %v", d, err)
	}
	_, err := ParseDecimal("3.5.1")
	if e, ok := AsError(err); !ok || e.Code != CodeType || !reflect.DeepEqual(e.Args, map[string]string{"fieldname": "number", "type": "number"}) {
		t.Errorf("got %v, want code 15", err)
	}
}

func TestValidateRate(t *testing.T) {
	tests := []struct {
		in   Decimal
		want *Error
	}{
		{"1", nil},
		{"0.5", nil},
		{"2.123456", nil},
		{"1000000000", nil},
		{"", MissingField("ticks")},
		{"0", SignError("ticks", ">", "0")},
		{"-1", SignError("ticks", ">", "-1")},
		{"1.1234567", nil},
		{"0.000000000001", nil},
		{"1.0000000000000", nil}, // trailing zeros are not precision
		{"1E-7", nil},            // the wire takes JSON exponents (ledger/money)
		{"0.0000000000001", TypeError("ticks", "number with at most 12 decimal places")},
		{"-0.0000000000001", TypeError("ticks", "number with at most 12 decimal places")},
		{"1e3x", TypeError("ticks", "number")},
		{"1000000000.000001", TypeError("ticks", "number between 0 and 1000000000")},
		{"1e300", TypeError("ticks", "number between 0 and 1000000000")},
	}
	for _, tt := range tests {
		got := ValidateRate("ticks", tt.in)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ValidateRate(%q): got %v, want %v", tt.in, got, tt.want)
		}
	}
}
