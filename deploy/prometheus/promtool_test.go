package promconfig

import (
	"os/exec"
	"strings"
	"testing"
)

// promtool runs promtool with args in this folder and returns its output.
// The test fails, never skips, when promtool is missing.
func promtool(t *testing.T, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (Debian package prometheus; deploy/test installs it): %v", err)
	}
	out, err := exec.Command(path, args...).CombinedOutput()
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
		{"alert rules are valid", []string{"check", "rules", "alerts.yml"}, "SUCCESS: 12 rules found"},
		{"scrape config is valid", []string{"check", "config", "prometheus.yml"}, "SUCCESS: prometheus.yml is valid prometheus config file syntax"},
		{"alerts fire as their unit tests expect", []string{"test", "rules", "alerts_test.yml"}, "SUCCESS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := promtool(t, tt.args...)
			if !strings.Contains(out, tt.want) {
				t.Errorf("promtool %s: got\n%s\nwant a line %q", strings.Join(tt.args, " "), out, tt.want)
			}
		})
	}
}
