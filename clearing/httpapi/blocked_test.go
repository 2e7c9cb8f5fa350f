package httpapi_test

import (
	"context"
	"testing"
)

// A blocked community is refused with code 16 and told why, but only once
// its signature verified: a stranger naming a blocked community's key id
// gets 17 or 18 like for any other community, learns no block reason, and
// adds nothing to the blocked-traffic monitor.
func TestBlockedCommunityIsRefusedAfterItsSignature(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.house.Block(ctx, "test", "a", "unpaid fees"); err != nil {
		t.Fatal(err)
	}
	blockedEvents := func() int {
		t.Helper()
		var n int
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM clearing_events WHERE kind = 'blocked' AND community_id = 'a'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	hs := map[string]any{"api": 1, "mail": "x@a", "ticks": 1, "uri": e.coms["a"].URL}
	tests := []struct {
		name   string
		send   func() (int, map[string]any)
		status int
		code   string
		reason string // args.reason
		events int    // blocked events afterwards
	}{
		{"wrong key", func() (int, map[string]any) {
			return e.call("a", "PUT", "/transactions", e.tx("1", "w", true), "not a's key")
		}, 401, "17", "", 0},
		{"wrong key, handshake", func() (int, map[string]any) { return e.call("a", "POST", "/server", hs, "not a's key") }, 401, "17", "", 0},
		{"signed try", func() (int, map[string]any) { return e.call("a", "PUT", "/transactions", e.tx("1", "s", true)) }, 403, "16", "unpaid fees", 1},
		{"signed handshake", func() (int, map[string]any) { return e.call("a", "POST", "/server", hs) }, 403, "16", "unpaid fees", 2},
		{"signed prepare", func() (int, map[string]any) { return e.call("a", "GET", "/transactions?balance=0", nil) }, 403, "16", "unpaid fees", 3},
		{"signed clients", func() (int, map[string]any) { return e.call("a", "GET", "/server/clients", nil) }, 403, "16", "unpaid fees", 4},
	}
	for _, tt := range tests {
		status, out := tt.send()
		if status != tt.status || code(out) != tt.code {
			t.Errorf("%s: got %d %v, want %d code %s", tt.name, status, out, tt.status, tt.code)
		}
		if got := str(args(out), "reason"); got != tt.reason {
			t.Errorf("%s: got args.reason %q, want %q", tt.name, got, tt.reason)
		}
		if got := blockedEvents(); got != tt.events {
			t.Errorf("%s: got %d blocked events, want %d", tt.name, got, tt.events)
		}
	}
	e.wantBalances(map[string]int64{"a": 0, "b": 0})
	if n := len(e.coms["b"].Relays()); n != 0 {
		t.Errorf("relays: got %d, want 0", n)
	}
	// Unblocked, the same key trades again.
	if _, err := e.house.Unblock(ctx, "test", "a"); err != nil {
		t.Fatal(err)
	}
	if status, out := e.call("a", "PUT", "/transactions", e.tx("1", "after", true)); status != 200 || code(out) != "0" {
		t.Fatalf("after unblock: got %d %v, want 200 code 0", status, out)
	}
	e.wantBalances(map[string]int64{"a": -100, "b": 100})
}

// Blocking or unblocking a community that is already so changes nothing and
// writes no audit entry; a new reason is a change.
func TestBlockTwiceAuditsOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	steps := []struct {
		name   string
		do     func() error
		status string
		reason string
		audits int // audit entries about a after the step
	}{
		{"block", func() error { _, err := e.house.Block(ctx, "test", "a", "late"); return err }, "blocked", "late", 1},
		{"block again", func() error { _, err := e.house.Block(ctx, "test", "a", "late"); return err }, "blocked", "late", 1},
		{"new reason", func() error { _, err := e.house.Block(ctx, "test", "a", "fraud"); return err }, "blocked", "fraud", 2},
		{"unblock", func() error { _, err := e.house.Unblock(ctx, "test", "a"); return err }, "trading", "", 3},
		{"unblock again", func() error { _, err := e.house.Unblock(ctx, "test", "a"); return err }, "trading", "", 3},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		c, err := e.house.Community(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM clearing_audit WHERE subject = 'a' AND action LIKE 'community.%block'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if c.Status != s.status || c.BlockReason != s.reason || n != s.audits {
			t.Errorf("%s: got %s %q with %d audit entries, want %s %q with %d", s.name, c.Status, c.BlockReason, n, s.status, s.reason, s.audits)
		}
	}
}
