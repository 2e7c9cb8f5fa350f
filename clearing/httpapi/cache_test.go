package httpapi_test

import (
	"context"
	"testing"

	"github.com/sxp-network/sxp/clearing"
	"github.com/sxp-network/sxp/ledger"
)

// With the caller cache (issue 15), an admin's change through this
// clearing process holds for the very next request: a block refuses the
// next try (16, with the reason), an unblock lets the next one through, a
// new rate is the next try's rate, and a key retired without overlap no
// longer verifies while the new one does.
func TestCacheChangesHoldForTheNextRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if status, out := e.call("a", "PUT", "/transactions", e.tx("1", "warm", true)); status != 200 || code(out) != "0" {
		t.Fatalf("warm-up try: got %d %v, want 200 code 0", status, out)
	}
	if _, err := e.house.Block(ctx, "test", "a", "unpaid fees"); err != nil {
		t.Fatal(err)
	}
	status, out := e.call("a", "PUT", "/transactions", e.tx("1", "blocked", true))
	if status != 403 || code(out) != "16" || str(args(out), "reason") != "unpaid fees" {
		t.Fatalf("right after the block: got %d %v, want 403 code 16 reason 'unpaid fees'", status, out)
	}
	if _, err := e.house.Unblock(ctx, "test", "a"); err != nil {
		t.Fatal(err)
	}
	if status, out := e.call("a", "PUT", "/transactions", e.tx("1", "unblocked", true)); status != 200 || code(out) != "0" {
		t.Fatalf("right after the unblock: got %d %v, want 200 code 0", status, out)
	}
	if _, err := e.house.SetRate(ctx, "test", "b", "4"); err != nil {
		t.Fatal(err)
	}
	if status, out := e.call("a", "PUT", "/transactions", e.tx("1", "rate", true)); status != 200 || str(out, "payee_ticks") != "4" {
		t.Fatalf("right after the rate change: got %d payee_ticks %q, want 200 and 4 (%v)", status, str(out, "payee_ticks"), out)
	}
	oldKey := e.coms["a"].Key()
	newKey, err := e.house.RotateKey(ctx, "test", "a", 0)
	if err != nil {
		t.Fatal(err)
	}
	if status, out := e.call("a", "PUT", "/transactions", e.tx("1", "old-key", true), oldKey); status != 401 || code(out) != "17" {
		t.Fatalf("the retired key right after the rotation: got %d %v, want 401 code 17", status, out)
	}
	if status, out := e.call("a", "PUT", "/transactions", e.tx("1", "new-key", true), newKey); status != 200 || code(out) != "0" {
		t.Fatalf("the new key right after the rotation: got %d %v, want 200 code 0", status, out)
	}
	e.wantBalances(map[string]int64{"a": -400, "b": 400})
}

// A block written by another process on the same database (`sxp admin
// community block` opens its own House) holds for the server's very next
// request too: the request reads the cache's version first, which the
// block's transaction moved on.
func TestCacheSeesABlockFromAnotherProcess(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if status, out := e.call("a", "PUT", "/transactions", e.tx("1", "warm", true)); status != 200 || code(out) != "0" {
		t.Fatalf("warm-up try: got %d %v, want 200 code 0", status, out)
	}
	cli, err := clearing.New(e.pool, ledger.New(e.pool, ledger.Options{}), clearing.Options{Secret: "test secret"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Block(ctx, "cli:test", "a", "by the CLI"); err != nil {
		t.Fatal(err)
	}
	status, out := e.call("a", "PUT", "/transactions", e.tx("1", "after-block", true))
	if status != 403 || code(out) != "16" || str(args(out), "reason") != "by the CLI" {
		t.Fatalf("the next try after the CLI's block: got %d %v, want 403 code 16 reason 'by the CLI'", status, out)
	}
	if _, err := cli.Unblock(ctx, "cli:test", "a"); err != nil {
		t.Fatal(err)
	}
	newKey, err := cli.RotateKey(ctx, "cli:test", "a", 0)
	if err != nil {
		t.Fatal(err)
	}
	if status, out := e.call("a", "PUT", "/transactions", e.tx("1", "new-key", true), newKey); status != 200 || code(out) != "0" {
		t.Fatalf("the CLI's new key on the next try: got %d %v, want 200 code 0", status, out)
	}
	if status, out := e.call("a", "PUT", "/transactions", e.tx("1", "old-key", true)); status != 401 || code(out) != "17" {
		t.Fatalf("the key the CLI retired: got %d %v, want 401 code 17", status, out)
	}
	e.wantBalances(map[string]int64{"a": -200, "b": 200})
}
