package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
)

func seededKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

// signedBundle is a two-party contract (T keyed 9) and what fill adds to its file.
func writeBundle(t *testing.T, fill func(p *contract.Parsed, b map[string]any)) string {
	t.Helper()
	key := func(b byte) string { return contract.EncodeKey(seededKey(b).Public().(ed25519.PublicKey)) }
	raw, _ := json.Marshal(map[string]any{
		"type": "sxp-contract/1", "id": "0b6e8c3a-1f2d-4e5a-9b7c-8d9e0f1a2b3c", "proposer": "https://leaf.example",
		"created_at": "2026-11-29T20:00:00Z", "deadline": "2026-11-30T20:00:00Z", "round_timeout_s": 60, "nonce": "n1",
		"parties": []any{
			map[string]any{"member": "alice@leaf", "server": "https://leaf.example", "key": key(1)},
			map[string]any{"member": "bob@oak", "server": "https://oak.example", "key": key(2)},
		},
		"legs": []any{
			map[string]any{"from": 0, "to": 1, "offer": "https://leaf.example/announcements/1", "title": "Bike repair", "money": nil},
			map[string]any{"from": 1, "to": 0, "offer": "https://oak.example/announcements/2", "title": "Coins", "money": map[string]any{"value": "12.50", "currency": "OAK"}},
		},
		"ttp": map[string]any{"url": "https://circle.example", "key": key(9)},
	})
	p, err := contract.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	b := map[string]any{"contract": json.RawMessage(raw)}
	fill(p, b)
	data, _ := json.Marshal(b)
	path := filepath.Join(t.TempDir(), "contract.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestContractVerify(t *testing.T) {
	promises := func(p *contract.Parsed, b map[string]any) {
		b["promises"] = []string{p.Promise(seededKey(1), 3), p.Promise(seededKey(2), 3)}
	}
	token := func(decision string, key byte) func(p *contract.Parsed, b map[string]any) {
		return func(p *contract.Parsed, b map[string]any) {
			b["token"] = map[string]string{"decision": decision, "token": contract.Sign(seededKey(key), contract.TokenMessage(decision, p.Hash()))}
		}
	}
	tests := []struct {
		name    string
		fill    func(p *contract.Parsed, b map[string]any)
		raw     string
		code    int
		wantOut string
		wantErr string
	}{
		{name: "signed by M[n+1]", fill: promises, code: 0, wantOut: "signed: yes, by M[3] (every party's promise of the last round)\n"},
		{name: "signed by T's token", fill: token("resolved", 9), code: 0, wantOut: "signed: yes, by the arbiter's resolved token\n"},
		{name: "aborted token", fill: token("aborted", 9), code: 1, wantOut: "signed: no\n", wantErr: "not signed"},
		{name: "token by another key", fill: token("resolved", 8), code: 1, wantOut: "signed: no\n", wantErr: "not signed"},
		{name: "promises of round n", fill: func(p *contract.Parsed, b map[string]any) {
			b["promises"] = []string{p.Promise(seededKey(1), 2), p.Promise(seededKey(2), 2)}
		}, code: 1, wantOut: "signed: no\n", wantErr: "not signed"},
		{name: "no proof", fill: func(*contract.Parsed, map[string]any) {}, code: 1, wantOut: "signed: no\n"},
		{name: "not JSON", raw: "{", code: 2, wantErr: "bad input"},
		{name: "invalid contract", raw: `{"contract": {"type": "sxp-contract/1"}}`, code: 2, wantErr: "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var path string
			if tt.raw != "" {
				path = filepath.Join(t.TempDir(), "c.json")
				os.WriteFile(path, []byte(tt.raw), 0o600)
			} else {
				path = writeBundle(t, tt.fill)
			}
			var out, errb bytes.Buffer
			code := run(context.Background(), []string{"contract", "verify", path}, &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d (stdout %q, stderr %q)", code, tt.code, out.String(), errb.String())
			}
			if !strings.HasSuffix(out.String(), tt.wantOut) || (tt.code == 2 && out.Len() != 0) {
				t.Fatalf("stdout %q, want it to end with %q", out.String(), tt.wantOut)
			}
			if !strings.Contains(errb.String(), tt.wantErr) {
				t.Fatalf("stderr %q, want %q", errb.String(), tt.wantErr)
			}
			if tt.code != 2 && !strings.HasPrefix(out.String(), "contract: ") {
				t.Fatalf("stdout %q, want the hash first", out.String())
			}
		})
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"contract", "verify", "--help"}, &out, &out); code != 0 || !strings.Contains(out.String(), "usage: sxp contract verify FILE|-") {
		t.Fatalf("--help: exit %d, %q", code, out.String())
	}
	if code := run(context.Background(), []string{"contract", "verify"}, &out, &out); code != 2 {
		t.Fatalf("no FILE: exit %d, want 2", code)
	}

}
