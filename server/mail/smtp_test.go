package mail

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

func TestParseSMTPURL(t *testing.T) {
	tests := []struct {
		name, url string
		want      SMTP
		err       string
	}{
		{"starttls default port", "smtp://mail.example.org", SMTP{Host: "mail.example.org", Port: 587}, ""},
		{"user and port", "smtp://me:secret@mail.example.org:25", SMTP{Host: "mail.example.org", Port: 25, User: "me", Password: "secret"}, ""},
		{"escaped user", "smtps://me%40example.org:p%3Ass@mail.example.org", SMTP{Host: "mail.example.org", Port: 465, TLS: true, User: "me@example.org", Password: "p:ss"}, ""},
		{"ipv6", "smtp://[::1]:2525", SMTP{Host: "::1", Port: 2525}, ""},
		{"other scheme", "http://mail.example.org", SMTP{}, "must begin with smtp://"},
		{"no host", "smtp://", SMTP{}, "names no host"},
		{"bad port", "smtp://mail.example.org:99999", SMTP{}, "port"},
		{"query", "smtp://mail.example.org?tls=no", SMTP{}, "no path or ?query"},
		{"password without user", "smtp://:secret@mail.example.org", SMTP{}, "no user name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSMTPURL(tt.url)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error with %q", err, tt.err)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error %q shows the password", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v %v, want %+v", got, err, tt.want)
			}
		})
	}
}

func TestParseAddress(t *testing.T) {
	for _, ok := range []string{"alice@example.org", " bob.b+x@mail.example.org "} {
		if _, err := ParseAddress(ok); err != nil {
			t.Errorf("ParseAddress(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "alice", "Alice <alice@example.org>", "alice@example", "a@b.c\r\nBcc: x@y.z"} {
		if _, err := ParseAddress(bad); err == nil {
			t.Errorf("ParseAddress(%q): got no error", bad)
		}
	}
}

// TestFormatMessage: headers a mail reader needs, a non-ASCII subject
// encoded, a long link intact after quoted-printable decoding.
func TestFormatMessage(t *testing.T) {
	link := "http://leaf.example/password/reset?token=" + strings.Repeat("x", 90)
	raw := formatMessage(mail.Address{Name: "Hoja Valle", Address: "leaf@example.org"}, "ana@example.org", "Cambió la contraseña",
		"Hola Ana,\n\n"+link+"\n", time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC))
	m, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	body, _ := io.ReadAll(quotedprintable.NewReader(m.Body))
	for _, c := range []struct{ name, got, want string }{
		{"From", m.Header.Get("From"), `"Hoja Valle" <leaf@example.org>`},
		{"To", m.Header.Get("To"), "<ana@example.org>"},
		{"Subject", subject, "Cambió la contraseña"},
		{"Date", m.Header.Get("Date"), "Sun, 29 Nov 2026 12:00:00 +0000"},
		{"Content-Type", m.Header.Get("Content-Type"), "text/plain; charset=utf-8"},
		{"body", string(body), "Hola Ana,\r\n\r\n" + link + "\r\n"},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	if !strings.HasSuffix(m.Header.Get("Message-ID"), "@example.org>") {
		t.Errorf("Message-ID %q: want one @example.org", m.Header.Get("Message-ID"))
	}
}

// TestSubjectOneLine: a subject made from members' text cannot add a header.
func TestSubjectOneLine(t *testing.T) {
	raw := formatMessage(mail.Address{Address: "leaf@example.org"}, "ana@example.org", "Your offer \"Jam\r\nBcc: eve@example.org\" expires",
		"x", time.Unix(0, 0))
	m, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Header.Get("Bcc"); got != "" {
		t.Errorf("Bcc header: got %q, want none", got)
	}
	if got := m.Header.Get("Subject"); got != `Your offer "Jam Bcc: eve@example.org" expires` {
		t.Errorf("Subject: got %q", got)
	}
}

func TestPermanentAndHelo(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("RCPT TO: %w", &textproto.Error{Code: 550, Msg: "no such user"}), true},
		{fmt.Errorf("DATA: %w", &textproto.Error{Code: 451, Msg: "try later"}), false},
		{errors.New("connect: connection refused"), false},
	} {
		if got := permanent(tt.err); got != tt.want {
			t.Errorf("permanent(%v): got %v, want %v", tt.err, got, tt.want)
		}
	}
	for base, want := range map[string]string{"https://leaf.example.org": "leaf.example.org", "http://127.0.0.1:8081": "[127.0.0.1]",
		"http://[::1]:8081/": "[IPv6:::1]", "": "localhost"} {
		if got := helo(base); got != want {
			t.Errorf("helo(%q): got %q, want %q", base, got, want)
		}
	}
}
