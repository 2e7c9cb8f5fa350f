package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/sxp-network/sxp/migrations/pgtest"
)

// sxp clearing refuses to start, saying why, when it could not serve.
func TestClearingRefusesToStart(t *testing.T) {
	migrated := pgtest.NewDatabase(t)
	empty := pgtest.NewEmptyDatabase(t)
	t.Setenv("SXP_ADMIN_TOKEN", "")
	t.Setenv("DATABASE_URL", "")
	sxp := func(secret string, args ...string) (int, string) {
		t.Helper()
		t.Setenv("SXP_CLEARING_SECRET", secret)
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		return code, stderr.String()
	}
	if code, out := sxp("right", "admin", "circle", "init", "valley", "--unit", "HOUR", "--database", migrated); code != 0 {
		t.Fatalf("circle init: %d %s", code, out)
	}
	if code, out := sxp("right", "admin", "community", "add", "leaf", "--name", "Leaf", "--uri", "http://127.0.0.1:9/leaf",
		"--rate", "1", "--min", "-1", "--max", "1", "--database", migrated); code != 0 {
		t.Fatalf("community add: %d %s", code, out)
	}
	tests := []struct {
		name   string
		secret string
		db     string
		code   int
		want   string
		not    string
	}{
		{"no database setting", "right", "", 2, "set DATABASE_URL or --database", ""},
		{"no secret", "", migrated, 2, "set SXP_CLEARING_SECRET", ""},
		{"database unreachable", "right", "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=5", 1, "database: ", "migrate up"},
		{"not migrated", "right", empty, 1, "no schema: run sxp migrate up", ""},
		{"wrong secret", "wrong", migrated, 1, "the secret does not open the stored keys", ""},
	}
	for _, tt := range tests {
		args := []string{"clearing", "--listen", "127.0.0.1:0"}
		if tt.db != "" {
			args = append(args, "--database", tt.db)
		}
		code, out := sxp(tt.secret, args...)
		if code != tt.code || !strings.Contains(out, tt.want) || (tt.not != "" && strings.Contains(out, tt.not)) {
			t.Errorf("%s: got exit %d, %q; want exit %d with %q", tt.name, code, out, tt.code, tt.want)
		}
	}
}
