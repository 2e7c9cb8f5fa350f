package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// sxp cxp checks its own flags before it sends anything: a missing or
// malformed amount is a usage error (exit 2) that names the flag.
func TestCXPCommandUsage(t *testing.T) {
	t.Setenv("SXP_CIRCLE_URL", "")
	t.Setenv("SXP_COMMUNITY_ID", "")
	t.Setenv("SXP_CIRCLE_KEY", "")
	// Nothing listens on port 1: a request that got through would fail with exit 1.
	conn := []string{"--url", "http://127.0.0.1:1", "--id", "leaf", "--key", "k"}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"cxp", "handshake", "--uri", "http://a", "--mail", "a@b"}, "--ticks is required"},
		{[]string{"cxp", "handshake", "--uri", "http://a", "--mail", "a@b", "--ticks", "one"}, "--ticks: not a number"},
		{[]string{"cxp", "try", "--src", "http://a", "--dest", "http://b", "--payer", "x", "--payee", "y"}, "--quantity is required"},
		{[]string{"cxp", "try", "--src", "http://a", "--dest", "http://b", "--payer", "x", "--payee", "y", "--quantity", "1,5"}, "--quantity: not a number"},
		{[]string{"cxp", "prepare", "--balance", "ten"}, "--balance: not a number"},
		{[]string{"cxp", "prepare", "--integrity", "maybe"}, "--integrity: want true or false"},
		{[]string{"cxp", "clients", "extra"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append(tt.args, conn...), &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tt.want) || stdout.Len() != 0 {
			t.Errorf("sxp %s: got exit %d, stderr %q, stdout %q; want exit 2 with %q", strings.Join(tt.args, " "), code, stderr.String(), stdout.String(), tt.want)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"cxp", "clients"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "is required") {
		t.Errorf("sxp cxp clients without --url/--id/--key: got exit %d, stderr %q; want exit 2 naming a required flag", code, stderr.String())
	}
}
