package contract

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testKey is a deterministic key pair, seeded by b.
func testKey(b byte) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = b
	}
	return ed25519.NewKeyFromSeed(seed)
}

func pub(k ed25519.PrivateKey) string { return EncodeKey(k.Public().(ed25519.PublicKey)) }

// sample is a three-party loop with one money leg, parties keyed 1, 2, 3
// and T keyed 9.
func sample() map[string]any {
	return map[string]any{
		"type": "sxp-contract/1", "id": "7b0f3c1e-5d7a-4c2e-9f4b-2a1d3e5f6a7b",
		"proposer": "https://leaf.example", "created_at": "2026-11-29T20:00:00Z", "deadline": "2026-11-30T20:00:00Z",
		"round_timeout_s": 60, "nonce": "q2v8Zl3c",
		"parties": []any{
			map[string]any{"member": "alice@leaf", "server": "https://leaf.example", "key": pub(testKey(1))},
			map[string]any{"member": "bob@oak", "server": "https://oak.example", "key": pub(testKey(2))},
			map[string]any{"member": "carol@pine", "server": "https://pine.example", "key": pub(testKey(3))},
		},
		"legs": []any{
			map[string]any{"from": 0, "to": 1, "offer": "https://leaf.example/announcements/1", "title": "Bike repair", "money": nil},
			map[string]any{"from": 1, "to": 2, "offer": "https://oak.example/announcements/7", "title": "20 OAK", "money": map[string]any{"value": "20.00", "currency": "OAK"}},
			map[string]any{"from": 2, "to": 0, "offer": "https://pine.example/announcements/3", "title": "Jam", "money": nil},
		},
		"ttp": map[string]any{"url": "https://circle.example", "key": pub(testKey(9))},
	}
}

func encode(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustParse(t testing.TB, v any) *Parsed {
	t.Helper()
	p, err := Parse(encode(t, v))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

func TestParseValid(t *testing.T) {
	p := mustParse(t, sample())
	if p.N() != 3 || len(p.Legs) != 3 || p.Legs[1].Money.Value != "20.00" || p.Legs[0].Money != nil {
		t.Fatalf("got %+v", p.Contract)
	}
	// The hash is over the canonical form: key order and spacing do not matter.
	spaced := strings.Replace(string(encode(t, sample())), `"type":`, "\n  \"type\" :  ", 1)
	q, err := Parse([]byte(spaced))
	if err != nil {
		t.Fatal(err)
	}
	if q.Hash() != p.Hash() || !ValidHash(p.Hash()) {
		t.Fatalf("got hashes %s and %s, want equal lowercase hex", q.Hash(), p.Hash())
	}
	h, err := HashOf(encode(t, sample()))
	if err != nil || h != p.Hash() {
		t.Fatalf("HashOf = %s, %v; want %s", h, err, p.Hash())
	}
}

func TestParseRefuses(t *testing.T) {
	set := func(path string, v any) func(map[string]any) {
		return func(c map[string]any) {
			parts := strings.Split(path, ".")
			var cur any = c
			for _, k := range parts[:len(parts)-1] {
				switch x := cur.(type) {
				case map[string]any:
					cur = x[k]
				case []any:
					var i int
					fmt.Sscan(k, &i)
					cur = x[i]
				}
			}
			last := parts[len(parts)-1]
			if v == "DELETE" {
				delete(cur.(map[string]any), last)
				return
			}
			cur.(map[string]any)[last] = v
		}
	}
	tests := []struct {
		name   string
		change func(map[string]any)
	}{
		{"other type", set("type", "sxp-contract/2")},
		{"id not a uuid", set("id", "42")},
		{"proposer not a URL", set("proposer", "leaf")},
		{"created_at not a time", set("created_at", "yesterday")},
		{"deadline before created_at", set("deadline", "2026-11-28T20:00:00Z")},
		{"round timeout 0", set("round_timeout_s", 0)},
		{"round timeout fractional", set("round_timeout_s", 1.5)},
		{"round timeout a string", set("round_timeout_s", "60")},
		{"empty nonce", set("nonce", "")},
		{"one party", func(c map[string]any) { c["parties"] = c["parties"].([]any)[:1] }},
		{"member without community", set("parties.0.member", "alice")},
		{"member twice", set("parties.1.member", "alice@leaf")},
		{"key too short", set("parties.0.key", "AAAA")},
		{"key url-safe base64", set("parties.0.key", strings.NewReplacer("+", "-", "/", "_").Replace(pub(testKey(7))))},
		{"key without padding", set("parties.0.key", strings.TrimRight(pub(testKey(1)), "="))},
		{"key shared by two parties", set("parties.1.key", pub(testKey(1)))},
		{"leg to unknown party", set("legs.0.to", 3)},
		{"leg from negative party", set("legs.0.from", -1)},
		{"leg to itself", set("legs.0.to", 0)},
		{"leg without offer", set("legs.0.offer", "")},
		{"money with exponent", set("legs.1.money", map[string]any{"value": "2e1", "currency": "OAK"})},
		{"money a number", set("legs.1.money", map[string]any{"value": 20, "currency": "OAK"})},
		{"money zero", set("legs.1.money", map[string]any{"value": "0.00", "currency": "OAK"})},
		{"money negative", set("legs.1.money", map[string]any{"value": "-1", "currency": "OAK"})},
		{"money leading zero", set("legs.1.money", map[string]any{"value": "020", "currency": "OAK"})},
		{"money lowercase currency", set("legs.1.money", map[string]any{"value": "20", "currency": "oak"})},
		{"money missing currency", set("legs.1.money", map[string]any{"value": "20"})},
		{"no legs", set("legs", []any{})},
		{"ttp key bad", set("ttp.key", "not base64")},
		{"ttp url missing", set("ttp.url", "DELETE")},
		{"missing nonce", set("nonce", "DELETE")},
		{"missing money key", set("legs.0.money", "DELETE")},
		{"unknown field", set("extra", 1)},
		{"unknown party field", set("parties.0.name", "Alice")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := sample()
			tt.change(c)
			_, err := Parse(encode(t, c))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalid", err)
			}
		})
	}
	for _, raw := range []string{
		`{"type":"sxp-contract/1","type":"sxp-contract/1"}`,
		`[]`, `null`, `{`, `{"type":"sxp-contract/1"} {}`,
	} {
		if _, err := Parse([]byte(raw)); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%s) = %v, want ErrInvalid", raw, err)
		}
	}
}

func TestMessages(t *testing.T) {
	h := strings.Repeat("ab", 32)
	tests := []struct {
		got  []byte
		want any
	}{
		{PromiseMessage(h, 3), map[string]any{"t": "promise", "c": h, "r": 3}},
		{ResolveMessage(h, 0), map[string]any{"t": "resolve", "c": h, "l": 0}},
		{TokenMessage(Resolved, h), map[string]any{"t": "resolved", "c": h}},
		{TokenMessage(Aborted, h), map[string]any{"t": "aborted", "c": h}},
	}
	for _, tt := range tests {
		want, err := Canonical(encode(t, tt.want))
		if err != nil {
			t.Fatal(err)
		}
		if string(tt.got) != string(want) {
			t.Errorf("got %s, want JCS %s", tt.got, want)
		}
	}
}

func TestSignVerify(t *testing.T) {
	p := mustParse(t, sample())
	keys := []ed25519.PrivateKey{testKey(1), testKey(2), testKey(3)}
	for r := 1; r <= 4; r++ {
		for i, k := range keys {
			if err := p.VerifyPromise(i, r, p.Promise(k, r)); err != nil {
				t.Fatalf("m[%d,%d]: %v", r, i, err)
			}
		}
	}
	sig := p.Promise(keys[0], 2)
	if len(sig) != 88 || !strings.HasSuffix(sig, "==") {
		t.Fatalf("signature %q: want 88 characters of padded standard base64", sig)
	}
	refusals := []struct {
		name string
		err  error
	}{
		{"other round", p.VerifyPromise(0, 3, sig)},
		{"other party", p.VerifyPromise(1, 2, sig)},
		{"round 0", p.VerifyPromise(0, 0, Sign(keys[0], PromiseMessage(p.Hash(), 0)))},
		{"round n+2", p.VerifyPromise(0, 5, Sign(keys[0], PromiseMessage(p.Hash(), 5)))},
		{"no such party", p.VerifyPromise(3, 1, sig)},
		{"other contract", p.VerifyPromise(0, 2, Sign(keys[0], PromiseMessage(strings.Repeat("0", 64), 2)))},
		{"a resolve request is no promise", p.VerifyPromise(0, 2, Sign(keys[0], ResolveMessage(p.Hash(), 2)))},
		{"unpadded", p.VerifyPromise(0, 2, strings.TrimRight(sig, "="))},
		{"resolve by other key", p.VerifyResolve(0, 1, Sign(keys[1], ResolveMessage(p.Hash(), 1)))},
		{"resolve level n+2", p.VerifyResolve(0, 5, Sign(keys[0], ResolveMessage(p.Hash(), 5)))},
		{"token by a party", p.VerifyToken(Resolved, Sign(keys[0], TokenMessage(Resolved, p.Hash())))},
		{"aborted token as resolved", p.VerifyToken(Resolved, Sign(testKey(9), TokenMessage(Aborted, p.Hash())))},
		{"round with a missing promise", p.VerifyRound(4, []string{p.Promise(keys[0], 4), p.Promise(keys[1], 4)})},
		{"round with promises swapped", p.VerifyRound(4, []string{p.Promise(keys[1], 4), p.Promise(keys[0], 4), p.Promise(keys[2], 4)})},
	}
	for _, tt := range refusals {
		if !errors.Is(tt.err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", tt.name, tt.err)
		}
	}
	if err := p.VerifyResolve(2, 4, Sign(keys[2], ResolveMessage(p.Hash(), 4))); err != nil {
		t.Errorf("resolve: %v", err)
	}
	if err := p.VerifyToken(Resolved, Sign(testKey(9), TokenMessage(Resolved, p.Hash()))); err != nil {
		t.Errorf("token: %v", err)
	}
}

func TestVerifyBundle(t *testing.T) {
	p := mustParse(t, sample())
	keys := []ed25519.PrivateKey{testKey(1), testKey(2), testKey(3)}
	var last []string
	for _, k := range keys {
		last = append(last, p.Promise(k, 4))
	}
	bundle := func(v map[string]any) []byte {
		v["contract"] = json.RawMessage(p.Canonical())
		return encode(t, v)
	}
	tests := []struct {
		name    string
		data    []byte
		signed  bool
		badData bool
	}{
		{"M[n+1]", bundle(map[string]any{"promises": last}), true, false},
		{"resolved token", bundle(map[string]any{"token": Answer{Resolved, Sign(testKey(9), TokenMessage(Resolved, p.Hash()))}}), true, false},
		{"aborted token", bundle(map[string]any{"token": Answer{Aborted, Sign(testKey(9), TokenMessage(Aborted, p.Hash()))}}), false, false},
		{"M[n] only", bundle(map[string]any{"promises": []string{p.Promise(keys[0], 3), p.Promise(keys[1], 3), p.Promise(keys[2], 3)}}), false, false},
		{"token of another T", bundle(map[string]any{"token": Answer{Resolved, Sign(testKey(8), TokenMessage(Resolved, p.Hash()))}}), false, false},
		{"no proof", bundle(map[string]any{}), false, false},
		{"not JSON", []byte("{"), false, true},
		{"unknown field", bundle(map[string]any{"promises": last, "x": 1}), false, true},
		{"invalid contract", encode(t, map[string]any{"contract": map[string]any{"type": "x"}, "promises": last}), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := VerifyBundle(tt.data)
			if tt.badData {
				if !errors.Is(err, ErrBadInput) {
					t.Fatalf("got %v, want ErrBadInput", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Signed != tt.signed || v.Hash != p.Hash() {
				t.Fatalf("got signed=%v hash=%s problems=%v, want signed=%v", v.Signed, v.Hash, v.Problems, tt.signed)
			}
		})
	}
	file := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(file, tests[0].data, 0o600); err != nil {
		t.Fatal(err)
	}
	if v, err := Verify(file); err != nil || !v.Signed || v.By[0] != "promises" {
		t.Fatalf("Verify(file) = %+v, %v", v, err)
	}
}
