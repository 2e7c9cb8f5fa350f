package main

import (
	"strings"
	"testing"
)

// TestCommunityMailSettings: a bad SXP_SMTP_URL or SXP_SMTP_FROM stops the
// server at start naming the setting, and neither the error nor --help
// shows the SMTP password.
func TestCommunityMailSettings(t *testing.T) {
	const password = "smtp-pw-from-env"
	db := "postgres://nobody@127.0.0.1:1/none"
	tests := []struct {
		name  string
		extra []string
		want  string
	}{
		{"scheme", []string{"SXP_SMTP_URL=mail://u:" + password + "@mail.example.org", "SXP_SMTP_FROM=leaf@example.org"}, "SXP_SMTP_URL"},
		{"port", []string{"SXP_SMTP_URL=smtp://u:" + password + "@mail.example.org:0", "SXP_SMTP_FROM=leaf@example.org"}, "SXP_SMTP_URL"},
		{"no sender", []string{"SXP_SMTP_URL=smtp://u:" + password + "@mail.example.org"}, "SXP_SMTP_FROM"},
		{"sender alone", []string{"SXP_SMTP_FROM=leaf@example.org"}, "SXP_SMTP_FROM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runSXP(t, communityTestEnv(db, tt.extra...), "", "community", "--listen", "127.0.0.1:0")
			if code != 2 || !strings.Contains(errOut, tt.want) {
				t.Fatalf("got exit %d %q, want 2 naming %s", code, errOut, tt.want)
			}
			if strings.Contains(errOut, password) {
				t.Errorf("the error shows the SMTP password: %q", errOut)
			}
		})
	}
	code, out, errOut := runSXP(t, communityTestEnv(db, "SXP_SMTP_URL=smtp://u:"+password+"@mail.example.org"), "", "community", "--help")
	if code != 0 || !strings.Contains(out+errOut, "--smtp-url") || strings.Contains(out+errOut, password) {
		t.Errorf("community --help: exit %d, want the --smtp-url flag listed without the password:\n%s%s", code, out, errOut)
	}
}
