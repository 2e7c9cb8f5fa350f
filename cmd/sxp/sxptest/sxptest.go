// Package sxptest runs the real sxp binary in end-to-end tests: build it
// once, pick free loopback ports, run commands to completion, and start
// servers that are stopped when the test ends (their output is shown when
// the test fails).
//
// It sits next to the command it runs. Only tests import it; as a test
// helper it may import any package of the module that does not import it
// back (today it imports none), and end-to-end tests anywhere
// (clearing, deploy/...) use it.
package sxptest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var built struct {
	once sync.Once
	path string
	err  error
}

// BuildSXP builds github.com/sxp-network/sxp/cmd/sxp once per test binary
// into a temporary directory and returns its path.
func BuildSXP(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "sxp-test-bin-")
		if err != nil {
			built.err = err
			return
		}
		built.path = filepath.Join(dir, "sxp")
		out, err := exec.Command("go", "build", "-o", built.path, "github.com/sxp-network/sxp/cmd/sxp").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build ./cmd/sxp: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// FreePorts returns n distinct free loopback ports (all held open until
// every one is chosen, so none repeats).
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// FreePort returns a free loopback port.
func FreePort(t testing.TB) int {
	t.Helper()
	return FreePorts(t, 1)[0]
}

// Log is a process's output, safe to read while it is written.
type Log struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Exec runs bin to completion with env (nil: this process's environment)
// and stdin, and returns its exit code and output. It fails the test only
// when bin cannot run at all.
func Exec(t testing.TB, bin string, env []string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), out.String(), errb.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errb.String()
}

// RunInput runs bin to completion with stdin and returns its stdout; it
// fails the test, showing both outputs, when bin exits non-zero.
func RunInput(t testing.TB, bin string, env []string, stdin string, args ...string) string {
	t.Helper()
	code, out, errOut := Exec(t, bin, env, stdin, args...)
	if code != 0 {
		t.Fatalf("sxp %s: exit status %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// Run is RunInput with no input.
func Run(t testing.TB, bin string, env []string, args ...string) string {
	t.Helper()
	return RunInput(t, bin, env, "", args...)
}

// KeyLine returns the value of the first `key: ` line of out.
func KeyLine(t testing.TB, out string) string {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if k, ok := strings.CutPrefix(sc.Text(), "key: "); ok {
			return k
		}
	}
	t.Fatalf("no `key: ` line in %q", out)
	return ""
}

// WithoutSettings is this process's environment less every SXP_ variable
// and DATABASE_URL, so the test's own settings cannot leak into a process.
func WithoutSettings() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SXP_") && !strings.HasPrefix(kv, "DATABASE_URL=") {
			env = append(env, kv)
		}
	}
	return env
}

// Process is a server started by Start.
type Process struct {
	t    testing.TB
	Name string // in messages; "sxp " and the first argument unless set
	Cmd  *exec.Cmd
	Log  *Log // stdout and stderr
	done chan struct{}
	err  error
	stop sync.Once
}

// Start runs bin with args and env (nil: this process's environment) until
// Stop or the end of the test; when the test failed, the process's output
// is logged then.
func Start(t testing.TB, bin string, args, env []string) *Process {
	t.Helper()
	p := &Process{t: t, Name: strings.TrimSpace("sxp " + strings.Join(args[:min(1, len(args))], "")), Log: &Log{}, done: make(chan struct{})}
	p.Cmd = exec.Command(bin, args...)
	p.Cmd.Env = env
	p.Cmd.Stdout, p.Cmd.Stderr = p.Log, p.Log
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.Name, err)
	}
	go func() { p.err = p.Cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("--- %s output ---\n%s", p.Name, p.Log.String())
		}
	})
	return p
}

// Done is closed when the process has exited; Err then tells how.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the process's exit error once Done is closed.
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// Stop sends SIGTERM and waits for the process to exit (killing it after
// 15 s); calling it again does nothing.
func (p *Process) Stop() {
	p.stop.Do(func() {
		select {
		case <-p.done:
			return
		default:
		}
		p.Cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			p.Cmd.Process.Kill()
			<-p.done
		}
	})
}

// WaitReady polls url until it answers 200 and fails the test if the
// process exits first or timeout passes (waiting for a start, not a timing
// assertion).
func (p *Process) WaitReady(url string, timeout time.Duration) {
	p.t.Helper()
	if err := waitReady(url, timeout, p.done); err != nil {
		p.t.Fatalf("%s: %v\n%s", p.Name, err, p.Log.String())
	}
}

// WaitReady polls url until it answers 200 and fails the test after timeout.
func WaitReady(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	if err := waitReady(url, timeout, nil); err != nil {
		t.Fatal(err)
	}
}

func waitReady(url string, timeout time.Duration, exited <-chan struct{}) error {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		select {
		case <-exited:
			return fmt.Errorf("exited before %s was ready", url)
		default:
		}
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("%s not ready within %s", url, timeout)
}
