package main

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"testing"
)

// Help (asked for, or printed after a usage error) never shows a secret taken
// from the environment, nor a database password; the settings still apply.
func TestHelpHidesSecrets(t *testing.T) {
	const secret, token, key, password = "s3cret-from-env", "admin-token-from-env", "circle-key-from-env", "pw-from-env"
	t.Setenv("SXP_CLEARING_SECRET", secret)
	t.Setenv("SXP_ADMIN_TOKEN", token)
	t.Setenv("SXP_PARENT_KEY", key)
	t.Setenv("SXP_CIRCLE_KEY", key)
	t.Setenv("DATABASE_URL", "postgres://sxp:"+password+"@127.0.0.1:1/clearing")
	for _, args := range [][]string{
		{"clearing", "--help"},
		{"admin", "community", "add", "--help"},
		{"admin", "community", "add", "leaf"}, // usage error: help on stderr
		{"admin", "key", "rotate", "--help"},
		{"cxp", "try", "--help"},
		{"migrate", "up", "--help"},
		{"community", "--help"},
		{"categories", "list", "--help"},
	} {
		var stdout, stderr bytes.Buffer
		run(context.Background(), args, &stdout, &stderr)
		out := stdout.String() + stderr.String()
		if !strings.Contains(out, "usage: sxp") {
			t.Errorf("sxp %s: got %q, want a usage line", strings.Join(args, " "), out)
		}
		for _, s := range []string{secret, token, key, password} {
			if strings.Contains(out, s) {
				t.Errorf("sxp %s: help shows the secret %q:\n%s", strings.Join(args, " "), s, out)
			}
		}
	}
}

func TestEnvSecret(t *testing.T) {
	tests := []struct {
		name    string
		env     string // "" means unset
		args    []string
		want    string
		usageOK string // in the flag's usage
	}{
		{"unset", "", nil, "", "(env SXP_TEST_SECRET)"},
		{"from the environment", "from-env", nil, "from-env", "(env SXP_TEST_SECRET, set)"},
		{"flag wins", "from-env", []string{"--secret", "from-flag"}, "from-flag", "(env SXP_TEST_SECRET, set)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("SXP_TEST_SECRET", tt.env)
			}
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			p := envSecret(fs, "secret", "SXP_TEST_SECRET", "a secret")
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if *p != tt.want {
				t.Errorf("value: got %q, want %q", *p, tt.want)
			}
			var help bytes.Buffer
			fs.SetOutput(&help)
			fs.PrintDefaults()
			if !strings.Contains(help.String(), tt.usageOK) || strings.Contains(help.String(), "from-") {
				t.Errorf("help: got %q, want %q and no value", help.String(), tt.usageOK)
			}
		})
	}
}

func TestEnvDatabaseRedactsPassword(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://sxp:hunter2@127.0.0.1:5432/clearing?sslmode=disable")
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	p := envDatabase(fs, "database", "DATABASE_URL", "PostgreSQL URL")
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if want := "postgres://sxp:hunter2@127.0.0.1:5432/clearing?sslmode=disable"; *p != want {
		t.Errorf("value: got %q, want %q", *p, want)
	}
	var help bytes.Buffer
	fs.SetOutput(&help)
	fs.PrintDefaults()
	if want := `(default postgres://sxp:xxxxx@127.0.0.1:5432/clearing?sslmode=disable)`; !strings.Contains(help.String(), want) ||
		strings.Contains(help.String(), "hunter2") {
		t.Errorf("help: got %q, want %s", help.String(), want)
	}
	if err := fs.Parse([]string{"--database", "postgres://other@h/db"}); err != nil || *p != "postgres://other@h/db" {
		t.Errorf("flag: got %q, %v", *p, err)
	}
}
