package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

// RFC 8785 section 3.2.2: the example of a JSON text and its canonical form.
func TestCanonicalRFC8785Example(t *testing.T) {
	in := `{
  "numbers": [333333333.33333329, 1E30, 4.50,
              2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}`
	want := "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27]," +
		"\"string\":\"\u20ac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}"
	got, err := Canonical([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if mine, err := canonical2([]byte(in)); err != nil || string(mine) != want {
		t.Fatalf("second canonicaliser: got %s, %v", mine, err)
	}
}

// RFC 8785 section 3.2.3: sorting of properties by UTF-16 code units.
func TestCanonicalRFC8785Sorting(t *testing.T) {
	in := `{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}`
	want := "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"\u00f6\":\"Latin Small Letter O With Diaeresis\"," +
		"\"\u20ac\":\"Euro Sign\",\"\U0001F600\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}"
	for name, f := range map[string]func([]byte) ([]byte, error){"jcs": Canonical, "second": canonical2} {
		got, err := f([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("%s: got  %s\nwant %s", name, got, want)
		}
	}
}

// RFC 8785 appendix B: number serialisation samples (IEEE 754 bits → JSON).
func TestCanonicalRFC8785Numbers(t *testing.T) {
	tests := []struct{ bits, want string }{
		{"0000000000000000", "0"},
		{"8000000000000000", "0"},
		{"0000000000000001", "5e-324"},
		{"8000000000000001", "-5e-324"},
		{"7fefffffffffffff", "1.7976931348623157e+308"},
		{"ffefffffffffffff", "-1.7976931348623157e+308"},
		{"4340000000000000", "9007199254740992"},
		{"c340000000000000", "-9007199254740992"},
		{"4430000000000000", "295147905179352830000"},
		{"44b52d02c7e14af5", "9.999999999999997e+22"},
		{"44b52d02c7e14af6", "1e+23"},
		{"44b52d02c7e14af7", "1.0000000000000001e+23"},
		{"444b1ae4d6e2ef4e", "999999999999999700000"},
		{"444b1ae4d6e2ef4f", "999999999999999900000"},
		{"444b1ae4d6e2ef50", "1e+21"},
		{"3eb0c6f7a0b5ed8c", "9.999999999999997e-7"},
		{"3eb0c6f7a0b5ed8d", "0.000001"},
		{"41b3de4355555553", "333333333.3333332"},
		{"41b3de4355555554", "333333333.33333325"},
		{"41b3de4355555555", "333333333.3333333"},
		{"41b3de4355555556", "333333333.3333334"},
		{"41b3de4355555557", "333333333.33333343"},
		{"becbf647612f3696", "-0.0000033333333333333333"},
		{"43143ff3c1cb0959", "1424953923781206.2"},
	}
	for _, tt := range tests {
		u, err := strconv.ParseUint(tt.bits, 16, 64)
		if err != nil {
			t.Fatal(err)
		}
		f := math.Float64frombits(u)
		// Written in Go's exponent form, which is never the canonical spelling.
		in := "[" + strconv.FormatFloat(f, 'e', -1, 64) + "]"
		got, err := Canonical([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", tt.bits, err)
		}
		if string(got) != "["+tt.want+"]" {
			t.Errorf("%s (%s): got %s, want [%s]", tt.bits, in, got, tt.want)
		}
		if mine := es6Number(f); mine != tt.want {
			t.Errorf("%s: second canonicaliser: got %s, want %s", tt.bits, mine, tt.want)
		}
	}
	// NaN and Infinity cannot be written in JSON; a number too large for a
	// double must be an error, never Infinity.
	if _, err := Canonical([]byte("[1e400]")); err == nil {
		t.Errorf("1e400: got no error")
	}
}

// TestCanonicalRandom compares the library with the second canonicaliser on
// seeded random JSON, written with random spellings, escapes and spaces.
func TestCanonicalRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(8785, 1))
	for k := 0; k < 3000; k++ {
		in := writeRandom(rng, randomValue(rng, 0))
		got, err := Canonical([]byte(in))
		if err != nil {
			t.Fatalf("case %d: %v\n%s", k, err, in)
		}
		want, err := canonical2([]byte(in))
		if err != nil {
			t.Fatalf("case %d: second: %v\n%s", k, err, in)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d:\ninput  %s\njcs    %s\nsecond %s", k, in, got, want)
		}
		again, err := Canonical(got)
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("case %d: not stable: %s → %s (%v)", k, got, again, err)
		}
	}
}

func randomValue(rng *rand.Rand, depth int) any {
	kind := rng.IntN(9)
	if depth > 3 {
		kind = rng.IntN(5)
	}
	switch kind {
	case 0:
		return nil
	case 1:
		return rng.IntN(2) == 0
	case 2:
		return randomString(rng)
	case 3:
		switch rng.IntN(3) {
		case 0:
			return float64(rng.Int64N(1<<53) - 1<<52)
		case 1:
			return (rng.Float64() - 0.5) * math.Pow(10, float64(rng.IntN(60)-30))
		default:
			for {
				f := math.Float64frombits(rng.Uint64())
				if !math.IsNaN(f) && !math.IsInf(f, 0) {
					return f
				}
			}
		}
	case 4:
		return float64(rng.IntN(100))
	case 5, 6:
		a := make([]any, rng.IntN(5))
		for i := range a {
			a[i] = randomValue(rng, depth+1)
		}
		return a
	default:
		m := map[string]any{}
		for i := rng.IntN(6); i > 0; i-- {
			m[randomString(rng)] = randomValue(rng, depth+1)
		}
		return m
	}
}

func randomString(rng *rand.Rand) string {
	alphabet := []rune{'a', 'b', 'Z', '1', ' ', '"', '\\', '/', '\n', '\r', '\t', 0, 0x1f, 0x7f, 0x80,
		'ö', '€', 0xfb33, 0xffff, 0x1F600, 0x10000, 0x2028, '<', '&'}
	var b strings.Builder
	for i := rng.IntN(6); i > 0; i-- {
		b.WriteRune(alphabet[rng.IntN(len(alphabet))])
	}
	return b.String()
}

// writeRandom writes v as JSON text with random spacing, random escapes of
// string characters and random spellings of numbers.
func writeRandom(rng *rand.Rand, v any) string {
	var b strings.Builder
	space := func() {
		for i := rng.IntN(3); i > 0; i-- {
			b.WriteByte(" \n\t\r"[rng.IntN(4)])
		}
	}
	var write func(any)
	writeString := func(s string) {
		b.WriteByte('"')
		for _, r := range s {
			switch {
			case r == '"' || r == '\\':
				b.WriteByte('\\')
				b.WriteRune(r)
			case r < 0x20 || rng.IntN(4) == 0:
				for _, u := range utf16.Encode([]rune{r}) {
					fmt.Fprintf(&b, [2]string{`\u%04x`, `\u%04X`}[rng.IntN(2)], u)
				}
			case r == '/' && rng.IntN(2) == 0:
				b.WriteString(`\/`)
			default:
				b.WriteRune(r)
			}
		}
		b.WriteByte('"')
	}
	write = func(v any) {
		space()
		switch x := v.(type) {
		case nil:
			b.WriteString("null")
		case bool:
			b.WriteString(strconv.FormatBool(x))
		case string:
			writeString(x)
		case float64:
			formats := []byte{'e', 'E', 'g', 'f'}
			f := formats[rng.IntN(len(formats))]
			if f == 'f' && (math.Abs(x) > 1e30 || (x != 0 && math.Abs(x) < 1e-30)) {
				f = 'e'
			}
			b.WriteString(strconv.FormatFloat(x, f, -1, 64))
		case []any:
			b.WriteByte('[')
			for i, e := range x {
				if i > 0 {
					b.WriteByte(',')
				}
				write(e)
			}
			space()
			b.WriteByte(']')
		case map[string]any:
			b.WriteByte('{')
			i := 0
			for k, e := range x {
				if i > 0 {
					b.WriteByte(',')
				}
				i++
				space()
				writeString(k)
				space()
				b.WriteByte(':')
				write(e)
			}
			space()
			b.WriteByte('}')
		}
		space()
	}
	write(v)
	return b.String()
}

// canonical2 is a second, independent RFC 8785 canonicaliser: the standard
// library's decoder, then properties sorted by UTF-16 code units, strings
// escaped as RFC 8785 section 3.2.2.2 says, numbers written as ECMAScript's
// Number.prototype.toString (es6Number).
func canonical2(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := write2(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func write2(b *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return err
		}
		b.WriteString(es6Number(f))
	case string:
		writeString2(b, x)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := write2(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			a, c := utf16.Encode([]rune(keys[i])), utf16.Encode([]rune(keys[j]))
			for k := 0; k < len(a) && k < len(c); k++ {
				if a[k] != c[k] {
					return a[k] < c[k]
				}
			}
			return len(a) < len(c)
		})
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString2(b, k)
			b.WriteByte(':')
			if err := write2(b, x[k]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	}
	return nil
}

func writeString2(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		s = s[size:]
		switch r {
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		default:
			if r < 0x20 {
				fmt.Fprintf(b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

// es6Number is ECMAScript's Number::toString(x) for a finite double
// (ECMA-262 section 7.1.12.1): the shortest digits that round-trip, laid out
// by the position of the decimal point.
func es6Number(f float64) string {
	if f == 0 {
		return "0"
	}
	sign := ""
	if f < 0 {
		sign, f = "-", -f
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±x
	mant, expText, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	exp, _ := strconv.Atoi(expText)
	k, n := len(digits), exp+1
	switch {
	case k <= n && n <= 21:
		return sign + digits + strings.Repeat("0", n-k)
	case 0 < n && n <= 21:
		return sign + digits[:n] + "." + digits[n:]
	case -6 < n && n <= 0:
		return sign + "0." + strings.Repeat("0", -n) + digits
	}
	es := "+"
	if n-1 < 0 {
		es = "-"
	}
	ex := strconv.Itoa(abs(n - 1))
	if k == 1 {
		return sign + digits + "e" + es + ex
	}
	return sign + digits[:1] + "." + digits[1:] + "e" + es + ex
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
