package chaostest

import (
	"context"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sxp-network/sxp/cmd/sxp/sxptest"
)

// deploy/chaos sets these; without them, TestChaos is the short in-suite run.
var (
	flagSeed     = flag.Int64("chaos.seed", 1, "seed of the fault schedule and the workload")
	flagDuration = flag.Duration("chaos.duration", 40*time.Second, "how long the workload runs under faults")
	flagPayments = flag.Int("chaos.payments", 0, "at most this many payments (0: no cap)")
	flagClients  = flag.Int("chaos.clients", 6, "concurrent paying clients")
	flagClusters = flag.String("chaos.clusters", "single", "single (one PostgreSQL cluster), multi (one per server) or both")
	flagDir      = flag.String("chaos.dir", "", "keep clusters and server logs here (default: a temporary directory)")
	flagRecovery = flag.Duration("chaos.recovery", 90*time.Second, "how long the servers get to settle after healing")
)

// TestChaos runs the chaos bank test: a clearing house and three
// communities as real sxp processes, payments under a seeded fault
// schedule, then the checker. Any violation fails the test.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("the chaos run takes about a minute and a half; skipped with -short")
	}
	if PGBinDir() == "" {
		t.Fatal("PostgreSQL is not installed: run the test through deploy/test (or deploy/chaos), which installs it")
	}
	bin := sxptest.BuildSXP(t)
	modes := []string{*flagClusters}
	if *flagClusters == "both" {
		modes = []string{"single", "multi"}
	}
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			dir := *flagDir
			if dir == "" {
				dir = t.TempDir()
			} else {
				dir = strings.TrimRight(dir, "/") + "/" + mode
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			res, err := Run(context.Background(), Config{Bin: bin, Dir: dir, Seed: *flagSeed, Duration: *flagDuration,
				Payments: *flagPayments, Clients: *flagClients, Clusters: mode, Recovery: *flagRecovery, Out: testWriter{t}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Report.Ops == 0 || res.Report.Completed == 0 {
				t.Fatalf("the workload made %d payments, %d completed: the harness did not exercise the circle", res.Report.Ops, res.Report.Completed)
			}
			if !res.Report.OK() {
				t.Errorf("seed %d, %s: %d violations (replay: deploy/chaos --seed %d)", *flagSeed, mode, len(res.Report.Violations), *flagSeed)
			}
		})
	}
}

// testWriter sends the run's output to the test log, line by line.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
