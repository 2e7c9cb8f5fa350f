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
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sxp-network/sxp/cmd/sxp/sxptest"
	"github.com/sxp-network/sxp/migrations/pgtest"
	"github.com/sxp-network/sxp/server/client"
)

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
	procs      []*sxptest.Process // the clearing house, leaf, acorn
}

const (
	e2eSecret     = "e2e clearing secret"
	e2eAdminToken = "e2e-admin-token-0123456789"
	e2ePassword   = "correct horse battery staple"
)

// sxp runs the binary to completion with stdin and returns its stdout.
func (c *circle) sxp(stdin string, args ...string) string {
	c.t.Helper()
	return sxptest.RunInput(c.t, c.bin, sxptest.WithoutSettings(), stdin, args...)
}

// startSXP runs the server `sxp args...` until the test ends, with no SXP_
// or DATABASE_URL variable leaking in from the test's own environment; name
// labels its output, shown when the test fails.
func startSXP(t *testing.T, bin, name string, args ...string) *sxptest.Process {
	t.Helper()
	p := sxptest.Start(t, bin, args, sxptest.WithoutSettings())
	p.Name = name
	return p
}

// readyWithin is how long a server gets to answer /readyz after it starts.
const readyWithin = 60 * time.Second

// startCircle starts the clearing house of circle "valley" (unit VAL, 2
// divisions) with communities leaf (LEAF, rate 1) and acorn (ACORN, rate 2),
// limits -1000..1000 VAL, members' default limits -100..1000.
func startCircle(t *testing.T) *circle {
	t.Helper()
	c := &circle{t: t, bin: sxptest.BuildSXP(t), adminToken: e2eAdminToken, keys: map[string]string{}}
	clearingURL, leafURL, acornURL := pgtest.NewDatabase(t), pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	ports := sxptest.FreePorts(t, 3)
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
		c.keys[com.id] = sxptest.KeyLine(t, out)
	}
	clearing := startSXP(t, c.bin, "clearing", "clearing", "--listen", fmt.Sprintf("127.0.0.1:%d", ports[0]), "--database", clearingURL,
		"--secret", e2eSecret, "--admin-token", e2eAdminToken, "--public-url", c.clearing)
	clearing.WaitReady(c.clearing+"/readyz", readyWithin)

	community := func(id, name, cur, rate, base, dbURL string) []string {
		return []string{"--database", dbURL, "--community-id", id, "--community-name", name, "--currency", cur,
			"--public-url", base, "--circle-url", c.clearing, "--circle-id", "valley", "--circle-key", c.keys[id],
			"--rate", rate, "--default-min", "-100", "--default-max", "1000"}
	}
	leafArgs := community("leaf", "Leaf Valley", "LEAF", "1", c.leaf, leafURL)
	acornArgs := community("acorn", "Acorn Hill", "ACORN", "2", c.acorn, acornURL)
	leaf := startSXP(t, c.bin, "leaf", append([]string{"community", "--listen", fmt.Sprintf("127.0.0.1:%d", ports[1]), "--handshake-interval", "2s"}, leafArgs...)...)
	acorn := startSXP(t, c.bin, "acorn", append([]string{"community", "--listen", fmt.Sprintf("127.0.0.1:%d", ports[2]), "--handshake-interval", "2s"}, acornArgs...)...)
	leaf.WaitReady(c.leaf+"/readyz", readyWithin)
	acorn.WaitReady(c.acorn+"/readyz", readyWithin)
	c.procs = []*sxptest.Process{clearing, leaf, acorn}
	// The two communities peer (federation), as deploy/run does; each then
	// exports its per-peer federation metrics.
	c.sxp("", append([]string{"peers", "add", c.acorn}, leafArgs...)...)
	c.sxp("", append([]string{"peers", "add", c.leaf}, acornArgs...)...)
	for _, s := range []struct{ base, peer string }{{c.leaf, c.acorn}, {c.acorn, c.leaf}} {
		want := fmt.Sprintf("sxp_federation_peer_failing{peer=%q} 0", s.peer)
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			_, text := getText(t, s.base+"/metrics")
			if strings.Contains(text, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s/metrics has no %s after peering", s.base, want)
			}
		}
	}
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
	return apiJSON(c.t, base, method, path, token, body)
}

// apiJSON sends a JSON request to base+path (with a bearer token unless
// empty) and decodes the JSON answer, if any.
func apiJSON(t *testing.T, base, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: answer is not JSON (%d): %s", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, out
}

// member registers username on base (open registration) and logs in,
// through the community API's Go client.
func (c *circle) member(base, username string) string {
	c.t.Helper()
	if _, err := client.New(base).Register(context.Background(), username, e2ePassword,
		strings.ToUpper(username[:1])+username[1:]); err != nil {
		c.t.Fatalf("register %s: %v", username, err)
	}
	return c.login(base, username)
}

func (c *circle) login(base, username string) string {
	c.t.Helper()
	return login(c.t, base, username, e2ePassword)
}

// login opens a session for username on base and returns its token.
func login(t *testing.T, base, username, password string) string {
	t.Helper()
	s, err := client.New(base).Login(context.Background(), username, password)
	if err != nil {
		t.Fatalf("log in %s: %v", username, err)
	}
	return s.Token
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
