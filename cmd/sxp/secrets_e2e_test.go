package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestLogsHoldNoSecrets runs a circle through what its users do with
// secrets (registrations, log-ins right and wrong, a cross-community
// payment signed with the communities' keys, the circle admin's API token
// and an admin page session) and then reads every line the three servers
// logged: none may hold a secret, key, password or token the run used.
func TestLogsHoldNoSecrets(t *testing.T) {
	c := startCircle(t)
	const wrongPassword = "wrong horse battery staple 42"
	secrets := map[string]string{
		"the clearing secret":         e2eSecret,
		"the admin API token":         e2eAdminToken,
		"a member's password":         e2ePassword,
		"a mistyped password":         wrongPassword,
		"leaf's key with the circle":  c.keys["leaf"],
		"acorn's key with the circle": c.keys["acorn"],
	}

	gwen := c.member(c.leaf, "gwen")
	dmitri := c.member(c.acorn, "dmitri")
	ada := c.login(c.leaf, "ada")
	secrets["gwen's session token"], secrets["dmitri's session token"], secrets["ada's session token"] = gwen, dmitri, ada

	if st, out := c.api(c.leaf, "POST", "/api/v1/session", "", map[string]string{"username": "gwen", "password": wrongPassword}); st != http.StatusUnauthorized {
		t.Fatalf("log in with a wrong password: got %d %v, want 401", st, out)
	}
	if st, out := c.pay(c.leaf, gwen, "dmitri@acorn", "5.00", "secrets-1"); st != http.StatusCreated {
		t.Fatalf("pay dmitri@acorn: got %d %v, want 201", st, out)
	}
	if st, out := c.pay(c.acorn, dmitri, "gwen@leaf", "1.00", "secrets-2"); st != http.StatusCreated {
		t.Fatalf("pay gwen@leaf: got %d %v, want 201", st, out)
	}
	if st, out := c.api(c.leaf, "GET", "/api/v1/admin/members", ada, nil); st != http.StatusOK {
		t.Fatalf("community admin lists members: got %d %v", st, out)
	}
	if st, out := c.api(c.clearing, "GET", "/admin/api/communities", e2eAdminToken, nil); st != http.StatusOK {
		t.Fatalf("circle admin lists communities: got %d %v", st, out)
	}
	if st, _ := c.api(c.clearing, "GET", "/admin/api/communities", "not-the-admin-token", nil); st != http.StatusUnauthorized {
		t.Fatalf("a wrong admin token: got %d, want 401", st)
	}

	// An admin page session: its cookie is a secret too.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.PostForm(c.clearing+"/admin/login", url.Values{"token": {e2eAdminToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if ck.Value != "" {
			secrets["the admin page session"] = ck.Value
		}
	}
	if secrets["the admin page session"] == "" {
		t.Fatalf("admin log-in form: got %d without a session cookie", resp.StatusCode)
	}

	for _, p := range c.procs {
		p.Stop() // flushes what it logs on the way out too
	}
	for _, p := range c.procs {
		logs := p.Log.String()
		if !strings.Contains(logs, "\n") {
			t.Fatalf("%s logged nothing: the test would prove nothing", p.Name)
		}
		for what, secret := range secrets {
			if secret == "" {
				t.Fatalf("%s is empty", what)
			}
			if strings.Contains(logs, secret) {
				t.Errorf("%s logged %s", p.Name, what)
			}
		}
	}
}
