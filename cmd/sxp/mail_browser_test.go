package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sxp-network/sxp/cmd/sxp/sxptest"
	"github.com/sxp-network/sxp/migrations/pgtest"
	"github.com/sxp-network/sxp/server/mail/mailtest"
)

// TestMailPagesInBrowser walks the e-mail pages in headless Chromium
// against a community server started as an operator would, with
// --smtp-url pointing at a real SMTP server (go-smtp on loopback): joining
// with an address, the link from the mail, the settings page (turning a
// notice off), a forgotten password reset through its mailed link, the
// admins' outbox page, and the settings page on a phone-sized screen. It
// saves a screenshot of every page.
func TestMailPagesInBrowser(t *testing.T) {
	smtpd := mailtest.Start(t)
	bin := sxptest.BuildSXP(t)
	dbURL := pgtest.NewDatabase(t)
	port := sxptest.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	settings := []string{"--database", dbURL, "--community-id", "leaf", "--community-name", "Leaf Valley", "--currency", "LEAF",
		"--public-url", base, "--smtp-url", smtpd.URL(), "--smtp-from", "Leaf Valley <leaf@example.org>", "--mail-interval", "200ms"}
	srv := startSXP(t, bin, "leaf", append([]string{"community", "--listen", fmt.Sprintf("127.0.0.1:%d", port)}, settings...)...)
	srv.WaitReady(base+"/readyz", readyWithin)
	sxptest.RunInput(t, bin, sxptest.WithoutSettings(), e2ePassword+"\n",
		append([]string{"members", "add", "ada", "--password-stdin", "--admin", "--name", "Ada Admin"}, settings...)...)

	b := newTab(t, "mail-pages")
	ctx, out := b.ctx, b.out
	shot, open, text, fill := b.shot, b.open, b.page, b.fill
	logout := func() {
		t.Helper()
		if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`nav form button`))); err != nil {
			t.Fatalf("log out: %v", err)
		}
	}
	const nina = "nina@example.org"

	// Joining, with an address; the page says a link is on its way.
	open(base+"/register", "#email")
	if manifest, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('link[rel=manifest]').href`)); err != nil || manifest != base+"/manifest.webmanifest" {
		t.Errorf("register page's manifest link: got %q %v", manifest, err)
	}
	shot("0-register")
	fill(map[string]string{"#username": "nina", "#display_name": "Nina Okafor", "#email": nina,
		"#password": "first password", "#password2": "first password"}, "main form button", ".notice")
	if p := text(); !strings.Contains(p, "We sent you a link") {
		t.Errorf("home after joining: got %q, want it to say a link was sent", p)
	}
	shot("1-joined")

	// The link from the mail, opened in the browser.
	verify := smtpd.Wait(t, nina, 0, 30*time.Second)
	open(verify.Link(t, "/email/verify?token="), ".notice")
	if p := text(); !strings.Contains(p, "Your e-mail address is confirmed") {
		t.Errorf("verification page: got %q", p)
	}
	shot("2-verified")

	// ada pays nina: the server's background jobs mail the notice.
	st, sess := apiJSON(t, base, "POST", "/api/v1/session", "", map[string]string{"username": "ada", "password": e2ePassword})
	if st != http.StatusCreated {
		t.Fatalf("ada's log-in: got %d %v", st, sess)
	}
	if st, body := apiJSON(t, base, "POST", "/api/v1/payments", sess["token"].(string),
		map[string]string{"to": "nina", "amount": "5.00", "description": "bread", "idempotency_key": "mail-1"}); st != http.StatusCreated {
		t.Fatalf("payment: got %d %v", st, body)
	}
	if paid := smtpd.Wait(t, nina, 1, 30*time.Second); paid.Subject != "You received 5.00 LEAF from ada" || paid.Link(t, "/statement") != base+"/statement" {
		t.Errorf("payment notice: got %q\n%s", paid.Subject, paid.Body)
	}

	// Settings: the confirmed address and the notices; payments turned off.
	open(base+"/settings", "#notices")
	if p := text(); !strings.Contains(p, nina) || !strings.Contains(p, "confirmed") || !strings.Contains(p, "A payment to me") {
		t.Errorf("settings page: got %q", p)
	}
	shot("3-settings")
	if _, err := chromedp.Run(ctx, chromedp.Click(chromedp.CSS("#notice-payment"))); err != nil {
		t.Fatal(err)
	}
	fill(nil, "#notices button", ".notice")
	checked, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('#notice-payment').checked`))
	if err != nil || checked || !strings.Contains(text(), "Saved your e-mail notices") {
		t.Errorf("after turning payment notices off: checked=%v %v, page %q", checked, err, text())
	}
	shot("4-settings-saved")

	// A forgotten password: the log-in page's link, the form, the mailed
	// link, the new password.
	logout()
	open(base+"/login", "#forgot")
	shot("5-login-forgot-link")
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS("#forgot a"))); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#email"))); err != nil {
		t.Fatal(err)
	}
	shot("6-forgot")
	fill(map[string]string{"#email": nina}, "main form button", ".notice")
	if p := text(); !strings.Contains(p, "If "+nina+" is the confirmed address of a member, we sent a link") {
		t.Errorf("forgot page after sending: got %q", p)
	}
	shot("7-forgot-sent")
	reset := smtpd.Wait(t, nina, 2, 30*time.Second)
	open(reset.Link(t, "/password/reset?token="), "#new_password")
	if p := text(); !strings.Contains(p, "For your account nina") {
		t.Errorf("reset page: got %q", p)
	}
	shot("8-reset")
	fill(map[string]string{"#new_password": "short", "#new_password2": "other"}, "main form button", ".error")
	shot("9-reset-error")
	fill(map[string]string{"#new_password": "second password", "#new_password2": "second password"}, "main form button", ".notice")
	if p := text(); !strings.Contains(p, "Your password is changed") {
		t.Errorf("after reset: got %q", p)
	}
	shot("10-reset-done")
	fill(map[string]string{"#username": "nina", "#password": "second password"}, "main form button", "nav")
	if p := text(); !strings.Contains(p, "Nina Okafor") && !strings.Contains(p, "nina") {
		t.Errorf("log-in with the new password: got %q", p)
	}
	// The used link again.
	open(reset.Link(t, "/password/reset?token="), ".error")
	shot("11-reset-used")

	// The admins' outbox page.
	logout()
	open(base+"/login", "#username")
	fill(map[string]string{"#username": "ada", "#password": e2ePassword}, "main form button", "nav")
	open(base+"/admin/mail", "#outbox")
	if p := text(); !strings.Contains(p, "E-mail is on") {
		t.Errorf("admin mail page: got %q", p)
	}
	sent, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#sent').innerText`))
	if err != nil || sent != "3" {
		t.Errorf("admin mail page: sent %q %v, want 3 (verification, payment, reset)", sent, err)
	}
	shot("12-admin-outbox")

	// The settings page on a phone-sized screen.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	open(base+"/settings", "#notices")
	shot("13-settings-phone")

	// The app icon a phone puts on its home screen.
	resp, err := http.Get(base + "/icons/icon-512.png")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	icon, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" {
		t.Errorf("icon: got %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if err := os.WriteFile(filepath.Join(out, "14-icon-512.png"), icon, 0o644); err != nil {
		t.Fatal(err)
	}
}
