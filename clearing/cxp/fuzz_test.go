package cxp

import (
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"github.com/sxp-network/sxp/ledger/money"
)

// FuzzDecimal checks the decimal parser (ledger/money's number spelling) against encoding/json's grammar and math/big's
// value, and Minor against FromMinor. `go test` runs the seeds; `go test -fuzz
// FuzzDecimal` explores.
func FuzzDecimal(f *testing.F) {
	for _, s := range []string{"0", "-0", "12.50", "1e3", "1E+3", "2.5e-1", "0.001", "007", "-", "1.", ".5",
		"92233720368547758.07", "92233720368547758.08", "1e400", "1e401", "-1e-400", "NaN", "1_000", "١"} {
		f.Add(s, 2)
	}
	f.Fuzz(func(t *testing.T, s string, divisions int) {
		if divisions < 0 || divisions > 18 {
			return
		}
		d := Decimal(s)
		perr := money.CheckNumber(s)
		// Our grammar is JSON's number grammar, within our length and exponent bounds.
		var n json.Number
		jsonOK := json.Unmarshal([]byte(s), &n) == nil && n.String() == s && strings.TrimSpace(s) == s
		if perr == nil && !jsonOK {
			t.Fatalf("%q: accepted, but not a JSON number", s)
		}
		if perr != nil {
			if jsonOK && len(s) <= MaxDecimalLen && !strings.ContainsAny(s, "eE") {
				t.Fatalf("%q: refused, but a JSON number", s)
			}
			return
		}
		r := d.Rat()
		want, ok := new(big.Rat).SetString(s)
		if !ok || r.Cmp(want) != 0 {
			t.Fatalf("%q: Rat %v, math/big %v", s, r, want)
		}
		v, err := d.MinorField("q", divisions)
		scaled := new(big.Rat).Mul(want, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(divisions)), nil)))
		if err != nil {
			if scaled.IsInt() && scaled.Num().IsInt64() && scaled.Num().Int64() != -1<<63 {
				t.Fatalf("%q divisions %d: refused (%v) but %v is a whole int64", s, divisions, err, scaled)
			}
			return
		}
		if !scaled.IsInt() || scaled.Num().Int64() != v {
			t.Fatalf("%q divisions %d: got %d, want %v", s, divisions, v, scaled)
		}
		if back := FromMinor(v, divisions).Rat(); back.Cmp(want) != 0 {
			t.Fatalf("%q: FromMinor(%d, %d) = %s", s, v, divisions, FromMinor(v, divisions))
		}
	})
}

// FuzzDecode checks that Decode never panics and refuses only with known codes, and that
// what it accepts re-encodes and decodes to the same value.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{}`, `{"payer":"a","quantity":1.5,"really":1}`, `[]`, `{"quantity":"1"}`, `{"x":1}`,
		`{"payer":"a","payer":"b"}`, `{"description":"\u0000"}`, "{\"payer\":\"\xff\"}", `{"really":0}`, `null`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var r TransactionRequest
		err := Decode(body, &r)
		if err != nil {
			switch err.Code {
			case CodeType, CodeInvalidField, CodeInvalidChars:
			default:
				t.Fatalf("%q: unexpected code %d", body, err.Code)
			}
			return
		}
		b, merr := json.Marshal(r)
		if merr != nil {
			t.Fatalf("%q: re-encode: %v", body, merr)
		}
		var again TransactionRequest
		if derr := Decode(b, &again); derr != nil || again != r {
			t.Fatalf("%q: re-decode of %s: %+v %v", body, b, again, derr)
		}
	})
}
