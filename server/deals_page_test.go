package server_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sxp-network/sxp/server/members"
)

// TestDealsPageProgress: while a round runs (here one another process
// recorded, holding the round lock), the admin's deals page says so with
// its phase and counts and refreshes itself; "Run a round" then answers
// that one is running, and starts none. Rounds that ended are listed with
// what they found, "found nothing" included.
func TestDealsPageProgress(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	e.member("root", members.RoleAdmin)
	root := e.browser("root")
	bg, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); e.srv.Deals.Run(bg) }() // as Serve runs it
	t.Cleanup(func() { stop(); <-done })
	started := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	if _, err := e.pool.Exec(ctx, `INSERT INTO deal_rounds (started_by, started_at, finished_at, phase, max_loop, max_communities, wantlists)
		VALUES ('schedule', $1, $2, 'done', 6, 0, 12)`, started, started.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `INSERT INTO deal_rounds (started_by, started_at, phase, max_loop, max_communities, wantlists, loops, proposed, trades)
		VALUES ('command', $1, 'propose', 6, 0, 2000, 230, 100, 521)`, started.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	conn, err := e.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(379300211221) -- deals' round lock, 0x5850_0d_ea15`); err != nil {
		t.Fatal(err)
	}
	st, html := root.get("/admin/deals")
	for _, want := range []string{`<meta http-equiv="refresh" content="3;url=/admin/deals">`,
		`<strong>Round 2 is running</strong> (started 2026-11-29 11:00 UTC by command): proposing: 100 of 230 loops stored`,
		`<td>found nothing in 12 want lists</td>`, `<td class="wide">schedule</td>`} {
		if st != 200 || !strings.Contains(html, want) {
			t.Errorf("deals page: got %d, want it to contain %q:\n%s", st, want, html)
		}
	}
	st, html = root.post("/admin/deals/round", url.Values{"max_loop": {"6"}})
	if !strings.Contains(html, "a round is already running") || e.count("deal_rounds") != 2 {
		t.Errorf("run a round while one runs: got %d, %d rounds:\n%s", st, e.count("deal_rounds"), html)
	}
}
