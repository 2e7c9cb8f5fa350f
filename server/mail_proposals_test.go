package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sxp-network/sxp/server"
	"github.com/sxp-network/sxp/server/mail/mailtest"
	"github.com/sxp-network/sxp/server/members"
)

// TestMailProposalNotice: each local party of a new proposal with a
// confirmed address is told once, by a message read from a real SMTP
// server; a party who answered already, or a remote one, is not.
func TestMailProposalNotice(t *testing.T) {
	t.Parallel()
	smtpd := mailtest.Start(t)
	e := newEnv(t, func(c *server.Config) {
		c.SMTPURL, c.SMTPFrom = smtpd.URL(), "leaf@example.org"
	})
	ctx := context.Background()
	for _, name := range []string{"nina", "omar"} {
		e.member(name, members.RoleMember)
		if st, body := e.call(name, "PUT", "/api/v1/me/email", `{"address":"`+name+`@example.org"}`); st != http.StatusAccepted {
			t.Fatalf("PUT /api/v1/me/email: got %d %v", st, body)
		}
	}
	e.runJob("mail_send")
	for _, name := range []string{"nina", "omar"} {
		m := smtpd.Wait(t, name+"@example.org", 0, 10*time.Second)
		if st, body := e.call("", "POST", "/api/v1/email/verify", `{"token":"`+strings.SplitN(m.Link(t, "token="), "token=", 2)[1]+`"}`); st != http.StatusOK || body["username"] != name {
			t.Fatalf("verify %s: got %d %v", name, st, body)
		}
	}
	if st, body := e.call("nina", "GET", "/api/v1/me/email", ""); st != http.StatusOK || body["verified"] != true || body["notices"].(map[string]any)["proposal"] != true {
		t.Fatalf("GET /api/v1/me/email: got %d %v", st, body)
	}
	// Giving the confirmed address again changes nothing.
	if st, body := e.call("nina", "PUT", "/api/v1/me/email", `{"address":"nina@example.org"}`); st != http.StatusBadRequest {
		t.Errorf("PUT the confirmed address again: got %d %v, want 400", st, body)
	}
	if st, body := e.call("nina", "GET", "/api/v1/me/email", ""); st != http.StatusOK || body["verified"] != true {
		t.Errorf("after giving it again: got %d %v, want it still confirmed", st, body)
	}
	h := strings.Repeat("ab", 32)
	contract := `{"type":"sxp-contract/1","parties":[{"member":"nina@leaf"},{"member":"omar@leaf"},{"member":"pia@acorn"}],
		"legs":[{"from":0,"to":1,"title":"Bread"},{"from":1,"to":2,"title":"Honey"},{"from":2,"to":0,"title":"Soap"}]}`
	if _, err := e.pool.Exec(ctx, `INSERT INTO deal_proposals (h, contract, deadline) VALUES ($1, $2, now() + interval '1 day')`, h, contract); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `INSERT INTO deal_proposal_answers (h, member, answer) VALUES ($1, 'omar@leaf', 'accept')`, h); err != nil {
		t.Fatal(err)
	}
	e.runJob("mail_notices")
	e.runJob("mail_notices")
	e.runJob("mail_send")
	m := smtpd.Wait(t, "nina@example.org", 1, 10*time.Second)
	if m.Subject != "A deal for you to sign at Leaf Valley" || !strings.Contains(m.Body, `nina@leaf gives "Bread" to omar@leaf`) ||
		pathOf(t, m.Link(t, "/proposals")) != "/proposals" {
		t.Errorf("proposal notice: got %q\n%s", m.Subject, m.Body)
	}
	if n := smtpd.Count("omar@example.org"); n != 1 {
		t.Errorf("mails to omar (answered already): got %d, want only the verification", n)
	}
	if n := e.one(`SELECT count(*) FROM mail_outbox WHERE kind = 'proposal'`); n != 1 {
		t.Errorf("proposal notices after two sweeps: got %d, want 1", n)
	}
}
