package clearing_test

// End to end: the real sxp binary, a real `sxp clearing` process on a
// loopback port, configured with the admin commands exactly as an operator
// would, and two in-test community servers whose relay endpoints verify the
// circle's signature.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/cxptest"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
	"github.com/sxp-network/sxp/cmd/sxp/sxptest"
	"github.com/sxp-network/sxp/migrations/pgtest"
)

const e2eCircle = "e2e-circle"

func TestEndToEnd(t *testing.T) {
	bin := sxptest.BuildSXP(t)
	db := pgtest.NewEmptyDatabase(t)
	env := append(os.Environ(), "DATABASE_URL="+db, "SXP_CLEARING_SECRET=e2e secret", "SXP_ADMIN_TOKEN=e2e-admin")

	if out := sxptest.Run(t, bin, env, "migrate", "up"); !strings.Contains(out, "schema at version") {
		t.Fatalf("migrate up: got %q", out)
	}
	if out := sxptest.Run(t, bin, env, "admin", "circle", "init", e2eCircle, "--unit", "HOUR", "--divisions", "2"); !strings.Contains(out, "created") {
		t.Fatalf("circle init: got %q", out)
	}
	if out := sxptest.Run(t, bin, env, "admin", "circle", "init", e2eCircle, "--unit", "HOUR"); !strings.Contains(out, "exists already") {
		t.Fatalf("circle init again: got %q, want it to be idempotent", out)
	}

	leaf, acorn := cxptest.NewCommunity(t, e2eCircle), cxptest.NewCommunity(t, e2eCircle)
	leaf.SetKey(sxptest.KeyLine(t, sxptest.Run(t, bin, env, "admin", "community", "add", "leaf", "--name", "Leaf", "--uri", leaf.URL,
		"--rate", "1", "--min", "-100", "--max", "100")))
	acorn.SetKey(sxptest.KeyLine(t, sxptest.Run(t, bin, env, "admin", "community", "add", "acorn", "--name", "Acorn", "--uri", acorn.URL,
		"--rate", "2", "--min", "-50.00", "--max", "50.00")))

	port := sxptest.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	proc := sxptest.Start(t, bin, []string{"clearing", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--maintenance-interval", "1s"}, env)
	proc.WaitReady(base+"/readyz", 30*time.Second)

	ctx := context.Background()
	leafC := &cxp.Client{BaseURL: base, Signer: httpsig.Signer{KeyID: "leaf", Key: []byte(leaf.Key())}}
	acornC := &cxp.Client{BaseURL: base, Signer: httpsig.Signer{KeyID: "acorn", Key: []byte(acorn.Key())}}
	try := func(c *cxp.Client, src, dest *cxptest.Community, qty, tempID string) (cxp.TransactionResponse, error) {
		return c.Try(ctx, cxp.TransactionRequest{Payer: "alice", Payee: "bob", SrcURL: src.URL, DestURL: dest.URL,
			Quantity: cxp.Decimal(qty), Description: "e2e", Really: true, TempID: tempID})
	}
	balances := func() (string, string) {
		return adminBalance(t, base, "leaf"), adminBalance(t, base, "acorn")
	}
	want := func(step, wantLeaf, wantAcorn string) {
		t.Helper()
		l, a := balances()
		if l != wantLeaf || a != wantAcorn {
			t.Fatalf("%s: got balances leaf %s acorn %s, want %s and %s", step, l, a, wantLeaf, wantAcorn)
		}
	}

	// Payments in both directions, with the rates used.
	resp, err := try(leafC, leaf, acorn, "10.00", "e2e-1")
	if err != nil || resp.PayerTicks != "1" || resp.PayeeTicks != "2" || resp.Quantity != "10.00" || resp.ID == "" {
		t.Fatalf("leaf pays acorn: got %+v, %v", resp, err)
	}
	want("after leaf pays 10", "-10.00", "10.00")
	if resp, err := try(acornC, acorn, leaf, "4.5", "e2e-2"); err != nil || resp.PayerTicks != "2" || resp.PayeeTicks != "1" {
		t.Fatalf("acorn pays leaf: got %+v, %v", resp, err)
	}
	want("after acorn pays 4.50", "-5.50", "5.50")
	if leaf.Count() != 1 || acorn.Count() != 1 {
		t.Fatalf("relays: got leaf %d acorn %d, want 1 and 1", leaf.Count(), acorn.Count())
	}

	// A replayed temp_id: the same answer, one write, one relay.
	again, err := try(leafC, leaf, acorn, "10.00", "e2e-1")
	a, _ := json.Marshal(again)
	r, _ := json.Marshal(resp)
	if err != nil || !bytes.Equal(a, r) {
		t.Fatalf("replay: got %s, %v; want the first answer %s", a, err, r)
	}
	want("after the replay", "-5.50", "5.50")
	if acorn.Count() != 1 {
		t.Fatalf("relays to acorn after the replay: got %d, want 1", acorn.Count())
	}

	// Over acorn's upper limit (5.50 + 45 > 50): code 4, nothing relayed.
	_, err = try(leafC, leaf, acorn, "45", "e2e-limit")
	if cxp.CodeOf(err) != cxp.CodeLimits {
		t.Fatalf("over the limit: got %v, want code 4", err)
	}
	want("after the limits refusal", "-5.50", "5.50")

	// The payee refuses (24): the hold is voided, no trace in the balances.
	acorn.Refuse(cxp.NewError(cxp.CodeRemoteLimits, nil))
	if _, err = try(leafC, leaf, acorn, "1", "e2e-24"); cxp.CodeOf(err) != cxp.CodeRemoteLimits {
		t.Fatalf("payee refuses: got %v, want code 24", err)
	}
	want("after the payee's refusal", "-5.50", "5.50")
	acorn.Refuse(nil)

	// Blocked, then unblocked.
	sxptest.Run(t, bin, env, "admin", "community", "block", "acorn", "--reason", "e2e test")
	if _, err = try(leafC, leaf, acorn, "1", "e2e-blocked"); cxp.CodeOf(err) != cxp.CodeNotPermitted {
		t.Fatalf("payee blocked: got %v, want code 16", err)
	}
	sxptest.Run(t, bin, env, "admin", "community", "unblock", "acorn")

	// sxp cxp from a shell.
	cli := []string{"--url", base, "--id", "leaf", "--key", leaf.Key()}
	out := sxptest.Run(t, bin, nil, append([]string{"cxp", "handshake", "--uri", leaf.URL, "--mail", "admin@leaf.example", "--ticks", "1", "--traders", "12"}, cli...)...)
	if !strings.Contains(out, `"keymatch": true`) || !strings.Contains(out, `"balance": -5.50`) || !strings.Contains(out, `"status": 1`) {
		t.Fatalf("sxp cxp handshake: got %s", out)
	}
	out = sxptest.Run(t, bin, nil, append([]string{"cxp", "prepare", "--balance", "5.50", "--integrity", "true"}, cli...)...)
	if !strings.Contains(out, `"spend_limit": 94.50`) || !strings.Contains(out, `"earn_limit": 105.50`) {
		t.Fatalf("sxp cxp prepare: got %s", out)
	}
	out = sxptest.Run(t, bin, nil, append([]string{"cxp", "clients"}, cli...)...)
	if !strings.Contains(out, acorn.URL) || !strings.Contains(out, `"ticks": 2`) {
		t.Fatalf("sxp cxp clients: got %s", out)
	}

	out = sxptest.Run(t, bin, nil, append([]string{"cxp", "try", "--src", leaf.URL, "--dest", acorn.URL, "--payer", "alice",
		"--payee", "bob", "--quantity", "0.50", "--description", "from a shell", "--really", "--temp-id", "shell-1"}, cli...)...)
	if !strings.Contains(out, `"code": 0`) || !strings.Contains(out, `"quantity": 0.50`) || !strings.Contains(out, `"payee_ticks": 2`) {
		t.Fatalf("sxp cxp try: got %s", out)
	}
	want("after the payment from a shell", "-6.00", "6.00")

	// The payee's server is gone (26): voided, no trace.
	acorn.Close()
	if _, err = try(leafC, leaf, acorn, "1", "e2e-26"); cxp.CodeOf(err) != cxp.CodeServerNotFound {
		t.Fatalf("payee unreachable: got %v, want code 26", err)
	}
	want("after the unreachable payee", "-6.00", "6.00")

	// The record: exported and verified against the database.
	file := filepath.Join(t.TempDir(), "records.jsonl")
	if out := sxptest.Run(t, bin, env, "admin", "records", "export", file); !strings.Contains(out, "exported 3 records") {
		t.Fatalf("records export: got %q", out)
	}
	if out := sxptest.Run(t, bin, env, "admin", "records", "verify", file); !strings.Contains(out, "chain ok: 3 records") || !strings.Contains(out, "database ok") {
		t.Fatalf("records verify: got %q", out)
	}
	if out := sxptest.Run(t, bin, env, "admin", "community", "list"); !strings.Contains(out, "-6.00") || !strings.Contains(out, "acorn") {
		t.Fatalf("community list: got %q", out)
	}

	// The other governing-body commands.
	tok := strings.TrimPrefix(strings.TrimSpace(sxptest.Run(t, bin, env, "admin", "token", "add", "ops")), "token: ")
	req, _ := http.NewRequest("GET", base+"/admin/api/circle", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("admin API with a token from 'sxp admin token add': got %v, %v", resp, err)
	}
	if out := sxptest.Run(t, bin, env, "admin", "rate", "set", "acorn", "2.5"); !strings.Contains(out, "community acorn rate 2.5") {
		t.Fatalf("rate set: got %q", out)
	}
	out = sxptest.Run(t, bin, env, "admin", "report", "summary", "--format", "csv", "--part", "matrix")
	if want := "payer,payee,count,quantity\nacorn,leaf,1,4.50\nleaf,acorn,2,10.50\n"; out != want {
		t.Fatalf("summary CSV: got %q, want %q", out, want)
	}
	if out := sxptest.Run(t, bin, env, "admin", "circle", "policy", "--ratio-percent", "50"); !strings.Contains(out, `"ratio_percent": "50"`) {
		t.Fatalf("circle policy: got %q", out)
	}
	newKey := sxptest.KeyLine(t, sxptest.Run(t, bin, env, "admin", "key", "rotate", "leaf", "--overlap", "1h"))
	out = sxptest.Run(t, bin, nil, append([]string{"cxp", "handshake", "--uri", leaf.URL, "--mail", "admin@leaf.example", "--ticks", "1"}, cli...)...)
	if !strings.Contains(out, `"keymatch": false`) {
		t.Fatalf("handshake with the old key during the overlap: got %s", out)
	}
	out = sxptest.Run(t, bin, nil, "cxp", "handshake", "--url", base, "--id", "leaf", "--key", newKey, "--uri", leaf.URL, "--mail", "admin@leaf.example", "--ticks", "1")
	if !strings.Contains(out, `"keymatch": true`) {
		t.Fatalf("handshake with the new key: got %s", out)
	}
	if out := sxptest.Run(t, bin, env, "admin", "audit", "--limit", "3"); !strings.Contains(out, "community.key_rotate leaf") || !strings.Contains(out, "circle.policy") {
		t.Fatalf("audit: got %q", out)
	}

	// Graceful shutdown on SIGTERM.
	proc.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-proc.Done():
		if err := proc.Err(); err != nil {
			t.Fatalf("sxp clearing after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("sxp clearing did not stop within 20 s of SIGTERM")
	}
}

// adminBalance reads a community's balance from the admin API.
func adminBalance(t *testing.T, base, id string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/admin/api/communities/"+id, nil)
	req.Header.Set("Authorization", "Bearer e2e-admin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Balance        string `json:"balance"`
		PendingDebits  string `json:"pending_debits"`
		PendingCredits string `json:"pending_credits"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("admin API %s: %d %v", id, resp.StatusCode, err)
	}
	if out.PendingDebits != "0.00" || out.PendingCredits != "0.00" {
		t.Fatalf("community %s: held %s/%s, want nothing held", id, out.PendingDebits, out.PendingCredits)
	}
	return out.Balance
}
