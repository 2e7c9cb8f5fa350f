package promconfig

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// promtool runs promtool with args in dir and returns its output.
// The test fails, never skips, when promtool is missing.
func promtool(t *testing.T, dir string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (Debian package prometheus; deploy/test installs it): %v", err)
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestPromtool(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // a line of the output
	}{
		{"alert rules are valid", []string{"check", "rules", "alerts.yml"}, "SUCCESS: 15 rules found"},
		{"scrape config is valid", []string{"check", "config", "prometheus.yml"}, "SUCCESS: prometheus.yml is valid prometheus config file syntax"},
		{"alerts fire as their unit tests expect", []string{"test", "rules", "alerts_test.yml"}, "SUCCESS"},
	}
	// prometheus.yml reads the scrape token from metrics-token beside it,
	// which promtool wants to exist: check a copy next to a dummy token.
	withToken := t.TempDir()
	for _, f := range []string{"prometheus.yml", "alerts.yml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(withToken, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(withToken, "metrics-token"), []byte("dummy\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := "."
			if tt.args[1] == "config" {
				dir = withToken
			}
			out := promtool(t, dir, tt.args...)
			if !strings.Contains(out, tt.want) {
				t.Errorf("promtool %s: got\n%s\nwant a line %q", strings.Join(tt.args, " "), out, tt.want)
			}
		})
	}
}
