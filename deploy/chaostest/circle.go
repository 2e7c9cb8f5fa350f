package chaostest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one sxp server process, restartable with the same arguments.
type proc struct {
	name    string
	bin     string
	args    []string
	env     []string
	base    string // its own listen URL (the workload calls it directly)
	logPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "\n=== start %s %s\n", time.Now().UTC().Format(time.RFC3339Nano), strings.Join(p.args, " "))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	p.cmd, p.done = cmd, done
	return nil
}

// kill9 is kill -9: no shutdown, no flush.
func (p *proc) kill9() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// stop sends SIGTERM and waits (SIGKILL after 15 s).
func (p *proc) stop() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
	}
}

// waitReady polls /readyz until 200 or limit.
func (p *proc) waitReady(ctx context.Context, limit time.Duration) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.mu.Lock()
		done := p.done
		p.mu.Unlock()
		select {
		case <-done:
			return fmt.Errorf("%s exited before it was ready (see %s)", p.name, p.logPath)
		default:
		}
		if resp, err := hc.Get(p.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("%s not ready within %s (see %s)", p.name, limit, p.logPath)
}

// runSXP runs the binary to completion and returns its output.
func runSXP(bin string, env []string, stdin string, args ...string) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("sxp %s: %v\n%s", strings.Join(args[:min(3, len(args))], " "), err, out)
	}
	return string(out), nil
}

func keyLine(out string) (string, error) {
	for _, l := range strings.Split(out, "\n") {
		if k, ok := strings.CutPrefix(l, "key: "); ok {
			return strings.TrimSpace(k), nil
		}
	}
	return "", fmt.Errorf("no `key: ` line in %q", out)
}

// envWithoutSettings is this process's environment less SXP_ variables
// and DATABASE_URL, so the harness's own settings never leak into a server.
func envWithoutSettings() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SXP_") && !strings.HasPrefix(kv, "DATABASE_URL=") {
			env = append(env, kv)
		}
	}
	return env
}

func logPath(dir, name string) string { return filepath.Join(dir, name+".log") }
