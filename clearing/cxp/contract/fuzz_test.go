package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzCanonical: whatever the library accepts canonicalises to valid JSON
// that is stable (its own canonical form), means the same as the input, and
// agrees with the second canonicaliser; a contract that parses hashes the
// same from its canonical form.
func FuzzCanonical(f *testing.F) {
	f.Add([]byte(`{"b":[1,2.50,1e3],"a":"\u20ac"}`))
	f.Add([]byte(`{"\ud83d\ude00":1,"\ufb33":2}`))
	f.Add([]byte(`[1E30, 4.50, 2e-3, -0, 0.000000000000000000000000001]`))
	f.Add(encode(f, sample()))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Canonical(data)
		if err != nil {
			return
		}
		if !json.Valid(got) {
			t.Fatalf("not valid JSON: %q", got)
		}
		again, err := Canonical(got)
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("not stable: %q → %q (%v)", got, again, err)
		}
		var a, b any
		if json.Unmarshal(data, &a) == nil {
			if err := json.Unmarshal(got, &b); err != nil {
				t.Fatalf("canonical form does not decode: %v", err)
			}
			if !sameJSON(a, b) {
				t.Fatalf("meaning changed: %q → %q", data, got)
			}
			if mine, err := canonical2(data); err == nil && json.Valid(data) && !bytes.Equal(mine, got) && !hasDuplicates(data) {
				t.Fatalf("second canonicaliser differs:\ninput  %q\njcs    %q\nsecond %q", data, got, mine)
			}
		}
		if p, err := Parse(data); err == nil {
			q, err := Parse(got)
			if err != nil || q.Hash() != p.Hash() {
				t.Fatalf("canonical form of a contract hashes differently (%v)", err)
			}
		}
	})
}

// sameJSON compares two decoded JSON values (numbers as float64, so -0 = 0).
func sameJSON(a, b any) bool {
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameJSON(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !sameJSON(v, w) {
				return false
			}
		}
		return true
	default:
		return a == b
	}
}

// hasDuplicates reports whether a JSON text repeats a key in an object
// (encoding/json keeps the last; the canonical form refuses it).
func hasDuplicates(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	var walk func() bool
	walk = func() bool {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'):
			keys := map[string]bool{}
			for dec.More() {
				k, _ := dec.Token()
				ks, _ := k.(string)
				if keys[ks] {
					return true
				}
				keys[ks] = true
				if walk() {
					return true
				}
			}
			dec.Token()
		case json.Delim('['):
			for dec.More() {
				if walk() {
					return true
				}
			}
			dec.Token()
		}
		return false
	}
	return walk()
}

// FuzzVerify: no input makes a promise, resolve request or token verify
// unless it is the signature of exactly that message by that key, and no
// input panics.
func FuzzVerify(f *testing.F) {
	p := mustParse(f, sample())
	good := p.Promise(testKey(2), 3)
	f.Add(1, 3, good)
	f.Add(0, 3, good)
	f.Add(1, 4, good)
	f.Add(1, 0, "")
	f.Add(-1, 99, "AAAA")
	f.Add(1, 3, good[:86]+"==")
	f.Fuzz(func(t *testing.T, party, round int, sig string) {
		err := p.VerifyPromise(party, round, sig)
		valid := party == 1 && round == 3 && sig == good
		if (err == nil) != valid {
			t.Fatalf("VerifyPromise(%d, %d, %q) = %v, want valid=%v", party, round, sig, err, valid)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("error %v does not wrap ErrInvalid", err)
		}
		if p.VerifyResolve(party, round, sig) == nil {
			t.Fatalf("a promise verified as a resolve request")
		}
		if p.VerifyToken(Resolved, sig) == nil || p.VerifyToken(Aborted, sig) == nil {
			t.Fatalf("a party's signature verified as T's token")
		}
	})
}
