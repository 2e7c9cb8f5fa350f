package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/cmd/sxp/sxptest"
	"github.com/sxp-network/sxp/migrations/pgtest"
)

// communityTestEnv is the environment of a community named leaf on dbURL,
// with nothing inherited that could change its settings.
func communityTestEnv(dbURL string, extra ...string) []string {
	env := append(sxptest.WithoutSettings(), "DATABASE_URL="+dbURL, "SXP_COMMUNITY_ID=leaf", "SXP_COMMUNITY_NAME=Leaf Valley",
		"SXP_CURRENCY=LEAF", "SXP_PUBLIC_URL=http://127.0.0.1:1", "SXP_DEFAULT_MIN=-50", "SXP_DEFAULT_MAX=500")
	return append(env, extra...)
}

func runSXP(t *testing.T, env []string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return sxptest.Exec(t, sxptest.BuildSXP(t), env, stdin, args...)
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
	// sxp members unlock lifts a log-in lock (issue 10): it forgets alice's failures.
	pool, err := pgxpool.New(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(context.Background(), `INSERT INTO member_login_failures (username, ip, at) SELECT 'alice', '203.0.113.9', now() FROM generate_series(1, 5)`); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runSXP(t, env, "", "members", "unlock", "alice"); code != 0 || out != "alice: member, active\n" {
		t.Fatalf("members unlock: exit %d %q %s", code, out, errOut)
	}
	var failures int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM member_login_failures WHERE username = 'alice'`).Scan(&failures); err != nil || failures != 0 {
		t.Fatalf("alice's failures after unlock: got %d (%v), want 0", failures, err)
	}

	addr := fmt.Sprintf("127.0.0.1:%d", sxptest.FreePort(t))
	proc := sxptest.Start(t, sxptest.BuildSXP(t), []string{"community", "--listen", addr, "--registration", "approval"}, env)
	base := "http://" + addr
	proc.WaitReady(base+"/readyz", 20*time.Second)
	call := func(token, method, path, body string) (int, map[string]any) {
		t.Helper()
		var in any
		if body != "" {
			in = json.RawMessage(body)
		}
		return apiJSON(t, base, method, path, token, in)
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

	if err := proc.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-proc.Done():
		if err := proc.Err(); err != nil {
			t.Fatalf("after SIGTERM: %v\n%s", err, proc.Log.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("the server did not stop on SIGTERM:\n%s", proc.Log.String())
	}
	if !strings.Contains(proc.Log.String(), "community server stopped") {
		t.Fatalf("no clean shutdown in the log:\n%s", proc.Log.String())
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
