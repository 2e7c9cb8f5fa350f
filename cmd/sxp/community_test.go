package main

import (
	"bytes"
	"context"
	"encoding/json"
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

	"github.com/sxp-network/sxp/migrations/pgtest"
)

var communityBin struct {
	once sync.Once
	path string
	err  error
}

// communityTestBinary builds sxp once for these tests.
func communityTestBinary(t *testing.T) string {
	t.Helper()
	communityBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "sxp-community-bin-")
		if err != nil {
			communityBin.err = err
			return
		}
		communityBin.path = filepath.Join(dir, "sxp")
		if out, err := exec.Command("go", "build", "-o", communityBin.path, ".").CombinedOutput(); err != nil {
			communityBin.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if communityBin.err != nil {
		t.Fatal(communityBin.err)
	}
	return communityBin.path
}

// communityTestEnv is the environment of a community named leaf on dbURL,
// with nothing inherited that could change its settings.
func communityTestEnv(dbURL string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SXP_") && !strings.HasPrefix(kv, "DATABASE_URL=") {
			env = append(env, kv)
		}
	}
	env = append(env, "DATABASE_URL="+dbURL, "SXP_COMMUNITY_ID=leaf", "SXP_COMMUNITY_NAME=Leaf Valley",
		"SXP_CURRENCY=LEAF", "SXP_PUBLIC_URL=http://127.0.0.1:1", "SXP_DEFAULT_MIN=-50", "SXP_DEFAULT_MAX=500")
	return append(env, extra...)
}

func runSXP(t *testing.T, env []string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(communityTestBinary(t), args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errb.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errb.String()
}

// TestCommunityBinary runs the real binary: migrate, create the first
// admin with 'sxp members', serve, use the API, stop with SIGTERM.
func TestCommunityBinary(t *testing.T) {
	db := pgtest.NewEmptyDatabase(t)
	env := communityTestEnv(db)
	if code, out, errOut := runSXP(t, env, "", "migrate", "up"); code != 0 {
		t.Fatalf("migrate up: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := runSXP(t, env, "a long admin password\n", "members", "add", "root", "--password-stdin", "--admin", "--name", "The Admin")
	if code != 0 || out != "added root (admin, active)\n" {
		t.Fatalf("members add: exit %d %q %s", code, out, errOut)
	}
	if code, _, errOut := runSXP(t, env, "", "members", "add", "bob"); code != 2 || !strings.Contains(errOut, "--password-stdin") {
		t.Fatalf("members add without a password: exit %d %s, want 2", code, errOut)
	}
	runSXP(t, env, "password-alice\n", "members", "add", "alice", "--password-stdin")
	if code, out, _ := runSXP(t, env, "", "members", "limits", "alice", "--min", "-75.5", "--max", "600"); code != 0 || out != "alice: limits -75.50 to 600.00 LEAF (balance 0.00)\n" {
		t.Fatalf("members limits: exit %d %q", code, out)
	}
	if code, _, errOut := runSXP(t, env, "", "members", "limits", "alice", "--min", "-1.001", "--max", "1"); code != 2 || !strings.Contains(errOut, "--min") {
		t.Fatalf("bad limits: exit %d %s, want 2 naming --min", code, errOut)
	}
	if code, _, errOut := runSXP(t, env, "", "members", "list", "--currency", "ACORN"); code != 1 || !strings.Contains(errOut, "SXP_CURRENCY") || !strings.Contains(errOut, "in LEAF, not ACORN") {
		t.Fatalf("members list in another currency: exit %d %s, want 1 naming SXP_CURRENCY", code, errOut)
	}
	if code, _, errOut := runSXP(t, env, "", "members", "block", "zed"); code != 1 || !strings.Contains(errOut, "no member") {
		t.Fatalf("block unknown: exit %d %s, want 1", code, errOut)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(communityTestBinary(t), "community", "--listen", addr, "--registration", "approval")
	cmd.Env = env
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})
	base := "http://" + addr
	ready := false
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				ready = true
				break
			}
		}
	}
	if !ready {
		t.Fatalf("the community server did not get ready:\n%s", logs.String())
	}
	call := func(token, method, path, body string) (int, map[string]any) {
		req, _ := http.NewRequestWithContext(context.Background(), method, base+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	st, body := call("", "POST", "/api/v1/session", `{"username":"root","password":"a long admin password"}`)
	if st != 201 {
		t.Fatalf("login root: got %d %v", st, body)
	}
	root := body["token"].(string)
	// --registration approval (the flag beats the environment's default).
	if st, body = call("", "POST", "/api/v1/members", `{"username":"carol","password":"password-carol"}`); st != 201 || body["status"] != "pending" {
		t.Fatalf("register: got %d %v, want pending", st, body)
	}
	if st, body = call(root, "POST", "/api/v1/admin/members/carol/approve", ""); st != 200 || body["status"] != "active" {
		t.Fatalf("approve: got %d %v", st, body)
	}
	_, body = call("", "POST", "/api/v1/session", `{"username":"alice","password":"password-alice"}`)
	alice, _ := body["token"].(string)
	if st, body = call(alice, "POST", "/api/v1/payments", `{"to":"carol","amount":"75.50","idempotency_key":"b1"}`); st != 201 || body["balance"] != "-75.50" {
		t.Fatalf("pay: got %d %v", st, body)
	}
	if st, body = call(alice, "POST", "/api/v1/payments", `{"to":"carol","amount":"0.01"}`); st != 422 {
		t.Fatalf("pay over the limit: got %d %v, want 422", st, body)
	}
	if st, body = call(alice, "GET", "/api/v1/me/account", ""); st != 200 || body["balance"] != "-75.50" || body["min"] != "-75.50" || body["max"] != "600.00" {
		t.Fatalf("account: got %d %v", st, body)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("the server did not stop on SIGTERM:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "community server stopped") {
		t.Fatalf("no clean shutdown in the log:\n%s", logs.String())
	}
	if code, out, _ := runSXP(t, env, "", "members", "list"); code != 0 || !strings.Contains(out, "alice") || !strings.Contains(out, "-75.50") {
		t.Fatalf("members list: exit %d\n%s", code, out)
	}
}

// TestCommunitySettings checks that a bad setting stops the server at
// start with a message naming it.
func TestCommunitySettings(t *testing.T) {
	db := "postgres://nobody@127.0.0.1:1/none"
	tests := []struct {
		name  string
		extra []string
		args  []string
		want  string
	}{
		{"registration", []string{"SXP_REGISTRATION=closed"}, nil, "SXP_REGISTRATION"},
		{"currency", []string{"SXP_CURRENCY=leaf"}, nil, "SXP_CURRENCY"},
		{"divisions", []string{"SXP_CURRENCY_DIVISIONS=two"}, nil, "SXP_CURRENCY_DIVISIONS"},
		{"default min", []string{"SXP_DEFAULT_MIN=10"}, nil, "SXP_DEFAULT_MIN"},
		{"default max flag", nil, []string{"--default-max", "1.234"}, "SXP_DEFAULT_MAX"},
		{"public url", []string{"SXP_PUBLIC_URL=leaf.example"}, nil, "SXP_PUBLIC_URL"},
		{"half a circle", []string{"SXP_CIRCLE_URL=http://127.0.0.1:8080"}, nil, "SXP_CIRCLE_ID"},
		{"rate", []string{"SXP_CIRCLE_URL=http://127.0.0.1:8080", "SXP_CIRCLE_ID=c", "SXP_CIRCLE_KEY=k", "SXP_RATE=-1"}, nil, "SXP_RATE"},
		{"community id", nil, []string{"--community-id", "Leaf!"}, "SXP_COMMUNITY_ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runSXP(t, communityTestEnv(db, tt.extra...), "", append([]string{"community", "--listen", "127.0.0.1:0"}, tt.args...)...)
			if code != 2 || !strings.Contains(errOut, tt.want) {
				t.Fatalf("got exit %d %q, want 2 naming %s", code, errOut, tt.want)
			}
		})
	}
}
