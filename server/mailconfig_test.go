package server

import (
	"strings"
	"testing"
)

// TestConfigMail: SXP_SMTP_URL and SXP_SMTP_FROM go together, and a bad
// one is named without showing the password.
func TestConfigMail(t *testing.T) {
	tests := []struct {
		name, url, from, want string
	}{
		{"off", "", "", ""},
		{"on", "smtp://u:secret@mail.example.org:587", "Leaf <leaf@example.org>", ""},
		{"tls", "smtps://mail.example.org", "leaf@example.org", ""},
		{"from without url", "", "leaf@example.org", "SXP_SMTP_FROM"},
		{"url without from", "smtp://mail.example.org", "", "SXP_SMTP_FROM"},
		{"bad from", "smtp://mail.example.org", "leaf", "SXP_SMTP_FROM"},
		{"bad scheme", "mail://u:secret@mail.example.org", "leaf@example.org", "SXP_SMTP_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			c.SMTPURL, c.SMTPFrom = tt.url, tt.from
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error naming %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}
