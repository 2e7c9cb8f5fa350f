package deploytest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sxp-network/sxp/clearing"
	"github.com/sxp-network/sxp/cmd/sxp/sxptest"
)

// runningCircle is deploy/run started by a test.
type runningCircle struct {
	t      *testing.T
	cmd    *exec.Cmd
	out    *sxptest.Log // stdout: URLs and logins
	errOut *sxptest.Log // stderr: progress and errors
	ready  chan struct{}
	done   chan error
}

// ports are the four ports of one deploy/run.
type ports struct{ pg, clearing, leaf, acorn int }

func freePorts(t *testing.T) ports {
	t.Helper()
	ps := sxptest.FreePorts(t, 4)
	return ports{ps[0], ps[1], ps[2], ps[3]}
}

func (p ports) args() []string {
	return []string{"--pg-port", strconv.Itoa(p.pg), "--clearing-port", strconv.Itoa(p.clearing),
		"--leaf-port", strconv.Itoa(p.leaf), "--acorn-port", strconv.Itoa(p.acorn)}
}

// startRun starts deploy/run in its own process group and returns at once.
func startRun(t *testing.T, varDir string, p ports, extra ...string) *runningCircle {
	t.Helper()
	return startRunWith(t, false, varDir, p, extra...)
}

// startRunWith is startRun; with ignoreINT deploy/run starts with SIGINT
// ignored, as a job started in the background of a script does (bash then
// cannot trap it, but the servers, which handle it, still stop on it).
func startRunWith(t *testing.T, ignoreINT bool, varDir string, p ports, extra ...string) *runningCircle {
	t.Helper()
	unignoreSIGINT()
	root := repoRoot(t)
	args := append([]string{"--var", varDir}, p.args()...)
	cmd := exec.Command(filepath.Join(root, "deploy", "run"), append(args, extra...)...)
	if ignoreINT {
		cmd = exec.Command("bash", append([]string{"-c", `trap '' INT; exec "$0" "$@"`, filepath.Join(root, "deploy", "run")}, append(args, extra...)...)...)
	}
	cmd.Dir = root
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	r := &runningCircle{t: t, cmd: cmd, out: &sxptest.Log{}, errOut: &sxptest.Log{}, ready: make(chan struct{}), done: make(chan error, 1)}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = r.errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		once := sync.Once{}
		for sc.Scan() {
			fmt.Fprintln(r.out, sc.Text())
			if strings.HasPrefix(sc.Text(), "Press Ctrl-C") {
				once.Do(func() { close(r.ready) })
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		r.done <- cmd.Wait()
	}()
	return r
}

// waitReady waits for deploy/run's ready banner; it fails the test if
// deploy/run exits first.
func (r *runningCircle) waitReady(limit time.Duration) {
	r.t.Helper()
	select {
	case <-r.ready:
	case err := <-r.done:
		r.t.Fatalf("deploy/run exited before it was ready (%v)\nstderr:\n%s\nstdout:\n%s", err, r.errOut.String(), r.out.String())
	case <-time.After(limit):
		r.stop()
		r.t.Fatalf("deploy/run not ready after %s\nstderr:\n%s\nstdout:\n%s", limit, r.errOut.String(), r.out.String())
	}
}

var sigintOnce sync.Once

// unignoreSIGINT makes sure deploy/run starts with SIGINT handled: a shell
// cannot trap a signal that was ignored when it started, and children inherit
// an ignored SIGINT (as when the tests run in the background). Notify installs
// a handler instead, which exec resets to the default in the child. This
// process ignored SIGINT before, and still does nothing with it.
func unignoreSIGINT() {
	sigintOnce.Do(func() {
		if signal.Ignored(os.Interrupt) {
			signal.Notify(make(chan os.Signal, 1), os.Interrupt)
		}
	})
}

// stop sends SIGINT, as Ctrl-C would, and waits for deploy/run to exit.
func (r *runningCircle) stop() error {
	r.t.Helper()
	if err := r.cmd.Process.Signal(os.Interrupt); err != nil {
		return err
	}
	select {
	case err := <-r.done:
		return err
	case <-time.After(2 * time.Minute):
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		return errors.New("deploy/run did not stop within 2 minutes of SIGINT")
	}
}

// stopGroup sends SIGINT to deploy/run's whole process group, as Ctrl-C in
// a terminal does, and waits for deploy/run to exit.
func (r *runningCircle) stopGroup() error {
	r.t.Helper()
	if err := syscall.Kill(-r.cmd.Process.Pid, syscall.SIGINT); err != nil {
		return err
	}
	select {
	case err := <-r.done:
		return err
	case <-time.After(2 * time.Minute):
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		return errors.New("deploy/run did not stop within 2 minutes of SIGINT")
	}
}

var loginLine = regexp.MustCompile(`(?m)^\s+([a-z0-9_-]+)@([a-z0-9_-]+)\s+password:\s+(\S+)`)

func parseLogins(out string) map[string]string {
	logins := map[string]string{}
	for _, m := range loginLine.FindAllStringSubmatch(out, -1) {
		logins[m[1]+"@"+m[2]] = m[3]
	}
	return logins
}

// api calls a community server's JSON API.
func api(t *testing.T, method, url, token string, in, out any) int {
	t.Helper()
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: answer %s: %v", method, url, raw, err)
		}
	}
	if resp.StatusCode/100 != 2 {
		t.Logf("%s %s: HTTP %d: %s", method, url, resp.StatusCode, raw)
	}
	return resp.StatusCode
}

func login(t *testing.T, base, user, password string) string {
	t.Helper()
	var s struct {
		Token string `json:"token"`
	}
	if code := api(t, http.MethodPost, base+"/api/v1/session", "", map[string]string{"username": user, "password": password}, &s); code != http.StatusOK && code != http.StatusCreated {
		t.Fatalf("log in %s at %s: HTTP %d", user, base, code)
	}
	if s.Token == "" {
		t.Fatalf("log in %s at %s: no token", user, base)
	}
	return s.Token
}

// balance returns the member's balance in minor units (two decimals).
func balance(t *testing.T, base, token string) int64 {
	t.Helper()
	var a struct {
		Balance  string `json:"balance"`
		Currency string `json:"currency"`
	}
	if code := api(t, http.MethodGet, base+"/api/v1/me/account", token, nil, &a); code != http.StatusOK {
		t.Fatalf("GET %s/api/v1/me/account: HTTP %d", base, code)
	}
	v, err := clearing.ParseAmount(a.Balance, 2)
	if err != nil {
		t.Fatalf("balance %q: %v", a.Balance, err)
	}
	return v
}

func portOpen(port int) bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// processesInGroup lists the processes still in process group pgid.
func processesInGroup(t *testing.T, pgid int) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if g, err := syscall.Getpgid(pid); err == nil && g == pgid {
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			left = append(left, fmt.Sprintf("%d %s", pid, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
		}
	}
	return left
}

// checkStopped checks that deploy/run left nothing running: no process of
// its group, no listening port, no running PostgreSQL cluster.
func checkStopped(t *testing.T, r *runningCircle, varDir string, p ports) {
	t.Helper()
	if left := processesInGroup(t, r.cmd.Process.Pid); len(left) > 0 {
		t.Errorf("processes left running after SIGINT: %v", left)
	}
	for name, port := range map[string]int{"PostgreSQL": p.pg, "clearing": p.clearing, "leaf": p.leaf, "acorn": p.acorn} {
		if portOpen(port) {
			t.Errorf("%s port %d still open after SIGINT", name, port)
		}
	}
	if _, err := os.Stat(filepath.Join(varDir, "pg", "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("PostgreSQL cluster still running after SIGINT: postmaster.pid: %v", err)
	}
}

// TestDeployRun is the newcomer's path: deploy/run brings up a circle with
// demo data, a member pays a member of the other community through the
// circle, Ctrl-C stops everything, and a second run keeps the data.
func TestDeployRun(t *testing.T) {
	t.Parallel()
	varDir, err := os.MkdirTemp("", "sxp-run-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(varDir) })
	// The cluster runs as an unprivileged user when the tests run as root.
	if err := os.Chmod(varDir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := freePorts(t)
	leaf := fmt.Sprintf("http://127.0.0.1:%d", p.leaf)
	acorn := fmt.Sprintf("http://127.0.0.1:%d", p.acorn)

	// First run: builds, migrates, joins the circle, seeds.
	r := startRun(t, varDir, p)
	t.Cleanup(func() { _ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL) })
	r.waitReady(5 * time.Minute)
	logins := parseLogins(r.out.String())
	for _, u := range []string{"alice@leaf", "bob@leaf", "carol@leaf", "dmitri@acorn", "erin@acorn", "femi@acorn"} {
		if logins[u] == "" {
			t.Errorf("no demo login for %s in deploy/run's output:\n%s", u, r.out.String())
		}
	}
	for _, u := range []string{fmt.Sprintf("http://127.0.0.1:%d/", p.clearing), leaf + "/", acorn + "/"} {
		if !strings.Contains(r.out.String(), u) {
			t.Errorf("deploy/run's output does not show %s", u)
		}
	}
	if t.Failed() {
		r.stop()
		t.FailNow()
	}
	keyInfo, err := os.Stat(filepath.Join(varDir, "keys", "leaf.key"))
	if err != nil {
		t.Fatal(err)
	}
	if perm := keyInfo.Mode().Perm(); perm != 0o600 {
		t.Errorf("keys/leaf.key has mode %o, want 600", perm)
	}
	leafKey, _ := os.ReadFile(filepath.Join(varDir, "keys", "leaf.key"))
	adminToken, err := os.ReadFile(filepath.Join(varDir, "keys", "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.out.String(), "token: "+strings.TrimSpace(string(adminToken))) {
		t.Errorf("deploy/run's output does not show the circle admin token")
	}
	if code := api(t, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/admin/api/circle", p.clearing), strings.TrimSpace(string(adminToken)), nil, nil); code != http.StatusOK {
		t.Errorf("circle admin API with the printed token: HTTP %d, want 200", code)
	}

	// An intertrade: 10.00 LEAF (rate 1) from carol@leaf is 10 base units,
	// which are 5.00 ACORN (rate 2) for dmitri@acorn.
	carol := login(t, leaf, "carol", logins["carol@leaf"])
	dmitri := login(t, acorn, "dmitri", logins["dmitri@acorn"])
	// The demo's announcements are there and searchable.
	var found struct {
		Announcements []struct {
			Title  string `json:"title"`
			Author string `json:"author"`
			Price  string `json:"price"`
		} `json:"announcements"`
	}
	if code := api(t, http.MethodGet, leaf+"/api/v1/announcements?q=sourdough&kind=offer", carol, nil, &found); code != http.StatusOK {
		t.Errorf("search announcements: HTTP %d", code)
	}
	if len(found.Announcements) != 1 || found.Announcements[0].Title != "Sourdough bread" || found.Announcements[0].Author != "bob" || found.Announcements[0].Price != "4.50" {
		t.Errorf("search for sourdough offers: got %+v, want bob's \"Sourdough bread\" at 4.50", found.Announcements)
	}
	// The two communities peer: Acorn Hill finds Leaf Valley's bread, marked with its origin.
	var remote struct {
		Announcements []struct {
			Title  string `json:"title"`
			Author string `json:"author"`
			Origin *struct {
				ID string `json:"id"`
			} `json:"origin"`
		} `json:"announcements"`
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if code := api(t, http.MethodGet, acorn+"/api/v1/announcements?q=sourdough", dmitri, nil, &remote); code != http.StatusOK {
			t.Fatalf("search on acorn: HTTP %d", code)
		}
		if len(remote.Announcements) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(remote.Announcements) != 1 || remote.Announcements[0].Author != "bob@leaf" || remote.Announcements[0].Origin == nil || remote.Announcements[0].Origin.ID != "leaf" {
		t.Errorf("search for sourdough on acorn: got %+v, want bob@leaf's bread from leaf", remote.Announcements)
	}
	carolBefore, dmitriBefore := balance(t, leaf, carol), balance(t, acorn, dmitri)
	// After the demo: carol paid bob 4.50, got 8.00 from alice and paid femi@acorn
	// 8.00; dmitri got 10.00 from erin and paid femi 6.00.
	if carolBefore != -450 || dmitriBefore != 400 {
		t.Errorf("balances after the demo: carol@leaf %d, dmitri@acorn %d; want -450 and 400 (minor units)", carolBefore, dmitriBefore)
	}
	code := api(t, http.MethodPost, leaf+"/api/v1/payments", carol, map[string]string{
		"to": "dmitri@acorn", "amount": "10.00", "description": "deploy/run test", "idempotency_key": "deploy-run-test-1",
	}, nil)
	if code != http.StatusOK && code != http.StatusCreated {
		t.Errorf("intertrade carol@leaf -> dmitri@acorn: HTTP %d, want 200 or 201", code)
	}
	if got, want := balance(t, leaf, carol), carolBefore-1000; got != want {
		t.Errorf("carol@leaf balance after paying 10.00 LEAF: got %d, want %d (minor units)", got, want)
	}
	var dmitriAfter int64
	for range 50 { // the relay to acorn completes before the payment is answered; allow for a slower one
		if dmitriAfter = balance(t, acorn, dmitri); dmitriAfter != dmitriBefore {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if want := dmitriBefore + 500; dmitriAfter != want {
		t.Errorf("dmitri@acorn balance after receiving 10.00 LEAF: got %d, want %d (5.00 ACORN)", dmitriAfter, want)
	}
	carolAfter := balance(t, leaf, carol)

	if err := r.stop(); err != nil {
		t.Errorf("deploy/run after SIGINT: %v\nstderr:\n%s", err, r.errOut.String())
	}
	checkStopped(t, r, varDir, p)
	if t.Failed() {
		t.Logf("deploy/run stderr:\n%s", r.errOut.String())
		t.FailNow()
	}

	// Second run: same data, same keys, same logins, no reseeding.
	r2 := startRunWith(t, true, varDir, p)
	t.Cleanup(func() { _ = syscall.Kill(-r2.cmd.Process.Pid, syscall.SIGKILL) })
	r2.waitReady(3 * time.Minute)
	if !strings.Contains(r2.errOut.String(), "Demo data: kept from the first run") {
		t.Errorf("second run seeded again; stderr:\n%s", r2.errOut.String())
	}
	if got := parseLogins(r2.out.String()); got["carol@leaf"] != logins["carol@leaf"] {
		t.Errorf("second run shows carol@leaf's password %q, want the first run's %q", got["carol@leaf"], logins["carol@leaf"])
	}
	if k, _ := os.ReadFile(filepath.Join(varDir, "keys", "leaf.key")); !bytes.Equal(k, leafKey) {
		t.Errorf("second run changed leaf's circle key")
	}
	carol = login(t, leaf, "carol", logins["carol@leaf"])
	if got := balance(t, leaf, carol); got != carolAfter {
		t.Errorf("carol@leaf balance on the second run: got %d, want %d", got, carolAfter)
	}
	// SIGINT to the whole process group (Ctrl-C in a terminal, or kill -INT
	// -PGID for a run started in a script's background, where deploy/run
	// itself ignores SIGINT): the servers stop cleanly on their own, and
	// deploy/run must stop the rest without calling that a crash.
	if err := r2.stopGroup(); err != nil {
		t.Errorf("second deploy/run after SIGINT to its process group: %v\nstderr:\n%s", err, r2.errOut.String())
	}
	if out := r2.errOut.String(); strings.Contains(out, "unexpectedly") || strings.Contains(out, "error:") {
		t.Errorf("deploy/run after Ctrl-C to its process group reported an error; stderr:\n%s", out)
	}
	checkStopped(t, r2, varDir, p)
}

// TestDeployRunBusyPort: a busy port stops deploy/run at once with a message
// naming the port and the option that changes it.
func TestDeployRunBusyPort(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	p := freePorts(t)
	p.clearing = busy
	varDir := t.TempDir()
	r := startRun(t, varDir, p)
	select {
	case err := <-r.done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("deploy/run with a busy port: %v, want exit status 1", err)
		}
	case <-time.After(2 * time.Minute):
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		t.Fatal("deploy/run did not stop on a busy port")
	}
	want := fmt.Sprintf("port %d (the clearing house) is busy", busy)
	if !strings.Contains(r.errOut.String(), want) || !strings.Contains(r.errOut.String(), "--clearing-port") {
		t.Errorf("stderr does not say %q and name --clearing-port:\n%s", want, r.errOut.String())
	}
}
