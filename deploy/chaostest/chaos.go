package chaostest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/server/client"
)

// Config is one chaos run.
type Config struct {
	Bin      string        // the sxp binary
	Dir      string        // clusters and server logs go here
	Seed     int64         // the fault schedule and the workload; printed, so a run can be replayed
	Duration time.Duration // of the workload under faults
	Payments int           // at most this many payments (0: no cap)
	Clients  int           // concurrent paying clients
	Members  int           // per community
	Clusters string        // "single": every database on one cluster; "multi": one cluster per server
	// Recovery is how long, after healing, the servers get to settle every
	// pending payment (the communities' settle loop runs with each
	// handshake, every 2 s here; the clearing house expires unanswered
	// holds after HoldTTL): clients re-ask every unresolved payment with
	// its key, and the databases are polled until nothing is pending.
	Recovery     time.Duration
	RelayTimeout time.Duration // the clearing house's --relay-timeout
	HoldTTL      time.Duration // the clearing house's --hold-ttl
	Out          io.Writer     // the schedule, progress and report
}

func (c *Config) defaults() {
	if c.Duration <= 0 {
		c.Duration = 3 * time.Minute
	}
	if c.Clients <= 0 {
		c.Clients = 8
	}
	if c.Members <= 0 {
		c.Members = 6
	}
	if c.Clusters == "" {
		c.Clusters = "single"
	}
	if c.Recovery <= 0 {
		c.Recovery = 90 * time.Second
	}
	if c.RelayTimeout <= 0 {
		c.RelayTimeout = 3 * time.Second
	}
	if c.HoldTTL <= 0 {
		c.HoldTTL = 20 * time.Second
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
}

// communitySpec is one community of the circle.
type communitySpec struct {
	id, name, currency, ticks string
}

// The circle: base unit VAL with 2 decimals; three communities at rates 1,
// 2 and 0.5 (so conversions round both ways); each community's limits in
// the circle -300..300 VAL, members' -50..200.
var communitySpecs = []communitySpec{
	{"leaf", "Leaf Valley", "LEAF", "1"},
	{"acorn", "Acorn Hill", "ACORN", "2"},
	{"birch", "Birch Wood", "BIRCH", "0.5"},
}

const (
	baseDivisions = 2
	divisions     = 2
	memberMin     = -5000 // minor units
	memberMax     = 20000
	password      = "chaos horse battery staple"
	secret        = "chaos clearing secret"
	adminToken    = "chaos-admin-token-0123456789"
)

// Fault is one entry of the schedule.
type Fault struct {
	At     time.Duration // from the start of the workload
	For    time.Duration
	Kind   string // kill9 | pgstop | net
	Target string // server, cluster or proxy name
	Mode   Mode   // for net
}

func (f Fault) String() string {
	what := f.Kind + " " + f.Target
	if f.Kind == "net" {
		what += " " + f.Mode.String()
	}
	return fmt.Sprintf("t=%6.1fs  %-28s for %4.1fs", f.At.Seconds(), what, f.For.Seconds())
}

// Schedule lays out faults over d from seed: every server killed in turn,
// every cluster stopped, every proxy in each network mode, shuffled, round
// after round until d is used up.
func Schedule(seed int64, d time.Duration, servers, clusters []string) []Fault {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	var kinds []Fault
	for _, s := range servers {
		kinds = append(kinds, Fault{Kind: "kill9", Target: s})
	}
	for _, c := range clusters {
		kinds = append(kinds, Fault{Kind: "pgstop", Target: c})
	}
	for _, s := range servers {
		for _, m := range []Mode{Delay, DropAnswer, Reset} {
			kinds = append(kinds, Fault{Kind: "net", Target: s, Mode: m})
		}
	}
	var out []Fault
	t := 3 * time.Second
	for {
		rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
		for _, k := range kinds {
			k.At = t
			k.For = time.Duration(2000+rng.IntN(4000)) * time.Millisecond
			if t+k.For > d-2*time.Second {
				return out
			}
			out = append(out, k)
			t += k.For + time.Duration(1500+rng.IntN(2500))*time.Millisecond
		}
	}
}

// Result is a run's outcome.
type Result struct {
	Schedule []Fault
	History  History
	Report   Report
	Attempts int // HTTP calls made for payments
}

type server struct {
	proc    *proc
	proxy   *Proxy
	cluster *Cluster
	dbURL   string
}

type member struct {
	community string
	username  string
	api       *client.Client
}

// Run runs one chaos run and checks it. It returns an error only when the
// circle could not be set up or read; violations are in Result.Report.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.defaults()
	out := cfg.Out
	fmt.Fprintf(out, "chaos: seed=%d duration=%s payments=%d clients=%d members=%d clusters=%s relay-timeout=%s hold-ttl=%s recovery=%s dir=%s\n",
		cfg.Seed, cfg.Duration, cfg.Payments, cfg.Clients, cfg.Members, cfg.Clusters, cfg.RelayTimeout, cfg.HoldTTL, cfg.Recovery, cfg.Dir)

	names := []string{"clearing"}
	for _, c := range communitySpecs {
		names = append(names, c.id)
	}
	ports, err := FreePorts(2*len(names) + len(names))
	if err != nil {
		return nil, err
	}
	servers := map[string]*server{}
	var clusters []*Cluster
	defer func() {
		for _, s := range servers {
			if s.proc != nil {
				s.proc.stop()
			}
			if s.proxy != nil {
				s.proxy.Close()
			}
		}
		for _, c := range clusters {
			c.Stop()
		}
	}()
	// Clusters and databases.
	clusterOf := map[string]*Cluster{}
	for i, n := range names {
		if cfg.Clusters == "multi" || i == 0 {
			cname := "pg"
			if cfg.Clusters == "multi" {
				cname = "pg-" + n
			}
			c, err := NewCluster(cname, filepath.Join(cfg.Dir, cname), ports[2*len(names)+i])
			if err != nil {
				return nil, err
			}
			clusters = append(clusters, c)
			if err := c.Start(); err != nil {
				return nil, err
			}
		}
		clusterOf[n] = clusters[len(clusters)-1]
	}
	env := envWithoutSettings()
	for i, n := range names {
		c := clusterOf[n]
		if err := c.CreateDatabase(ctx, n); err != nil {
			return nil, fmt.Errorf("create database %s: %w", n, err)
		}
		s := &server{cluster: c, dbURL: c.URL(n)}
		if _, err := runSXP(cfg.Bin, env, "", "migrate", "up", "--database", s.dbURL); err != nil {
			return nil, err
		}
		listen := fmt.Sprintf("127.0.0.1:%d", ports[2*i])
		s.proxy, err = StartProxy(n, fmt.Sprintf("127.0.0.1:%d", ports[2*i+1]), listen, cfg.RelayTimeout+2*time.Second)
		if err != nil {
			return nil, err
		}
		s.proc = &proc{name: n, bin: cfg.Bin, env: env, base: "http://" + listen, logPath: logPath(cfg.Dir, n)}
		servers[n] = s
	}
	proxyURL := func(n string) string { return "http://" + servers[n].proxy.Listen }

	// The circle, configured as an operator would.
	cdb := servers["clearing"].dbURL
	if _, err := runSXP(cfg.Bin, env, "", "admin", "circle", "init", "valley", "--unit", "VAL", "--divisions", strconv.Itoa(baseDivisions),
		"--name", "Valley circle", "--database", cdb); err != nil {
		return nil, err
	}
	keys := map[string]string{}
	for _, c := range communitySpecs {
		o, err := runSXP(cfg.Bin, env, "", "admin", "community", "add", c.id, "--name", c.name, "--uri", proxyURL(c.id),
			"--rate", c.ticks, "--min", "-300", "--max", "300", "--secret", secret, "--database", cdb)
		if err != nil {
			return nil, err
		}
		if keys[c.id], err = keyLine(o); err != nil {
			return nil, err
		}
	}
	servers["clearing"].proc.args = []string{"clearing", "--listen", strings.TrimPrefix(servers["clearing"].proc.base, "http://"),
		"--database", cdb, "--secret", secret, "--admin-token", adminToken, "--public-url", proxyURL("clearing"),
		"--relay-timeout", cfg.RelayTimeout.String(), "--hold-ttl", cfg.HoldTTL.String()}
	for _, c := range communitySpecs {
		s := servers[c.id]
		s.proc.args = []string{"community", "--listen", strings.TrimPrefix(s.proc.base, "http://"), "--database", s.dbURL,
			"--community-id", c.id, "--community-name", c.name, "--currency", c.currency, "--public-url", proxyURL(c.id),
			"--circle-url", proxyURL("clearing"), "--circle-id", "valley", "--circle-key", keys[c.id], "--rate", c.ticks,
			"--default-min", formatMinor(memberMin), "--default-max", formatMinor(memberMax), "--handshake-interval", "2s"}
	}
	for _, n := range names {
		if err := servers[n].proc.start(); err != nil {
			return nil, err
		}
	}
	for _, n := range names {
		if err := servers[n].proc.waitReady(ctx, 60*time.Second); err != nil {
			return nil, err
		}
	}

	// Members, registered and logged in through the API.
	var members []member
	for _, c := range communitySpecs {
		for i := range cfg.Members {
			m := member{community: c.id, username: fmt.Sprintf("m%d", i), api: &client.Client{BaseURL: servers[c.id].proc.base,
				HTTP: &http.Client{Timeout: 15 * time.Second}}}
			if _, err := m.api.Register(ctx, m.username, password, "Member "+m.username); err != nil {
				return nil, err
			}
			if _, err := m.api.Login(ctx, m.username, password); err != nil {
				return nil, err
			}
			members = append(members, m)
		}
	}
	// Every community must know the others before payments start.
	for _, c := range communitySpecs {
		ok := false
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && !ok; time.Sleep(300 * time.Millisecond) {
			ok = knowsPeers(ctx, servers[c.id].dbURL)
		}
		if !ok {
			return nil, fmt.Errorf("%s did not handshake with the circle within 30 s (see %s)", c.id, servers[c.id].proc.logPath)
		}
	}

	var clusterNames []string
	for _, c := range clusters {
		clusterNames = append(clusterNames, c.Name)
	}
	res := &Result{Schedule: Schedule(cfg.Seed, cfg.Duration, names, clusterNames)}
	fmt.Fprintf(out, "chaos: fault schedule (%d faults, seed %d):\n", len(res.Schedule), cfg.Seed)
	for _, f := range res.Schedule {
		fmt.Fprintf(out, "  %s\n", f)
	}

	// The sampler, the workload and the faults, until Duration.
	start := time.Now()
	runCtx, stopRun := context.WithTimeout(ctx, cfg.Duration)
	defer stopRun()
	smp := &sampler{}
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		smp.run(runCtx, servers)
	}()
	w := &workload{cfg: cfg, members: members, rng: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x10ad))}
	bg.Add(1)
	go func() {
		defer bg.Done()
		w.run(runCtx)
	}()
	faultLog := applySchedule(runCtx, start, res.Schedule, servers, clusters, out)

	bg.Wait()
	fmt.Fprintf(out, "chaos: workload done after %s: %d payments made; healing\n", time.Since(start).Round(time.Second), len(w.ops))
	// Heal everything, whatever the schedule left.
	for _, s := range servers {
		s.proxy.SetMode(Pass)
	}
	for _, c := range clusters {
		if c.WaitUp(ctx, time.Second) != nil {
			c.Start()
		}
	}
	for _, n := range names {
		if err := servers[n].proc.waitReady(ctx, 60*time.Second); err != nil {
			fmt.Fprintf(out, "chaos: %s not ready after healing, restarting it: %v\n", n, err)
			servers[n].proc.kill9()
			servers[n].proc.start()
			if err := servers[n].proc.waitReady(ctx, 60*time.Second); err != nil {
				return nil, err
			}
		}
	}
	for _, l := range faultLog {
		if l != "" {
			fmt.Fprintf(out, "chaos: fault note: %s\n", l)
		}
	}

	// Recovery: re-ask every unresolved payment; wait for nothing pending.
	recStart := time.Now()
	deadline := recStart.Add(cfg.Recovery)
	for time.Now().Before(deadline) {
		open := w.reask(ctx)
		pending := 0
		for _, n := range names {
			p, err := pendingCounts(ctx, servers[n].dbURL, n == "clearing")
			if err != nil {
				pending++
			}
			pending += p
		}
		if open == 0 && pending == 0 {
			break
		}
		time.Sleep(2 * time.Second)
	}
	w.reask(ctx)
	fmt.Fprintf(out, "chaos: recovery took %s (limit %s)\n", time.Since(recStart).Round(time.Second), cfg.Recovery)

	// The final state, straight from every database.
	snap := Snapshot{Communities: map[string]*Community{}}
	if snap.Clearing, err = readClearing(ctx, cdb, baseDivisions); err != nil {
		return nil, err
	}
	for _, c := range communitySpecs {
		if snap.Communities[c.id], err = readCommunity(ctx, servers[c.id].dbURL, c.id, c.ticks, divisions, baseDivisions); err != nil {
			return nil, err
		}
	}
	res.History = History{Ops: w.ops, Samples: smp.samples}
	res.Attempts = int(w.attempts.Load())
	res.Report = Check(res.History, snap, Options{})
	fmt.Fprintf(out, "chaos: %d payments made, %d HTTP attempts; acknowledged completed %d, failed %d, still pending %d, never answered %d\n",
		len(w.ops), res.Attempts, res.Report.Completed, res.Report.Failed, res.Report.Pending, res.Report.Unknown)
	fmt.Fprintf(out, "chaos: refusal codes: %s\n", w.codes())
	fmt.Fprintf(out, "chaos: checker: %s", res.Report)
	return res, nil
}

func knowsPeers(ctx context.Context, url string) bool {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return false
	}
	defer conn.Close(ctx)
	var ok bool
	err = conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM intertrade_handshakes WHERE ok)`).Scan(&ok)
	return err == nil && ok
}

// applySchedule runs the faults at their times until ctx ends, healing
// each one after its duration.
func applySchedule(ctx context.Context, start time.Time, sched []Fault, servers map[string]*server, clusters []*Cluster, out io.Writer) []string {
	var notes []string
	clusterByName := map[string]*Cluster{}
	for _, c := range clusters {
		clusterByName[c.Name] = c
	}
	sleepUntil := func(t time.Time) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(time.Until(t)):
			return true
		}
	}
	for _, f := range sched {
		if !sleepUntil(start.Add(f.At)) {
			break
		}
		fmt.Fprintf(out, "chaos: %s  apply\n", f)
		switch f.Kind {
		case "kill9":
			s := servers[f.Target]
			s.proc.kill9()
			time.Sleep(f.For)
			if err := s.proc.start(); err != nil {
				notes = append(notes, err.Error())
			}
		case "pgstop":
			c := clusterByName[f.Target]
			if err := c.StopImmediate(); err != nil {
				notes = append(notes, err.Error())
			}
			time.Sleep(f.For)
			if err := c.Start(); err != nil {
				notes = append(notes, err.Error())
			}
		case "net":
			p := servers[f.Target].proxy
			p.SetMode(f.Mode)
			time.Sleep(f.For)
			p.SetMode(Pass)
		}
		fmt.Fprintf(out, "chaos: t=%6.1fs  healed %s %s\n", time.Since(start).Seconds(), f.Kind, f.Target)
	}
	return notes
}

// sampler reads every account's balance and limits from every database
// while the run goes on, keeping each change.
type sampler struct {
	samples []Sample
	last    map[string]Sample
}

func (s *sampler) run(ctx context.Context, servers map[string]*server) {
	s.last = map[string]Sample{}
	for ctx.Err() == nil {
		for n, srv := range servers {
			qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			conn, err := pgx.Connect(qctx, srv.dbURL)
			if err == nil {
				var acc []Account
				if acc, err = readAccounts(qctx, conn, false); err == nil {
					for _, a := range acc {
						sm := Sample{Where: n, Account: a.Code, Balance: a.Balance, Min: a.Min, Max: a.Max}
						if s.last[n+" "+a.Code] != sm {
							s.last[n+" "+a.Code] = sm
							s.samples = append(s.samples, sm)
						}
					}
				}
				conn.Close(qctx)
			}
			cancel()
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// workload makes payments from many clients.
type workload struct {
	cfg      Config
	members  []member
	mu       sync.Mutex
	rng      *rand.Rand
	ops      []Op
	made     atomic.Int64
	attempts atomic.Int64
}

// next draws the next payment, or false when the budget is spent.
func (w *workload) next(client int) (Op, *client.Client, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := w.made.Add(1)
	if w.cfg.Payments > 0 && n > int64(w.cfg.Payments) {
		return Op{}, nil, false
	}
	payer := w.members[w.rng.IntN(len(w.members))]
	var payee member
	for {
		payee = w.members[w.rng.IntN(len(w.members))]
		if payee.community != payer.community || payee.username != payer.username {
			break
		}
	}
	// Amounts near the limits: most small, one in three up to the whole
	// lower limit, so payers keep running into it.
	amount := int64(1 + w.rng.IntN(2000))
	if w.rng.IntN(3) == 0 {
		amount = int64(2000 + w.rng.IntN(-memberMin))
	}
	op := Op{Key: fmt.Sprintf("chaos-%d-%d-%d", w.cfg.Seed, client, n), PayerCommunity: payer.community, Payer: payer.username,
		PayeeCommunity: payee.community, Payee: payee.username, Amount: amount}
	return op, payer.api, true
}

func (w *workload) run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range w.cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				op, api, ok := w.next(i)
				if !ok {
					return
				}
				w.payCopies(ctx, api, &op)
				w.mu.Lock()
				w.ops = append(w.ops, op)
				w.mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func (w *workload) request(op Op) client.PaymentRequest {
	to := op.Payee
	if op.Remote() {
		to += "@" + op.PayeeCommunity
	}
	return client.PaymentRequest{To: to, Amount: formatMinor(op.Amount), Description: "chaos " + op.Key, IdempotencyKey: op.Key}
}

// pay sends op, repeating it with the same key while the outcome is not
// known (no answer, a 5xx, or pending), for at most patience. It never
// assumes a payment was lost.
func (w *workload) pay(ctx context.Context, api *client.Client, op *Op, patience time.Duration) {
	req := w.request(*op)
	backoff := 200 * time.Millisecond
	for deadline := time.Now().Add(patience); ; {
		op.Attempts++
		w.attempts.Add(1)
		p, err := api.Pay(context.WithoutCancel(ctx), req)
		var ae *client.Error
		switch {
		case err == nil && p.Status == "completed":
			op.Outcome, op.Code = Completed, ""
			return
		case err == nil && p.Status == "failed":
			op.Outcome, op.Code = Failed, fmt.Sprintf("failed/cxp%d", p.CXPCode)
			return
		case err == nil:
			op.Outcome = Pending
		case errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 && ae.Status != http.StatusTooManyRequests:
			op.Outcome, op.Code = Failed, ae.Code
			if ae.CXP != 0 {
				op.Code += fmt.Sprintf("/cxp%d", ae.CXP)
			}
			return
		default:
			if op.Outcome != Pending {
				op.Outcome = Unknown
			}
		}
		if ctx.Err() != nil || time.Now().Add(backoff).After(deadline) {
			return
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 2*time.Second)
	}
}

// payCopies pays op; one payment in ten is sent as three identical
// requests at once (same key), as a client that double-submits, and every
// copy must get the same final answer.
func (w *workload) payCopies(ctx context.Context, api *client.Client, op *Op) {
	op.Copies = 1
	w.mu.Lock()
	if w.rng.IntN(10) == 0 {
		op.Copies = 3
	}
	w.mu.Unlock()
	if op.Copies == 1 {
		w.pay(ctx, api, op, 20*time.Second)
		return
	}
	copies := make([]Op, op.Copies)
	var wg sync.WaitGroup
	for i := range copies {
		copies[i] = *op
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.pay(ctx, api, &copies[i], 20*time.Second)
		}()
	}
	wg.Wait()
	*op = copies[0]
	op.Attempts = 0
	var answers []string
	final := map[string]bool{}
	for _, c := range copies {
		op.Attempts += c.Attempts
		a := string(c.Outcome)
		if c.Code != "" {
			a += " " + c.Code
		}
		answers = append(answers, a)
		if c.Outcome == Completed || c.Outcome == Failed {
			final[string(c.Outcome)] = true
		}
		if c.Outcome == Completed {
			op.Outcome, op.Code = Completed, "" // what moved is checked against the payment that was made
		}
	}
	if len(final) > 1 {
		op.Disagree = strings.Join(answers, ", ")
	}
}

// reask repeats every payment whose outcome is not known yet, once, and
// returns how many are still open.
func (w *workload) reask(ctx context.Context) int {
	byKey := map[string]*client.Client{}
	for _, m := range w.members {
		byKey[m.community+" "+m.username] = m.api
	}
	open := 0
	for i := range w.ops {
		op := &w.ops[i]
		if op.Outcome == Completed || op.Outcome == Failed {
			continue
		}
		w.pay(ctx, byKey[op.PayerCommunity+" "+op.Payer], op, 0)
		if op.Outcome != Completed && op.Outcome != Failed {
			open++
		}
	}
	return open
}

// codes summarises the refusals by code.
func (w *workload) codes() string {
	n := map[string]int{}
	for _, op := range w.ops {
		if op.Outcome == Failed {
			n[op.Code]++
		}
	}
	var parts []string
	for c, k := range n {
		parts = append(parts, fmt.Sprintf("%s=%d", c, k))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// formatMinor writes minor units with 2 decimals.
func formatMinor(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// FreePorts finds n free loopback ports (the harnesses' servers and
// proxies listen on them).
func FreePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
