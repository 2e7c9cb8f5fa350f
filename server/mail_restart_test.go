package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sxp-network/sxp/server"
	"github.com/sxp-network/sxp/server/mail/mailtest"
	"github.com/sxp-network/sxp/server/members"
)

// TestMailNoticeSurvivesRestart: a payment's notice is written with the
// payment; the server stops before any mail job runs (a crash), and a new
// server on the same database sends it.
func TestMailNoticeSurvivesRestart(t *testing.T) {
	t.Parallel()
	smtpd := mailtest.Start(t)
	var cfg server.Config
	e := newEnv(t, func(c *server.Config) {
		c.SMTPURL, c.SMTPFrom = smtpd.URL(), "leaf@example.org"
		cfg = *c
	})
	ctx := context.Background()
	e.member("alice", members.RoleMember)
	e.member("nina", members.RoleMember)
	nina, err := e.srv.Members.ByUsername(ctx, "nina")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Mail.SetAddress(ctx, nina, "nina@example.org"); err != nil {
		t.Fatal(err)
	}
	e.runJob("mail_send")
	link := smtpd.Wait(t, "nina@example.org", 0, 10*time.Second).Link(t, "token=")
	if _, err := e.srv.Mail.Verify(ctx, strings.SplitN(link, "token=", 2)[1]); err != nil {
		t.Fatal(err)
	}
	if st, body := e.call("alice", "POST", "/api/v1/payments", `{"to":"nina","amount":"7.25","idempotency_key":"r1"}`); st != http.StatusCreated {
		t.Fatalf("payment: got %d %v", st, body)
	}
	// The first server is gone without running its jobs; a second one starts.
	srv2, err := server.New(ctx, cfg, e.pool, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, job := range []string{"mail_notices", "mail_send"} {
		if ok, err := srv2.Jobs.RunOnce(ctx, job); !ok || err != nil {
			t.Fatalf("%s on the new server: %v %v", job, ok, err)
		}
	}
	if m := smtpd.Wait(t, "nina@example.org", 1, 10*time.Second); m.Subject != "You received 7.25 LEAF from alice" {
		t.Errorf("after the restart: got %q", m.Subject)
	}
}
