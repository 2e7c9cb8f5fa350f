package main

// An intertrading circle of real processes for end-to-end tests: the sxp
// binary built once, a clearing house and two community servers (leaf at
// rate 1, acorn at rate 2) on loopback ports, each on its own migrated
// database, started and configured exactly as an operator would.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sxp-network/sxp/migrations/pgtest"
)

var builtSXP struct {
	once sync.Once
	path string
	err  error
}

// sxpBinary builds this command once per test run and returns its path.
func sxpBinary(t *testing.T) string {
	t.Helper()
	builtSXP.once.Do(func() {
		dir, err := os.MkdirTemp("", "sxp-e2e-bin-")
		if err != nil {
			builtSXP.err = err
			return
		}
		builtSXP.path = filepath.Join(dir, "sxp")
		out, err := exec.Command("go", "build", "-o", builtSXP.path, ".").CombinedOutput()
		if err != nil {
			builtSXP.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if builtSXP.err != nil {
		t.Fatal(builtSXP.err)
	}
	return builtSXP.path
}

// circle is a running clearing house and two community servers.
type circle struct {
	t          *testing.T
	bin        string
	adminToken string
	clearing   string // base URLs
	leaf       string
	acorn      string
	clearingDB *pgxpool.Pool
	leafDB     *pgxpool.Pool
	acornDB    *pgxpool.Pool
	keys       map[string]string
	logs       map[string]*procLog
}

// procLog is a process's combined output, safe to read while it writes.
type procLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *procLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *procLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

const (
	e2eSecret     = "e2e clearing secret"
	e2eAdminToken = "e2e-admin-token-0123456789"
	e2ePassword   = "correct horse battery staple"
)

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// sxp runs the binary to completion with stdin and returns its stdout.
func (c *circle) sxp(stdin string, args ...string) string {
	c.t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Env = e2eEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		c.t.Fatalf("sxp %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// e2eEnv is the environment of the processes: no SXP_ or DATABASE_URL
// variable leaks in from the test's own environment.
func e2eEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "SXP_") || strings.HasPrefix(kv, "DATABASE_URL=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// start runs a server until the test ends (SIGTERM, then a bounded wait).
func (c *circle) start(name string, args ...string) {
	c.t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Env = e2eEnv()
	log := &procLog{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start %s: %v", name, err)
	}
	c.logs[name] = log
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	c.t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if c.t.Failed() {
			c.t.Logf("--- %s log ---\n%s", name, log.String())
		}
	})
}

// waitReady polls base/readyz until it answers 200 (at most 60 s).
func (c *circle) waitReady(name, base string) {
	c.t.Helper()
	for i := 0; i < 600; i++ {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("%s at %s was not ready after 60 s\n%s", name, base, c.logs[name])
}

var keyLine = regexp.MustCompile(`(?m)^key: (\S+)$`)

// startCircle starts the clearing house of circle "valley" (unit VAL, 2
// divisions) with communities leaf (LEAF, rate 1) and acorn (ACORN, rate 2),
// limits -1000..1000 VAL, members' default limits -100..1000.
func startCircle(t *testing.T) *circle {
	t.Helper()
	c := &circle{t: t, bin: sxpBinary(t), adminToken: e2eAdminToken, keys: map[string]string{}, logs: map[string]*procLog{}}
	clearingURL, leafURL, acornURL := pgtest.NewDatabase(t), pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	ports := []int{freeLoopbackPort(t), freeLoopbackPort(t), freeLoopbackPort(t)}
	c.clearing = fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	c.leaf = fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	c.acorn = fmt.Sprintf("http://127.0.0.1:%d", ports[2])

	db := []string{"--database", clearingURL}
	c.sxp("", append([]string{"admin", "circle", "init", "valley", "--unit", "VAL", "--divisions", "2", "--name", "Valley circle"}, db...)...)
	for _, com := range []struct{ id, name, uri, rate string }{
		{"leaf", "Leaf Valley", c.leaf, "1"}, {"acorn", "Acorn Hill", c.acorn, "2"},
	} {
		out := c.sxp("", append([]string{"admin", "community", "add", com.id, "--name", com.name, "--uri", com.uri,
			"--rate", com.rate, "--min", "-1000", "--max", "1000", "--secret", e2eSecret}, db...)...)
		m := keyLine.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("community add %s printed no key line:\n%s", com.id, out)
		}
		c.keys[com.id] = m[1]
	}
	c.start("clearing", "clearing", "--listen", fmt.Sprintf("127.0.0.1:%d", ports[0]), "--database", clearingURL,
		"--secret", e2eSecret, "--admin-token", e2eAdminToken, "--public-url", c.clearing)
	c.waitReady("clearing", c.clearing)

	community := func(id, name, cur, rate, base, dbURL string) []string {
		return []string{"--database", dbURL, "--community-id", id, "--community-name", name, "--currency", cur,
			"--public-url", base, "--circle-url", c.clearing, "--circle-id", "valley", "--circle-key", c.keys[id],
			"--rate", rate, "--default-min", "-100", "--default-max", "1000"}
	}
	leafArgs := community("leaf", "Leaf Valley", "LEAF", "1", c.leaf, leafURL)
	acornArgs := community("acorn", "Acorn Hill", "ACORN", "2", c.acorn, acornURL)
	c.start("leaf", append([]string{"community", "--listen", fmt.Sprintf("127.0.0.1:%d", ports[1]), "--handshake-interval", "2s"}, leafArgs...)...)
	c.start("acorn", append([]string{"community", "--listen", fmt.Sprintf("127.0.0.1:%d", ports[2]), "--handshake-interval", "2s"}, acornArgs...)...)
	c.waitReady("leaf", c.leaf)
	c.waitReady("acorn", c.acorn)
	// The community admins, made on the command line as an operator would.
	c.sxp(e2ePassword+"\n", append([]string{"members", "add", "ada", "--password-stdin", "--admin", "--name", "Ada Admin"}, leafArgs...)...)

	var err error
	ctx := context.Background()
	for _, p := range []struct {
		pool **pgxpool.Pool
		url  string
	}{{&c.clearingDB, clearingURL}, {&c.leafDB, leafURL}, {&c.acornDB, acornURL}} {
		if *p.pool, err = pgxpool.New(ctx, p.url); err != nil {
			t.Fatal(err)
		}
		t.Cleanup((*p.pool).Close)
	}
	return c
}

// api sends a JSON request to a community server's API and decodes the answer.
func (c *circle) api(base, method, path, token string, body any) (int, map[string]any) {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			c.t.Fatalf("%s %s: answer is not JSON (%d): %s", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, out
}

// member registers username on base (open registration) and logs in.
func (c *circle) member(base, username string) string {
	c.t.Helper()
	if st, out := c.api(base, "POST", "/api/v1/members", "", map[string]string{
		"username": username, "password": e2ePassword, "display_name": strings.ToUpper(username[:1]) + username[1:]}); st/100 != 2 {
		c.t.Fatalf("register %s: %d %v", username, st, out)
	}
	return c.login(base, username)
}

func (c *circle) login(base, username string) string {
	c.t.Helper()
	st, out := c.api(base, "POST", "/api/v1/session", "", map[string]string{"username": username, "password": e2ePassword})
	tok, _ := out["token"].(string)
	if st/100 != 2 || tok == "" {
		c.t.Fatalf("log in %s: %d %v", username, st, out)
	}
	return tok
}

// pay sends a payment and returns the HTTP status and answer.
func (c *circle) pay(base, token, to, amount, key string) (int, map[string]any) {
	c.t.Helper()
	return c.api(base, "POST", "/api/v1/payments", token, map[string]string{
		"to": to, "amount": amount, "description": "e2e " + key, "idempotency_key": key})
}

// scrape reads base/metrics and returns the raw text and its families.
func (c *circle) scrape(base string) (string, map[string]*dto.MetricFamily) {
	c.t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("GET %s/metrics: %d\n%s", base, resp.StatusCode, raw)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		c.t.Fatalf("GET %s/metrics: not the text format: %v", base, err)
	}
	return string(raw), fams
}

// value is the sum of the series of family name whose labels include want;
// histograms and summaries count their observations.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f, ok := fams[name]
	if !ok {
		return 0
	}
	var sum float64
	for _, m := range f.Metric {
		match := true
		for k, v := range want {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
				}
			}
			match = match && found
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			sum += m.Untyped.GetValue()
		}
	}
	return sum
}

// eventually polls cond every 100 ms for at most limit; it reports whether
// cond became true. Waiting is for background work (handshakes, relays)
// to happen, never an assertion on timing.
func eventually(limit time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}
