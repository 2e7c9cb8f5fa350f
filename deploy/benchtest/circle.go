package benchtest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/deploy/chaostest"
	"github.com/sxp-network/sxp/server/client"
)

// The circle: base unit VAL with 2 decimals; both communities at rate 1
// (conversions that round are the chaos test's matter, not speed's); wide
// limits, so that nothing is refused for want of room.
type communitySpec struct{ id, name, currency, ticks string }

var specs = []communitySpec{
	{"leaf", "Leaf Valley", "LEAF", "1"},
	{"acorn", "Acorn Hill", "ACORN", "1"},
}

const (
	baseDivisions = 2
	divisions     = 2
	password      = "bench horse battery staple"
	secret        = "bench clearing secret"
	adminToken    = "bench-admin-token-0123456789"
)

// server is one sxp server process.
type server struct {
	name, base, db, pprof string
	cmd                   *exec.Cmd
	done                  chan struct{}
	logPath               string
}

func (s *server) start(bin string, args []string) error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Env = envWithoutSettings()
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	s.done = make(chan struct{})
	go func() { s.cmd.Wait(); logf.Close(); close(s.done) }()
	return nil
}

func (s *server) waitReady(ctx context.Context) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		select {
		case <-s.done:
			return fmt.Errorf("%s exited before it was ready (see %s)", s.name, s.logPath)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if resp, err := hc.Get(s.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("%s not ready within 60 s (see %s)", s.name, s.logPath)
}

// peakRSS is VmHWM from /proc/PID/status, in KiB.
func (s *server) peakRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kib int64
			_, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kib)
			return kib, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", s.cmd.Process.Pid)
}

func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Signal(syscall.SIGKILL)
		<-s.done
	}
}

type member struct {
	community, username string
	api                 *client.Client
}

type circle struct {
	servers []*server // clearing, leaf, acorn
	byName  map[string]*server
	members map[string][]member // by community
	mu      sync.Mutex
	ops     []chaostest.Op
}

func startCircle(ctx context.Context, cfg *Config, cl *chaostest.Cluster, ports []int) (*circle, error) {
	c := &circle{byName: map[string]*server{}, members: map[string][]member{}}
	names := []string{"clearing", "leaf", "acorn"}
	for i, n := range names {
		if err := cl.CreateDatabase(ctx, n); err != nil {
			return nil, err
		}
		s := &server{name: n, base: fmt.Sprintf("http://127.0.0.1:%d", ports[2*i]), db: cl.URL(n), logPath: filepath.Join(cfg.Dir, n+".log")}
		if cfg.Profile {
			s.pprof = fmt.Sprintf("127.0.0.1:%d", ports[2*i+1])
		}
		if out, err := runSXP(cfg.Bin, "migrate", "up", "--database", s.db); err != nil {
			return nil, fmt.Errorf("migrate %s: %v\n%s", n, err, out)
		}
		c.servers = append(c.servers, s)
		c.byName[n] = s
	}
	cdb := c.byName["clearing"].db
	if out, err := runSXP(cfg.Bin, "admin", "circle", "init", "valley", "--unit", "VAL", "--divisions", itoa(baseDivisions),
		"--name", "Valley circle", "--database", cdb); err != nil {
		return nil, fmt.Errorf("circle init: %v\n%s", err, out)
	}
	keys := map[string]string{}
	for _, sp := range specs {
		out, err := runSXP(cfg.Bin, "admin", "community", "add", sp.id, "--name", sp.name, "--uri", c.byName[sp.id].base,
			"--rate", sp.ticks, "--min", "-1000000000", "--max", "1000000000", "--secret", secret, "--database", cdb)
		if err != nil {
			return nil, fmt.Errorf("community add %s: %v\n%s", sp.id, err, out)
		}
		for _, l := range strings.Split(out, "\n") {
			if k, ok := strings.CutPrefix(l, "key: "); ok {
				keys[sp.id] = strings.TrimSpace(k)
			}
		}
		if keys[sp.id] == "" {
			return nil, fmt.Errorf("community add %s: no key line in %q", sp.id, out)
		}
	}
	cs := c.byName["clearing"]
	args := map[string][]string{"clearing": {"clearing", "--listen", strings.TrimPrefix(cs.base, "http://"), "--database", cdb,
		"--secret", secret, "--admin-token", adminToken, "--public-url", cs.base}}
	for _, sp := range specs {
		s := c.byName[sp.id]
		args[sp.id] = []string{"community", "--listen", strings.TrimPrefix(s.base, "http://"), "--database", s.db,
			"--community-id", sp.id, "--community-name", sp.name, "--currency", sp.currency, "--public-url", s.base,
			"--circle-url", cs.base, "--circle-id", "valley", "--circle-key", keys[sp.id], "--rate", sp.ticks,
			"--default-min", "-1000000", "--default-max", "1000000", "--handshake-interval", "2s"}
	}
	for _, s := range c.servers {
		a := args[s.name]
		if s.pprof != "" {
			a = append(a, "--pprof-listen", s.pprof)
		}
		if err := s.start(cfg.Bin, a); err != nil {
			c.stop()
			return nil, err
		}
	}
	for _, s := range c.servers {
		if err := s.waitReady(ctx); err != nil {
			c.stop()
			return nil, err
		}
	}
	// Members, registered and logged in through the API.
	transport := &http.Transport{MaxIdleConns: 4 * cfg.Clients, MaxIdleConnsPerHost: 2 * cfg.Clients, IdleConnTimeout: time.Minute,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: transport}
	cfg.progress("circle: registering %d members in each of %d communities", cfg.Members, len(specs))
	for _, sp := range specs {
		for i := range cfg.Members {
			m := member{community: sp.id, username: fmt.Sprintf("m%d", i), api: &client.Client{BaseURL: c.byName[sp.id].base, HTTP: hc}}
			if _, err := m.api.Register(ctx, m.username, password, "Member "+m.username); err != nil {
				c.stop()
				return nil, err
			}
			if _, err := m.api.Login(ctx, m.username, password); err != nil {
				c.stop()
				return nil, err
			}
			c.members[sp.id] = append(c.members[sp.id], m)
		}
	}
	for _, sp := range specs {
		ok := false
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && !ok; time.Sleep(300 * time.Millisecond) {
			ok = knowsPeers(ctx, c.byName[sp.id].db)
		}
		if !ok {
			c.stop()
			return nil, fmt.Errorf("%s did not handshake with the circle within 30 s (see %s)", sp.id, c.byName[sp.id].logPath)
		}
	}
	return c, nil
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

func (c *circle) stop() {
	for _, s := range c.servers {
		s.stop()
	}
}

// run runs one payment workload:
//   - P1: client i's member pays a random other member of leaf;
//   - P2: client i's member and leaf's hot member (the last one) pay each
//     other in turn;
//   - A1: client i pays from its member in leaf (even i) or acorn (odd i)
//     to a random member of the other community;
//   - A2: every client pays from leaf's m0 to acorn's m0.
func (c *circle) run(ctx context.Context, cfg *Config, name string) Line {
	cfg.progress("%s: payments through the community API, %d clients, %s", name, cfg.Clients, cfg.Duration)
	var profiles sync.WaitGroup
	if (name == "A1" || name == "P1") && cfg.Profile {
		c.profile(cfg, name, &profiles)
	}
	leaf, acorn := c.members["leaf"], c.members["acorn"]
	rngs := make([]func(int) int, cfg.Clients)
	for i := range rngs {
		rng := newRand(cfg.Seed, 200+i)
		var mu sync.Mutex
		rngs[i] = func(n int) int { mu.Lock(); defer mu.Unlock(); return rng.IntN(n) }
	}
	r := drive(ctx, cfg.Clients, cfg.Duration, func(ctx context.Context, i, seq int) error {
		var payer, payee member
		switch name {
		case "P1":
			payer = leaf[i]
			payee = leaf[(i+1+rngs[i](len(leaf)-1))%len(leaf)]
		case "P2":
			payer, payee = leaf[i], leaf[len(leaf)-1]
			if seq%2 == 1 {
				payer, payee = payee, payer
			}
		case "A1":
			from, to := leaf, acorn
			if i%2 == 1 {
				from, to = acorn, leaf
			}
			payer, payee = from[i], to[rngs[i](len(to))]
		case "A2":
			payer, payee = leaf[0], acorn[0]
		}
		amount := int64(1 + rngs[i](100))
		op := chaostest.Op{Key: fmt.Sprintf("%s-%d-%d", name, i, seq), PayerCommunity: payer.community, Payer: payer.username,
			PayeeCommunity: payee.community, Payee: payee.username, Amount: amount, Copies: 1, Attempts: 1}
		to := payee.username
		if op.Remote() {
			to += "@" + payee.community
		}
		op.Outcome, op.Code = payOnce(ctx, payer.api, client.PaymentRequest{To: to, Amount: formatMinor(amount),
			Description: "bench " + op.Key, IdempotencyKey: op.Key})
		c.mu.Lock()
		c.ops = append(c.ops, op)
		c.mu.Unlock()
		if op.Outcome != chaostest.Completed {
			return fmt.Errorf("%s: %s %s", op.Key, op.Outcome, op.Code)
		}
		return nil
	})
	profiles.Wait()
	return r.line(name)
}

// profile saves a CPU profile of every server over the workload's duration
// (P1 and A1) in cpu-<workload>-<server>.pprof.
func (c *circle) profile(cfg *Config, workload string, wg *sync.WaitGroup) {
	secs := max(1, int(cfg.Duration.Seconds())-1)
	for _, s := range c.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := filepath.Join(cfg.Dir, "cpu-"+workload+"-"+s.name+".pprof")
			hc := &http.Client{Timeout: time.Duration(secs+30) * time.Second}
			resp, err := hc.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", s.pprof, secs))
			if err != nil {
				cfg.progress("profile %s: %v", s.name, err)
				return
			}
			defer resp.Body.Close()
			f, err := os.Create(path)
			if err != nil {
				cfg.progress("profile %s: %v", s.name, err)
				return
			}
			defer f.Close()
			if _, err := io.Copy(f, resp.Body); err != nil || resp.StatusCode != http.StatusOK {
				cfg.progress("profile %s: HTTP %d %v", s.name, resp.StatusCode, err)
				return
			}
			cfg.progress("profile %s: %s (go tool pprof -top %s %s)", s.name, path, cfg.Bin, path)
		}()
	}
}

// memory is one line per server with its peak resident memory.
func (c *circle) memory() []string {
	var out []string
	for _, s := range c.servers {
		kib, err := s.peakRSS()
		if err != nil {
			out = append(out, fmt.Sprintf("MEM %s: %v", s.name, err))
			continue
		}
		out = append(out, fmt.Sprintf("MEM %s pid=%d vmhwm_mib=%.1f", s.name, s.cmd.Process.Pid, float64(kib)/1024))
	}
	return out
}

// check waits until nothing is pending anywhere, then runs
// deploy/chaostest's checker over every payment made.
func (c *circle) check(ctx context.Context, cfg *Config, res *Result) ([]string, error) {
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		pending := 0
		for _, s := range c.servers {
			p, err := chaostest.PendingCounts(ctx, s.db, s.name == "clearing")
			if err != nil {
				pending++
			}
			pending += p
		}
		if pending == 0 {
			break
		}
		cfg.progress("check: %d holds or intertrades still pending; waiting", pending)
	}
	snap := chaostest.Snapshot{Communities: map[string]*chaostest.Community{}}
	var err error
	if snap.Clearing, err = chaostest.ReadClearing(ctx, c.byName["clearing"].db, baseDivisions); err != nil {
		return nil, err
	}
	for _, sp := range specs {
		if snap.Communities[sp.id], err = chaostest.ReadCommunity(ctx, c.byName[sp.id].db, sp.id, sp.ticks, divisions, baseDivisions); err != nil {
			return nil, err
		}
	}
	rep := chaostest.Check(chaostest.History{Ops: c.ops}, snap, chaostest.Options{})
	res.Violations += len(rep.Violations)
	return []string{fmt.Sprintf("CHECK circle %s", strings.TrimRight(rep.String(), "\n"))}, nil
}

// runSXP runs the binary to completion and returns its output.
func runSXP(bin string, args ...string) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = envWithoutSettings()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// envWithoutSettings is this process's environment less SXP_ variables
// and DATABASE_URL, so the harness's own settings never reach a server.
func envWithoutSettings() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SXP_") && !strings.HasPrefix(kv, "DATABASE_URL=") {
			env = append(env, kv)
		}
	}
	return env
}
