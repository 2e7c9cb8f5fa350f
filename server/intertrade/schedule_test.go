package intertrade

import (
	"context"
	"testing"
	"time"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/cxptest"
	"github.com/sxp-network/sxp/ledger/jobs"
)

// TestRunReconcilesOnSchedule runs the background jobs: every interval it
// handshakes (sending the statement data), reports our balance with a
// prepare and records an integrity check, which shows the circle's
// mismatching balance as a problem. The runner returns when its context ends.
func TestRunReconcilesOnSchedule(t *testing.T) {
	t.Parallel()
	circle := newFakeCircle(t)
	e := newEnv(t, circle.URL, func(c *Config) { c.Interval = 10 * time.Millisecond })
	// From now on the circle says our virtual customer is at 7.00, while
	// our import/export account has never moved.
	var startHandshakes int
	circle.Set(func(c *cxptest.Circle) { startHandshakes, c.Balance = len(c.Handshakes), 700 })

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		jobs.New(nil, jobs.Options{Seed: 1}, e.svc.Jobs()...).Run(ctx)
	}()
	// Wait for two scheduled rounds (a wait for work, not a timing assertion).
	var handshakes, prepares, checks int
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		circle.Set(func(c *cxptest.Circle) { handshakes, prepares = len(c.Handshakes)-startHandshakes, len(c.Prepares) })
		if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM intertrade_integrity_checks`).Scan(&checks); err != nil {
			t.Fatal(err)
		}
		if handshakes >= 2 && prepares >= 2 && checks >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: got %d scheduled handshakes, %d prepares, %d integrity checks; want at least 2 each", handshakes, prepares, checks)
		}
	}
	cancel()
	<-done // Run exits on ctx

	var last cxp.HandshakeRequest
	circle.Set(func(c *cxptest.Circle) { last = c.Handshakes[len(c.Handshakes)-1] })
	if last.URI != testPublic || last.Traders != 2 || last.Ticks != "1" || last.Mail != "admin@leaf.example" {
		t.Fatalf("scheduled handshake's statement: got %+v", last)
	}
	rep, ok, err := e.svc.LastIntegrity(context.Background())
	if err != nil || !ok {
		t.Fatalf("last integrity check: got ok %v, err %v", ok, err)
	}
	wantProblem := "our intertrades sum to 0.00 base units, but the circle's virtual customer balance is 7.00 (it should be 0.00)"
	if rep.OK || rep.CircleBalance != "7.00" || rep.BaseSum != "0.00" || len(rep.Problems) != 1 || rep.Problems[0] != wantProblem {
		t.Fatalf("last integrity check: got ok %v, circle %q, base %q, problems %q; want a mismatch %q",
			rep.OK, rep.CircleBalance, rep.BaseSum, rep.Problems, wantProblem)
	}
}
