package server_test

import (
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sxp-network/sxp/server"
	"github.com/sxp-network/sxp/server/mail/mailtest"
	"github.com/sxp-network/sxp/server/members"
)

// browserish is a client with a cookie jar that fills the pages' forms.
type browserish struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowserish(t *testing.T, base string) *browserish {
	jar, _ := cookiejar.New(nil)
	return &browserish{t: t, base: base, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browserish) do(method, path string, form url.Values) (int, string, http.Header) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw), resp.Header
}

func (b *browserish) get(path string) (int, string) {
	b.t.Helper()
	st, body, _ := b.do("GET", path, nil)
	return st, body
}

// submit opens page, then posts form to action with the page's CSRF token.
func (b *browserish) submit(page, action string, form url.Values) (int, string, http.Header) {
	b.t.Helper()
	st, body := b.get(page)
	m := csrfRE.FindStringSubmatch(body)
	if st != http.StatusOK || m == nil {
		b.t.Fatalf("GET %s: got %d, want 200 with a CSRF token:\n%s", page, st, body)
	}
	form.Set("csrf", m[1])
	return b.do("POST", action, form)
}

// pathOf is a mailed link's path and query, to follow on the test server
// (the links name the configured public URL).
func pathOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Host != "127.0.0.1:1" {
		t.Fatalf("link %q: want one to the public URL http://127.0.0.1:1", link)
	}
	return u.RequestURI()
}

func (e *env) runJob(name string) bool {
	e.t.Helper()
	ok, err := e.srv.Jobs.RunOnce(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	return ok
}

func (e *env) one(query string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestMailThroughRealSMTP registers a member with an address, verifies it,
// resets her password and tells her of payments, bills and an expiring
// offer, each through a message read from a real SMTP server
// (emersion/go-smtp on loopback, AUTH PLAIN) and its link followed; a
// notice turned off stops, a refused message is retried, and the reset is
// rate-limited and does not tell whether an address is a member's.
func TestMailThroughRealSMTP(t *testing.T) {
	t.Parallel()
	smtpd := mailtest.Start(t)
	e := newEnv(t, func(c *server.Config) {
		c.SMTPURL, c.SMTPFrom = smtpd.URL(), "Leaf Valley <leaf@example.org>"
	})
	const nina, wait = "nina@example.org", 10 * time.Second
	e.member("alice", members.RoleMember)

	// Register with an address: the verification link goes out through the outbox.
	web := newBrowserish(t, e.http.URL)
	st, _, hdr := web.submit("/register", "/register", url.Values{"username": {"nina"}, "display_name": {"Nina"},
		"email": {nina}, "password": {"first password"}, "password2": {"first password"}})
	if st != http.StatusSeeOther || hdr.Get("Location") != "/?joined=1&email=1" {
		t.Fatalf("register: got %d to %q, want 303 to /?joined=1&email=1", st, hdr.Get("Location"))
	}
	if n := e.one(`SELECT count(*) FROM mail_outbox WHERE state = 'pending' AND kind = 'verify'`); n != 1 {
		t.Fatalf("outbox after registering: got %d pending verify messages, want 1", n)
	}
	if !e.runJob("mail_send") {
		t.Fatalf("mail_send failed")
	}
	verify := smtpd.Wait(t, nina, 0, wait)
	if verify.Subject != "Confirm your e-mail address at Leaf Valley" || verify.From != "leaf@example.org" ||
		!strings.Contains(verify.Header.Get("From"), "Leaf Valley") {
		t.Errorf("verification mail: got subject %q from %q (%q)", verify.Subject, verify.From, verify.Header.Get("From"))
	}
	link := verify.Link(t, "/email/verify?token=")
	token := strings.SplitN(link, "token=", 2)[1]
	// The token is kept only hashed; the sent message's text is gone.
	sum := sha256.Sum256([]byte(token))
	if n := e.one(`SELECT count(*) FROM mail_tokens WHERE token_hash = $1 AND purpose = 'verify'`, sum[:]); n != 1 {
		t.Errorf("token hash rows: got %d, want 1", n)
	}
	if n := e.one(`SELECT count(*) FROM mail_outbox WHERE body LIKE '%' || $1 || '%'`, token); n != 0 {
		t.Errorf("outbox rows holding the token after sending: got %d, want 0", n)
	}
	// Not yet verified: a payment tells her nothing.
	if st, body := e.call("alice", "POST", "/api/v1/payments", `{"to":"nina","amount":"1.00","idempotency_key":"p0"}`); st != http.StatusCreated {
		t.Fatalf("payment: got %d %v", st, body)
	}
	if n := e.one(`SELECT count(*) FROM mail_notices_due`); n != 0 {
		t.Errorf("notices due for an unverified address: got %d, want 0", n)
	}
	st, body := newBrowserish(t, e.http.URL).get(pathOf(t, link)) // opened in another browser: the token is enough
	if st != http.StatusOK || !strings.Contains(body, "Your e-mail address is confirmed") {
		t.Fatalf("verification link: got %d %s", st, body)
	}
	if st, body := web.get(pathOf(t, link)); st != http.StatusBadRequest || !strings.Contains(body, "was used already") {
		t.Errorf("verification link again: got %d, want 400 (single use)\n%s", st, body)
	}
	if n := e.one(`SELECT count(*) FROM member_emails WHERE address = $1 AND verified_at IS NOT NULL`, nina); n != 1 {
		t.Errorf("verified addresses: got %d, want 1", n)
	}

	// Reset the password, from a browser that is not logged in. An unknown
	// address gets the same answer and no mail.
	anon := newBrowserish(t, e.http.URL)
	stKnown, known, _ := anon.submit("/password/forgot", "/password/forgot", url.Values{"email": {nina}})
	stUnknown, unknown, _ := anon.submit("/password/forgot", "/password/forgot", url.Values{"email": {"nobody@example.org"}})
	if stKnown != http.StatusOK || stUnknown != http.StatusOK ||
		strings.ReplaceAll(known, nina, "X") != strings.ReplaceAll(unknown, "nobody@example.org", "X") {
		t.Errorf("reset answers: got %d and %d, want 200 and the same page for a member's and an unknown address", stKnown, stUnknown)
	}
	e.runJob("mail_send")
	reset := smtpd.Wait(t, nina, 1, wait)
	if reset.Subject != "Reset your password at Leaf Valley" || !strings.Contains(reset.Body, `"nina"`) {
		t.Errorf("reset mail: got %q\n%s", reset.Subject, reset.Body)
	}
	if n := smtpd.Count("nobody@example.org"); n != 0 {
		t.Errorf("mails to an unknown address: got %d, want 0", n)
	}
	resetPath := pathOf(t, reset.Link(t, "/password/reset?token="))
	if st, body := anon.get(resetPath); st != http.StatusOK || !strings.Contains(body, "<strong>nina</strong>") {
		t.Fatalf("reset link: got %d\n%s", st, body)
	}
	st, body, _ = anon.submit(resetPath, "/password/reset", url.Values{"token": {strings.SplitN(resetPath, "token=", 2)[1]},
		"new_password": {"second password"}, "new_password2": {"second password"}})
	if st != http.StatusOK || !strings.Contains(body, "Your password is changed") {
		t.Fatalf("reset form: got %d\n%s", st, body)
	}
	if st, _ := e.call("", "POST", "/api/v1/session", `{"username":"nina","password":"first password"}`); st != http.StatusUnauthorized {
		t.Errorf("log-in with the old password: got %d, want 401", st)
	}
	if st, body := e.call("", "POST", "/api/v1/session", `{"username":"nina","password":"second password"}`); st != http.StatusCreated {
		t.Errorf("log-in with the new password: got %d %v, want 201", st, body)
	}
	if st, body := anon.get(resetPath); st != http.StatusBadRequest || strings.Contains(body, "new_password") {
		t.Errorf("reset link again: got %d, want 400 without the form (single use)", st)
	}
	// An expired link is refused too.
	if err := e.srv.Mail.RequestReset(context.Background(), nina, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	e.runJob("mail_send")
	expired := pathOf(t, smtpd.Wait(t, nina, 2, wait).Link(t, "/password/reset?token="))
	if _, err := e.pool.Exec(context.Background(), `UPDATE mail_tokens SET expires_at = now() - interval '1 second' WHERE purpose = 'reset' AND used_at IS NULL`); err != nil {
		t.Fatal(err)
	}
	if st, _ := anon.get(expired); st != http.StatusBadRequest {
		t.Errorf("expired reset link: got %d, want 400", st)
	}

	// A payment to her: a notice through the outbox, with a link to her statement.
	if st, body := e.call("alice", "POST", "/api/v1/payments", `{"to":"nina","amount":"12.50","description":"apples","idempotency_key":"p1"}`); st != http.StatusCreated {
		t.Fatalf("payment: got %d %v", st, body)
	}
	if n := e.one(`SELECT count(*) FROM mail_notices_due WHERE kind = 'payment'`); n != 1 {
		t.Fatalf("notices due after the payment: got %d, want 1", n)
	}
	e.runJob("mail_notices")
	e.runJob("mail_send")
	paid := smtpd.Wait(t, nina, 3, wait)
	if paid.Subject != "You received 12.50 LEAF from alice" || !strings.Contains(paid.Body, "Description: apples") ||
		pathOf(t, paid.Link(t, "/statement")) != "/statement" {
		t.Errorf("payment notice: got %q\n%s", paid.Subject, paid.Body)
	}

	// She turns payment notices off on her settings page: the next payment
	// tells her nothing; a bill still does.
	me := newBrowserish(t, e.http.URL)
	if st, _, _ := me.submit("/login", "/login", url.Values{"username": {"nina"}, "password": {"second password"}}); st != http.StatusSeeOther {
		t.Fatalf("page log-in: got %d", st)
	}
	st, body, _ = me.submit("/settings", "/settings/notices", url.Values{"notice": {"bill", "proposal", "expiry"}})
	if st != http.StatusOK || !strings.Contains(body, "Saved your e-mail notices") || strings.Contains(body, `value="payment" id="notice-payment" checked`) {
		t.Fatalf("notices form: got %d\n%s", st, body)
	}
	before := smtpd.Count(nina)
	if st, body := e.call("alice", "POST", "/api/v1/payments", `{"to":"nina","amount":"2.00","idempotency_key":"p2"}`); st != http.StatusCreated {
		t.Fatalf("payment: got %d %v", st, body)
	}
	if st, body := e.call("alice", "POST", "/api/v1/payment-requests", `{"from":"nina","amount":"3.00","description":"eggs"}`); st != http.StatusCreated {
		t.Fatalf("bill: got %d %v", st, body)
	}
	e.runJob("mail_notices")
	e.runJob("mail_send")
	bill := smtpd.Wait(t, nina, before, wait)
	if bill.Subject != "alice sent you a bill of 3.00 LEAF" {
		t.Errorf("after turning payments off: got %q, want the bill's notice", bill.Subject)
	}
	if n := smtpd.Count(nina); n != before+1 {
		t.Errorf("mails to nina after a payment (off) and a bill (on): got %d more, want 1", n-before)
	}
	if n := e.one(`SELECT count(*) FROM mail_outbox WHERE kind = 'payment'`); n != 1 {
		t.Errorf("payment notices in the outbox: got %d, want 1 (the second was off)", n)
	}

	// An offer of hers that expires within three days: told once.
	expires := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	ninaToken := ""
	if st, body := e.call("", "POST", "/api/v1/session", `{"username":"nina","password":"second password"}`); st == http.StatusCreated {
		ninaToken = body["token"].(string)
	}
	e.tokens["nina"] = ninaToken
	if st, body := e.call("nina", "POST", "/api/v1/announcements", `{"kind":"offer","title":"Jam","category":"food","expires_at":"`+expires+`"}`); st != http.StatusCreated {
		t.Fatalf("offer: got %d %v", st, body)
	}
	e.runJob("mail_notices")
	e.runJob("mail_notices")
	e.runJob("mail_send")
	soon := smtpd.Wait(t, nina, before+1, wait)
	if soon.Subject != `Your offer "Jam" expires soon` {
		t.Errorf("expiry notice: got %q", soon.Subject)
	}
	if n := e.one(`SELECT count(*) FROM mail_outbox WHERE kind = 'expiry'`); n != 1 {
		t.Errorf("expiry notices after two sweeps: got %d, want 1", n)
	}

	// The SMTP server refuses once: the message stays in the outbox, is
	// shown to the admin as failing, and goes out on the retry.
	smtpd.FailNext(1)
	if st, body := e.call("alice", "POST", "/api/v1/payment-requests", `{"from":"nina","amount":"4.00"}`); st != http.StatusCreated {
		t.Fatalf("bill: got %d %v", st, body)
	}
	e.runJob("mail_notices")
	if e.runJob("mail_send") {
		t.Errorf("mail_send with the SMTP server refusing: got ok, want a failed run")
	}
	if n := e.one(`SELECT count(*) FROM mail_outbox WHERE state = 'pending' AND attempts = 1 AND last_error LIKE '%451%' AND next_attempt_at > now()`); n != 1 {
		t.Errorf("refused message: got %d pending rows with 1 attempt and the 451 error, want 1", n)
	}
	e.member("root", members.RoleAdmin)
	st, out := e.call("root", "GET", "/api/v1/admin/mail", "")
	if st != http.StatusOK || out["pending"] != float64(1) || out["failed"] != float64(0) || len(out["failures"].([]any)) != 1 {
		t.Errorf("admin outbox: got %d %v, want 1 pending and 1 failure listed", st, out)
	}
	if _, err := e.pool.Exec(context.Background(), `UPDATE mail_outbox SET next_attempt_at = now() WHERE state = 'pending'`); err != nil {
		t.Fatal(err)
	}
	e.runJob("mail_send")
	if got := smtpd.Wait(t, nina, before+2, wait); got.Subject != "alice sent you a bill of 4.00 LEAF" {
		t.Errorf("retried message: got %q", got.Subject)
	}
	st, text, _ := e.raw("", "GET", "/metrics", "")
	for _, want := range []string{`sxp_mail_outbox_messages{state="pending"} 0`, `sxp_mail_outbox_messages{state="sent"} 7`,
		`sxp_mail_sent_total{result="error"} 1`, `sxp_mail_sent_total{result="ok"} 7`} {
		if st != http.StatusOK || !strings.Contains(text, want) {
			t.Errorf("metrics: no %s", want)
		}
	}

	// Reset requests are limited per client: 5 at once. Two were made from
	// this client above; three more pass (a member gets at most 3 reset
	// mails an hour, so only two more go out), the sixth is refused.
	for i := 0; i < 3; i++ {
		if st, _, _ := anon.submit("/password/forgot", "/password/forgot", url.Values{"email": {nina}}); st != http.StatusOK {
			t.Fatalf("reset request %d: got %d, want 200", i+3, st)
		}
	}
	st, _, hdr = anon.submit("/password/forgot", "/password/forgot", url.Values{"email": {nina}})
	if st != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" {
		t.Errorf("sixth reset request: got %d (Retry-After %q), want 429 with Retry-After", st, hdr.Get("Retry-After"))
	}
	if n := e.one(`SELECT count(*) FROM mail_tokens WHERE purpose = 'reset' AND created_at > now() - interval '1 hour'`); n != 3 {
		t.Errorf("reset tokens in the last hour: got %d, want 3 (the per-member cap)", n)
	}
}

// TestMailOff: without SMTP settings everything works and the pages say
// e-mail is off.
func TestMailOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.member("alice", members.RoleMember)
	e.member("bob", members.RoleMember)
	if st, body := e.call("alice", "POST", "/api/v1/payments", `{"to":"bob","amount":"1.00","idempotency_key":"p"}`); st != http.StatusCreated {
		t.Fatalf("payment: got %d %v", st, body)
	}
	if st, body := e.call("alice", "GET", "/api/v1/me/email", ""); st != http.StatusOK || body["enabled"] != false {
		t.Errorf("GET /api/v1/me/email: got %d %v, want enabled false", st, body)
	}
	if st, body := e.call("", "POST", "/api/v1/password-reset", `{"email":"a@example.org"}`); st != http.StatusNotFound || body["error"].(map[string]any)["code"] != "mail_off" {
		t.Errorf("password reset: got %d %v, want 404 mail_off", st, body)
	}
	web := newBrowserish(t, e.http.URL)
	if _, body := web.get("/login"); strings.Contains(body, "Forgot your password") {
		t.Errorf("log-in page offers a reset by e-mail with e-mail off")
	}
	if _, body := web.get("/register"); strings.Contains(body, `name="email"`) {
		t.Errorf("registration asks for an address with e-mail off")
	}
	if st, body := web.get("/password/forgot"); st != http.StatusOK || !strings.Contains(body, "sends no e-mail") {
		t.Errorf("forgot page: got %d, want 200 saying no e-mail is sent", st)
	}
	if st, _, _ := web.submit("/login", "/login", url.Values{"username": {"alice"}, "password": {"password-alice"}}); st != http.StatusSeeOther {
		t.Fatalf("log-in: got %d", st)
	}
	if st, body := web.get("/settings"); st != http.StatusOK || !strings.Contains(body, "E-mail is off in this community") || strings.Contains(body, `name="email"`) {
		t.Errorf("settings page: got %d, want 200 saying e-mail is off, with no address form", st)
	}
	if ok, _ := e.srv.Jobs.RunOnce(context.Background(), "mail_notices"); !ok {
		t.Errorf("mail_notices with e-mail off: failed")
	}
	if _, err := e.srv.Jobs.RunOnce(context.Background(), "mail_send"); err == nil {
		t.Errorf("mail_send exists with e-mail off")
	}
}
