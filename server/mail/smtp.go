package mail

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/smtp"
	"net/url"
	"strconv"
	"time"
)

// SMTP is where mail is sent, parsed from SXP_SMTP_URL by ParseSMTPURL:
//
//	smtp://host[:port]                   port 587 by default; STARTTLS when the server offers it
//	smtp://user:password@host[:port]     the same, then AUTH PLAIN (only over TLS, or to localhost/127.0.0.1/::1)
//	smtps://user:password@host[:port]    TLS from the start ("implicit TLS"), port 465 by default
//
// A user name or password with reserved characters (@ : / %) is
// percent-encoded, as in any URL: user%40example.org.
type SMTP struct {
	Host     string
	Port     int
	TLS      bool // smtps: TLS from the first byte
	User     string
	Password string
}

// Addr is host:port.
func (s SMTP) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// ParseSMTPURL reads an SMTP URL (see SMTP); the error says what is wrong
// without repeating the password.
func ParseSMTPURL(raw string) (SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return SMTP{}, fmt.Errorf("is not a URL such as smtp://user:password@mail.example.org:587")
	}
	var s SMTP
	switch u.Scheme {
	case "smtp":
		s.Port = 587
	case "smtps":
		s.Port, s.TLS = 465, true
	default:
		return SMTP{}, fmt.Errorf("must begin with smtp:// (STARTTLS when offered) or smtps:// (TLS), not %q", u.Scheme+"://")
	}
	s.Host = u.Hostname()
	if s.Host == "" {
		return SMTP{}, fmt.Errorf("names no host: smtp://user:password@mail.example.org:587")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return SMTP{}, fmt.Errorf("port %q must be a number from 1 to 65535", p)
		}
		s.Port = n
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return SMTP{}, fmt.Errorf("must be only scheme, user, password, host and port (no path or ?query)")
	}
	if u.User != nil {
		s.User = u.User.Username()
		s.Password, _ = u.User.Password()
		if s.User == "" {
			return SMTP{}, fmt.Errorf("has a password but no user name")
		}
	}
	return s, nil
}

// send delivers one message (already formatted, CRLF line ends) to one
// recipient through s, within timeout. It uses the standard library's
// net/smtp: STARTTLS when the server offers it, AUTH PLAIN refused on a
// connection that is neither TLS nor to loopback.
func (s SMTP) send(ctx context.Context, helo, from, to string, msg []byte, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := net.Dialer{}
	conn, err := d.DialContext(ctx, "tcp", s.Addr())
	if err != nil {
		return fmt.Errorf("connect %s: %w", s.Addr(), err)
	}
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.Close() }) // a cancelled ctx ends the conversation
	defer stop()
	tlsConfig := &tls.Config{ServerName: s.Host, MinVersion: tls.VersionTLS12}
	if s.TLS {
		conn = tls.Client(conn, tlsConfig)
	}
	c, err := smtp.NewClient(conn, s.Host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("greeting from %s: %w", s.Addr(), err)
	}
	defer c.Close()
	if err := c.Hello(helo); err != nil {
		return fmt.Errorf("EHLO: %w", err)
	}
	if !s.TLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsConfig); err != nil {
				return fmt.Errorf("STARTTLS: %w", err)
			}
		}
	}
	if s.User != "" {
		// net/smtp's PlainAuth itself refuses to send the password over a
		// connection that is not TLS, unless to localhost, 127.0.0.1 or ::1.
		if err := c.Auth(smtp.PlainAuth("", s.User, s.Password, s.Host)); err != nil {
			return fmt.Errorf("AUTH: %w", err)
		}
	}
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	return c.Quit()
}
