package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/sxp-network/sxp/cmd/sxp/sxptest"
)

// TestContractKeyInBrowser: a member registered on a real community server
// (with SXP_FEDERATION_SECRET) has a contract key, sealed in the database;
// the profile page shows its fingerprint; a bad key is refused in words;
// registering one's own key shows it as one's own, and the API agrees.
func TestContractKeyInBrowser(t *testing.T) {
	bin := sxptest.BuildSXP(t)
	s := startCommunities(t, bin, []fedCommunity{{"leaf", "Leaf Valley", "LEAF"}}, func(*fedServer) []string {
		return []string{"--registration", "open", "--federation-secret", "a long sealing secret",
			"--arbiter-url", "http://127.0.0.1:9", "--arbiter-key", "P0g2SeRwo9JsQga1SUHhiP7HkBd/cxf+VLWmOp23i90="}
	})[0]
	pool := s.pool

	token := register(t, s.base, "alice")
	st, key := apiJSON(t, s.base, "GET", "/api/v1/me/contract-key", token, nil)
	if st != 200 || key["own"] != false || len(fmt.Sprint(key["key"])) != 44 {
		t.Fatalf("GET contract-key: got %d %v, want 200, a server-held key", st, key)
	}
	var sealed bool
	var priv []byte
	if err := pool.QueryRow(context.Background(), `SELECT k.sealed, k.private_key FROM member_deal_keys k JOIN members m ON m.id = k.member_id
		WHERE m.username = 'alice'`).Scan(&sealed, &priv); err != nil || !sealed || len(priv) != 12+64+16 {
		t.Fatalf("alice's key row: sealed=%v, %d-byte private key, %v; want sealed (92 bytes)", sealed, len(priv), err)
	}
	st, out := apiJSON(t, s.base, "PUT", "/api/v1/me/contract-key", token, map[string]string{"key": "AAAA"})
	if e, _ := out["error"].(map[string]any); st != 400 || e["field"] != "key" {
		t.Errorf("PUT a short key: got %d %v, want 400 naming key", st, out)
	}

	b := newTab(t, "contract-key")
	dir := b.out
	shot, text, submit := b.shot, b.textOf, b.fill
	b.logIn(s.base, "alice", fedPassword)
	b.open(s.base+"/profile", "#contract-key")
	section := text("#contract-key")
	if !strings.Contains(section, fmt.Sprint(key["fingerprint"])) || !strings.Contains(section, "This server holds the key for you") {
		t.Errorf("profile's contract key: got %q, want fingerprint %s, held by the server", section, key["fingerprint"])
	}
	shot("profile-server-key")

	// A bad key: refused in words, nothing changed.
	submit(map[string]string{"#key": "not a key"}, `form[action="/profile/contract-key"] button`, ".error")
	if e := text(".error"); !strings.Contains(e, "standard base64") {
		t.Errorf("a bad key: got %q, want it named in words", e)
	}
	shot("profile-bad-key")

	seed := sha256.Sum256([]byte("alice's own key"))
	own := ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
	ownB64 := base64.StdEncoding.EncodeToString(own)
	submit(map[string]string{"#key": ownB64}, `form[action="/profile/contract-key"] button`, ".notice")
	section = text("#contract-key")
	st, after := apiJSON(t, s.base, "GET", "/api/v1/me/contract-key", token, nil)
	if st != 200 || after["own"] != true || after["key"] != ownB64 || after["fingerprint"] == key["fingerprint"] {
		t.Fatalf("GET after registering: got %d %v, want her own key", st, after)
	}
	if !strings.Contains(section, fmt.Sprint(after["fingerprint"])) || !strings.Contains(section, "your own key") {
		t.Errorf("profile after registering: got %q, want her key's fingerprint %s, her own", section, after["fingerprint"])
	}
	shot("profile-own-key")
	if err := pool.QueryRow(context.Background(), `SELECT k.private_key FROM member_deal_keys k JOIN members m ON m.id = k.member_id
		WHERE m.username = 'alice'`).Scan(&priv); err != nil || priv != nil {
		t.Errorf("after registering her own key: got a %d-byte private key (%v), want none held", len(priv), err)
	}
	t.Logf("screenshots in %s", dir)
}
