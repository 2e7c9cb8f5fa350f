// Package benchtest is deploy/bench: design.md's benchmark contract. On one
// fresh local PostgreSQL cluster (fsync and synchronous_commit on) it runs,
// in one run and at one client count, pgbench with the reference transfer
// script (B1 uniform, B2 one hot account), the same transfers through the
// ledger package (L1, L2), local payments through the community API of a
// real `sxp community` process (P1, P2), and cross-community payments
// through the whole signed path, a real clearing house and two real
// communities (A1 many payers to many payees, A2 one payer to one payee).
// Each prints one line
//
//	NAME tps=<n> p50_ms=<n> p99_ms=<n> ref=<B1|B2> ratio=<tps/ref tps>
//
// then one line per server process with its peak resident memory (VmHWM),
// then the invariant checks: the pgbench tables and the ledger database sum
// to zero within their limits, and deploy/chaostest's checker over the
// circle (sums zero, limits held, import/export equals minus the virtual
// customer, every acknowledged payment present once on every side).
//
// Dependency rule: a harness at the top of the tree. The servers are
// reached as outsiders reach them (server/client, the built binary, SQL);
// only L1/L2 call the ledger package directly, as the contract asks.
package benchtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sxp-network/sxp/deploy/chaostest"
	"github.com/sxp-network/sxp/server/client"
)

// Workloads is every workload in the order they run.
var Workloads = []string{"B1", "B2", "L1", "L2", "P1", "P2", "A1", "A2"}

// refOf is each workload's reference.
var refOf = map[string]string{"B1": "B1", "B2": "B2", "L1": "B1", "L2": "B2", "P1": "B1", "P2": "B2", "A1": "B1", "A2": "B2"}

// Config is one benchmark run.
type Config struct {
	Bin            string        // the sxp binary
	Dir            string        // the cluster, server logs, pgbench logs and profiles
	Duration       time.Duration // per workload
	Clients        int           // concurrent clients of every workload
	Workloads      []string      // subset of Workloads; empty: all
	Accounts       int           // pgbench accounts (B1/B2); 1,000,000 by default
	LedgerAccounts int           // ledger accounts (L1/L2)
	Members        int           // members per community (P, A); at least Clients+1
	Profile        bool          // CPU profiles of every server during A1 (their --pprof-listen)
	Seed           uint64
	Out            io.Writer // the contract's lines
	Progress       io.Writer // progress lines
}

func (c *Config) defaults() {
	if c.Duration <= 0 {
		c.Duration = 15 * time.Second
	}
	if c.Clients <= 0 {
		c.Clients = 8
	}
	if len(c.Workloads) == 0 {
		c.Workloads = Workloads
	}
	if c.Accounts <= 0 {
		c.Accounts = 1_000_000
	}
	if c.LedgerAccounts <= 0 {
		c.LedgerAccounts = 10_000
	}
	if c.Members < c.Clients+1 {
		c.Members = c.Clients + 1
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
}

// Line is one workload's result.
type Line struct {
	Name        string
	TPS         float64
	P50, P99    time.Duration
	Ref         string
	Ratio       float64
	Errors      int      // operations that did not complete (not counted in TPS)
	FirstErrors []string // the first few of them
}

// String is the contract's line.
func (l Line) String() string {
	return fmt.Sprintf("%s tps=%.0f p50_ms=%.2f p99_ms=%.2f ref=%s ratio=%.3f", l.Name, l.TPS,
		float64(l.P50.Microseconds())/1000, float64(l.P99.Microseconds())/1000, l.Ref, l.Ratio)
}

// LineRE matches a contract line.
var LineRE = regexp.MustCompile(`^(B1|B2|L1|L2|P1|P2|A1|A2) tps=([0-9]+) p50_ms=([0-9.]+) p99_ms=([0-9.]+) ref=(B1|B2) ratio=([0-9.]+)$`)

// Result is a run's outcome.
type Result struct {
	Lines      []Line
	Memory     []string // one line per server process
	Checks     []string // one line per invariant check
	Violations int
}

func (c *Config) wants(name string) bool { return slices.Contains(c.Workloads, name) }

func (c *Config) progress(format string, a ...any) {
	fmt.Fprintf(c.Progress, "bench: "+format+"\n", a...)
}

// Run runs the benchmark and prints its lines as they come.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.defaults()
	for _, w := range cfg.Workloads {
		if refOf[w] == "" {
			return nil, fmt.Errorf("unknown workload %q (known: %s)", w, strings.Join(Workloads, ","))
		}
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	ports, err := chaostest.FreePorts(7)
	if err != nil {
		return nil, err
	}
	cfg.progress("PostgreSQL cluster in %s (fsync=on, synchronous_commit=on)", filepath.Join(cfg.Dir, "pg"))
	cl, err := chaostest.NewCluster("pg", filepath.Join(cfg.Dir, "pg"), ports[0])
	if err != nil {
		return nil, err
	}
	if err := cl.Start(); err != nil {
		return nil, err
	}
	defer cl.Stop()

	res := &Result{}
	refs := map[string]float64{}
	emit := func(l Line) {
		l.Ref = refOf[l.Name]
		if l.Name == l.Ref {
			refs[l.Name] = l.TPS
		}
		if r := refs[l.Ref]; r > 0 {
			l.Ratio = l.TPS / r
		}
		res.Lines = append(res.Lines, l)
		fmt.Fprintln(cfg.Out, l)
		if l.Errors > 0 {
			cfg.progress("%s: %d operations did not complete, first: %s", l.Name, l.Errors, strings.Join(l.FirstErrors, "; "))
		}
	}

	if cfg.wants("B1") || cfg.wants("B2") {
		pb, err := setupPgbench(ctx, &cfg, cl)
		if err != nil {
			return nil, err
		}
		for _, w := range []string{"B1", "B2"} {
			if cfg.wants(w) {
				l, err := pb.run(ctx, &cfg, w)
				if err != nil {
					return nil, err
				}
				emit(l)
			}
		}
		res.Checks = append(res.Checks, pb.check(ctx, res))
	}
	if cfg.wants("L1") || cfg.wants("L2") {
		lb, err := setupLedger(ctx, &cfg, cl)
		if err != nil {
			return nil, err
		}
		for _, w := range []string{"L1", "L2"} {
			if cfg.wants(w) {
				emit(lb.run(ctx, &cfg, w))
			}
		}
		res.Checks = append(res.Checks, lb.check(ctx, res))
		lb.close()
	}
	needCircle := false
	for _, w := range []string{"P1", "P2", "A1", "A2"} {
		needCircle = needCircle || cfg.wants(w)
	}
	if needCircle {
		c, err := startCircle(ctx, &cfg, cl, ports[1:])
		if err != nil {
			return nil, err
		}
		defer c.stop()
		for _, w := range []string{"P1", "P2", "A1", "A2"} {
			if cfg.wants(w) {
				emit(c.run(ctx, &cfg, w))
			}
		}
		res.Memory = c.memory()
		for _, m := range res.Memory {
			fmt.Fprintln(cfg.Out, m)
		}
		checks, err := c.check(ctx, &cfg, res)
		if err != nil {
			return nil, err
		}
		res.Checks = append(res.Checks, checks...)
	}
	for _, ch := range res.Checks {
		fmt.Fprintln(cfg.Out, ch)
	}
	verdict := "RESULT ok: every invariant held"
	if res.Violations > 0 {
		verdict = fmt.Sprintf("RESULT VIOLATIONS: %d", res.Violations)
	}
	fmt.Fprintln(cfg.Out, verdict)
	return res, nil
}

// recorder collects latencies of completed operations from many clients.
type recorder struct {
	mu     sync.Mutex
	lat    []time.Duration
	errors int
	first  []string // the first few errors
	start  time.Time
	end    time.Time
}

func (r *recorder) add(d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errors++
		if len(r.first) < 3 {
			r.first = append(r.first, err.Error())
		}
		return
	}
	r.lat = append(r.lat, d)
}

// drive runs op from clients goroutines until d has passed; op gets the
// client's index and its sequence number.
func drive(ctx context.Context, clients int, d time.Duration, op func(ctx context.Context, client, seq int) error) *recorder {
	r := &recorder{start: time.Now()}
	deadline := r.start.Add(d)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := 0; time.Now().Before(deadline) && ctx.Err() == nil; seq++ {
				t := time.Now()
				err := op(ctx, i, seq)
				r.add(time.Since(t), err)
			}
		}()
	}
	wg.Wait()
	r.end = time.Now()
	return r
}

func (r *recorder) line(name string) Line {
	l := Line{Name: name, Errors: r.errors, FirstErrors: r.first}
	l.TPS = float64(len(r.lat)) / r.end.Sub(r.start).Seconds()
	l.P50, l.P99 = percentiles(r.lat)
	return l
}

func percentiles(lat []time.Duration) (p50, p99 time.Duration) {
	if len(lat) == 0 {
		return 0, 0
	}
	slices.Sort(lat)
	at := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	return at(0.50), at(0.99)
}

// payOnce pays and repeats the same request (same idempotency key) while
// the outcome is unknown or pending, as a careful client does; it returns
// the final outcome.
func payOnce(ctx context.Context, api *client.Client, req client.PaymentRequest) (chaostest.Outcome, string) {
	outcome := chaostest.Unknown
	backoff := 50 * time.Millisecond
	for deadline := time.Now().Add(30 * time.Second); ; {
		p, err := api.Pay(ctx, req)
		var ae *client.Error
		switch {
		case err == nil && p.Status == "completed":
			return chaostest.Completed, ""
		case err == nil && p.Status == "failed":
			return chaostest.Failed, fmt.Sprintf("failed/cxp%d", p.CXPCode)
		case err == nil:
			outcome = chaostest.Pending
		case errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 && ae.Status != http.StatusTooManyRequests:
			return chaostest.Failed, ae.Code
		}
		if ctx.Err() != nil || time.Now().Add(backoff).After(deadline) {
			return outcome, ""
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, time.Second)
	}
}

func formatMinor(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

func newRand(seed uint64, stream int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, uint64(stream)))
}

func itoa(i int) string { return strconv.Itoa(i) }
