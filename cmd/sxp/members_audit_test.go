package main

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/migrations/pgtest"
)

// TestMembersCommandsAudited: 'sxp members' actions land in the member's
// audit log (the admin pages show it), by cli:<user>; approving a member
// who waits for nothing is refused.
func TestMembersCommandsAudited(t *testing.T) {
	db := pgtest.NewEmptyDatabase(t)
	env := communityTestEnv(db)
	if code, out, errOut := runSXP(t, env, "", "migrate", "up"); code != 0 {
		t.Fatalf("migrate up: exit %d\n%s%s", code, out, errOut)
	}
	runSXP(t, env, "password-alice\n", "members", "add", "alice", "--password-stdin")
	for _, args := range [][]string{
		{"members", "limits", "alice", "--min", "-20", "--max", "300"},
		{"members", "block", "alice"},
		{"members", "unblock", "alice"},
		{"members", "make-admin", "alice"},
	} {
		if code, out, errOut := runSXP(t, env, "", args...); code != 0 {
			t.Fatalf("%v: exit %d %s%s", args, code, out, errOut)
		}
	}
	if code, _, errOut := runSXP(t, env, "", "members", "approve", "alice"); code != 1 || !strings.Contains(errOut, "nothing to approve") {
		t.Fatalf("approve an active member: exit %d %s, want 1", code, errOut)
	}
	pool, err := pgxpool.New(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	rows, err := pool.Query(context.Background(), `SELECT action || ' ' || detail, actor LIKE 'cli%' FROM member_audit WHERE member = 'alice' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var s string
		var cli bool
		if err := rows.Scan(&s, &cli); err != nil || !cli {
			t.Fatalf("audit row %q by the command line: %v %v", s, cli, err)
		}
		got = append(got, strings.TrimSpace(s))
	}
	want := []string{"limits limits -20.00 to 300.00 LEAF", "block", "unblock", "role role admin"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("alice's audit log: got %q, want %q", got, want)
	}
}
