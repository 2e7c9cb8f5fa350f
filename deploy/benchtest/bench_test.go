package benchtest

import (
	"bytes"
	"context"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sxp-network/sxp/cmd/sxp/sxptest"
	"github.com/sxp-network/sxp/deploy/chaostest"
)

// deploy/bench sets these (-bench.full); without them, TestBench is the
// short in-suite run: a few seconds per workload, a small pgbench table,
// checking that every line parses and every invariant holds. It never
// asserts a rate or a latency.
var (
	flagFull      = flag.Bool("bench.full", false, "the real benchmark: lines to stdout, progress to stderr")
	flagDuration  = flag.Duration("bench.duration", 2*time.Second, "per workload")
	flagClients   = flag.Int("bench.clients", 4, "concurrent clients of every workload")
	flagWorkloads = flag.String("bench.workloads", "", "comma list of "+strings.Join(Workloads, ",")+" (default: all)")
	flagAccounts  = flag.Int("bench.accounts", 10_000, "pgbench accounts (deploy/bench: 1000000)")
	flagProfile   = flag.Bool("bench.profile", false, "CPU profiles of every server during A1")
	flagDir       = flag.String("bench.dir", "", "keep the cluster, logs and profiles here (default: a temporary directory)")
)

func TestBench(t *testing.T) {
	if testing.Short() {
		t.Skip("the benchmark's short run takes about half a minute; skipped with -short")
	}
	if chaostest.PGBinDir() == "" {
		t.Fatal("PostgreSQL is not installed: run the test through deploy/test (or deploy/bench), which installs it")
	}
	dir := *flagDir
	if dir == "" {
		dir = t.TempDir()
	}
	var workloads []string
	if *flagWorkloads != "" {
		workloads = strings.Split(*flagWorkloads, ",")
	}
	var out bytes.Buffer
	cfg := Config{Bin: sxptest.BuildSXP(t), Dir: dir, Duration: *flagDuration, Clients: *flagClients, Workloads: workloads,
		Accounts: *flagAccounts, Profile: *flagProfile, Seed: 1, Out: &out, Progress: testWriter{t}}
	if *flagFull {
		cfg.Out, cfg.Progress = os.Stdout, os.Stderr
	} else {
		cfg.LedgerAccounts, cfg.Members = 1000, 0
	}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !*flagFull {
		t.Log("\n" + out.String())
		lines := 0
		for _, l := range strings.Split(out.String(), "\n") {
			if LineRE.MatchString(l) {
				lines++
			}
		}
		want := len(Workloads)
		if workloads != nil {
			want = len(workloads)
		}
		if lines != want {
			t.Errorf("%d lines in the contract's format, want %d", lines, want)
		}
		for _, l := range res.Lines {
			if l.TPS <= 0 {
				t.Errorf("%s completed nothing: %s", l.Name, l)
			}
		}
		if got := strings.Count(out.String(), "\nMEM "); got != 3 && (workloads == nil) {
			t.Errorf("%d memory lines, want 3 (clearing, leaf, acorn)", got)
		}
	}
	if res.Violations > 0 {
		t.Errorf("%d invariant violations", res.Violations)
	}
}

// testWriter sends progress to the test log, line by line.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
