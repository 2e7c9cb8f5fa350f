package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/sxp-network/sxp/migrations/pgtest"
)

// The bootstrap commands exactly as the design writes them, and a wrong
// SXP_CLEARING_SECRET refused before it seals a key the server cannot open.
func TestAdminBootstrapAndWrongSecret(t *testing.T) {
	db := pgtest.NewDatabase(t)
	sxp := func(secret string, args ...string) (int, string, string) {
		t.Helper()
		t.Setenv("SXP_CLEARING_SECRET", secret)
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append(args, "--database", db), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	steps := []struct {
		secret string
		args   []string
		code   int
		out    string // in stdout, or in stderr when code != 0
	}{
		{"right", []string{"admin", "circle", "init", "valley", "--unit", "HOUR", "--divisions", "2"}, 0, "circle valley created (unit HOUR, 2 divisions)\n"},
		{"right", []string{"admin", "circle", "init", "valley", "--unit", "HOUR"}, 0, "circle valley exists already (unit HOUR, 2 divisions)\n"},
		{"right", []string{"admin", "community", "add", "leaf", "--name", "Leaf", "--uri", "http://127.0.0.1:9/leaf", "--rate", "1", "--min", "-100", "--max", "100"}, 0, "\nkey: "},
		{"wrong", []string{"admin", "community", "add", "oak", "--name", "Oak", "--uri", "http://127.0.0.1:9/oak", "--rate", "1", "--min", "-100", "--max", "100"}, 1, "the secret does not open the stored keys"},
		{"wrong", []string{"admin", "key", "rotate", "leaf"}, 1, "the secret does not open the stored keys"},
		{"", []string{"admin", "community", "block", "leaf", "--reason", "late fees"}, 0, "community leaf blocked: late fees\n"},
		{"", []string{"admin", "community", "unblock", "leaf"}, 0, "community leaf is trading\n"},
		{"", []string{"admin", "community", "block", "leaf"}, 2, "--reason is required"},
		{"", []string{"admin", "community", "add", "oak", "--name", "Oak", "--uri", "http://127.0.0.1:9/oak", "--rate", "1", "--min", "-100", "--max", "100"}, 1, "set SXP_CLEARING_SECRET"},
	}
	for _, st := range steps {
		code, stdout, stderr := sxp(st.secret, st.args...)
		got := stdout
		if st.code != 0 {
			got = stderr
		}
		if code != st.code || !strings.Contains(got, st.out) {
			t.Errorf("sxp %s (secret %q): got exit %d, stdout %q, stderr %q; want exit %d with %q",
				strings.Join(st.args, " "), st.secret, code, stdout, stderr, st.code, st.out)
		}
	}
	_, list, _ := sxp("", "admin", "community", "list")
	if !strings.Contains(list, "leaf") || strings.Contains(list, "oak") {
		t.Errorf("community list: got %q, want leaf and no oak", list)
	}
}
