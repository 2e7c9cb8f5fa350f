package server_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sxp-network/sxp/server"
	"github.com/sxp-network/sxp/server/mail/mailtest"
	"github.com/sxp-network/sxp/server/members"
)

// TestMailLinkSentAtOnce: with the mail jobs an hour apart, a confirmation
// link still goes out at once while the server runs (Wake), and the
// server stops cleanly.
func TestMailLinkSentAtOnce(t *testing.T) {
	t.Parallel()
	smtpd := mailtest.Start(t)
	e := newEnv(t, func(c *server.Config) {
		c.SMTPURL, c.SMTPFrom, c.MailInterval = smtpd.URL(), "leaf@example.org", time.Hour
	})
	e.member("nina", members.RoleMember)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ctx, ln) }()
	// mail_send's first run (at start) is over before the address is given:
	// the next is an hour away, only Wake can send the link.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, text, _ := e.raw("", "GET", "/metrics", ""); strings.Contains(text, `sxp_job_runs_total{name="mail_send",result="ok"} 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("mail_send did not run at start")
		}
	}
	if st, body := e.call("nina", "PUT", "/api/v1/me/email", `{"address":"nina@example.org"}`); st != http.StatusAccepted {
		t.Fatalf("PUT /api/v1/me/email: got %d %v", st, body)
	}
	if m := smtpd.Wait(t, "nina@example.org", 0, 20*time.Second); m.Subject != "Confirm your e-mail address at Leaf Valley" {
		t.Errorf("got %q", m.Subject)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not stop")
	}
}
