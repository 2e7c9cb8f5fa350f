package server_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/sxp-network/sxp/server"
	"github.com/sxp-network/sxp/server/members"
)

// auditActions are the actions of member's audit log, oldest first.
func (e *env) auditActions(member string) []string {
	e.t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT actor || ':' || action FROM member_audit WHERE member = $1 ORDER BY id`, member)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// TestAdminMemberPage: an admin's page of one member shows their statement
// and changes limits, role, block, log-in lock and password, each audited.
func TestAdminMemberPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.member("root", members.RoleAdmin)
	e.member("alice", members.RoleMember)
	e.member("bob", members.RoleMember)
	if st, body := e.call("alice", "POST", "/api/v1/payments", `{"to":"bob","amount":"7.25","description":"plums"}`); st != 201 {
		t.Fatalf("pay: got %d %v", st, body)
	}
	root := e.browser("root")
	st, html := root.get("/admin/members/alice")
	if st != 200 || !strings.Contains(html, "plums") || !strings.Contains(html, "-7.25") || !strings.Contains(html, "limits -100.00 to 1000.00 LEAF") {
		t.Fatalf("member page: got %d\n%s", st, html)
	}
	if st, _ := root.get("/admin/members/nobody"); st != http.StatusNotFound {
		t.Fatalf("no such member: got %d, want 404", st)
	}
	act := func(action string, form url.Values, wantStatus int, want string) string {
		t.Helper()
		if form == nil {
			form = url.Values{}
		}
		form.Set("back", "member")
		st, html := root.post("/admin/members/alice/"+action, form)
		if st != wantStatus || !strings.Contains(html, want) {
			t.Fatalf("%s: got %d, want %d with %q\n%s", action, st, wantStatus, want, html)
		}
		return html
	}
	act("limits", url.Values{"min": {"-50"}, "max": {"300"}}, 200, "limits -50.00 to 300.00 LEAF")
	act("limits", url.Values{"min": {"-5"}, "max": {"300"}}, 422, "") // the balance -7.25 lies outside
	act("role", url.Values{"role": {"admin"}}, 200, "role: <strong>admin</strong>")
	act("role", url.Values{"role": {"member"}}, 200, "role: <strong>member</strong>")
	act("block", nil, 200, "Status: <strong>blocked</strong>")
	if st, _ := e.call("", "POST", "/api/v1/session", `{"username":"alice","password":"password-alice"}`); st != http.StatusForbidden {
		t.Fatalf("blocked alice logs in: got %d, want 403", st)
	}
	act("unblock", nil, 200, "Status: <strong>active</strong>")

	// Wrong passwords lock the log-in; Unlock lifts it.
	for range 10 {
		e.call("", "POST", "/api/v1/session", `{"username":"alice","password":"wrong password"}`)
	}
	if st, _ := e.call("", "POST", "/api/v1/session", `{"username":"alice","password":"password-alice"}`); st != http.StatusTooManyRequests {
		t.Fatalf("after 10 wrong passwords: got %d, want 429", st)
	}
	if _, html := root.get("/admin/members/alice"); !regexp.MustCompile(`Unlock log-in \(\d+ failed attempts\)`).MatchString(html) {
		t.Fatalf("member page does not count the failed log-ins:\n%s", html)
	}
	act("unlock", nil, 200, "Done: unlock alice.")
	if st, _ := e.call("", "POST", "/api/v1/session", `{"username":"alice","password":"password-alice"}`); st != http.StatusCreated {
		t.Fatalf("after unlock: got %d, want 201", st)
	}

	// A reset makes a temporary password, shown once; alice's sessions end.
	html = act("password", nil, 200, `id="temp-password"`)
	m := regexp.MustCompile(`<code>([A-Za-z0-9]{16})</code>`).FindStringSubmatch(html)
	if m == nil {
		t.Fatalf("no temporary password in:\n%s", html)
	}
	if st, _ := e.call("alice", "GET", "/api/v1/me", ""); st != http.StatusUnauthorized {
		t.Fatalf("alice's old session after the reset: got %d, want 401", st)
	}
	if st, _ := e.call("", "POST", "/api/v1/session", `{"username":"alice","password":"`+m[1]+`"}`); st != http.StatusCreated {
		t.Fatalf("log-in with the temporary password: got %d, want 201", st)
	}
	if _, html := root.get("/admin/members/alice"); strings.Contains(html, m[1]) {
		t.Fatal("the temporary password is shown again")
	}
	// The API: reset to a given password, and the audit log.
	if st, body := e.call("bob", "POST", "/api/v1/admin/members/bob/password", `{}`); st != http.StatusForbidden {
		t.Fatalf("a member resets a password: got %d %v", st, body)
	}
	if st, body := e.call("root", "POST", "/api/v1/admin/members/bob/password", `{"password":"bobs new password"}`); st != 200 || body["password"] != "bobs new password" {
		t.Fatalf("API reset: got %d %v", st, body)
	}
	if st, _ := e.call("", "POST", "/api/v1/session", `{"username":"bob","password":"bobs new password"}`); st != http.StatusCreated {
		t.Fatalf("bob with the new password: got %d", st)
	}
	if st, body := e.call("root", "POST", "/api/v1/admin/members/bob/password", `{"password":"short"}`); st != 400 {
		t.Fatalf("API reset to a short password: got %d %v", st, body)
	}

	want := []string{"root:limits", "root:role", "root:role", "root:block", "root:unblock", "root:unlock", "root:password"}
	if got := e.auditActions("alice"); !equal(got, want) {
		t.Fatalf("alice's audit log: got %v, want %v", got, want)
	}
	st, body := e.call("root", "GET", "/api/v1/admin/members/alice/audit", "")
	entries, _ := body["entries"].([]any)
	if st != 200 || len(entries) != len(want) {
		t.Fatalf("API audit: got %d %v", st, body)
	}
	if first := entries[0].(map[string]any); first["action"] != "password" || first["detail"] != "temporary password made" || first["actor"] != "root" {
		t.Fatalf("newest audit entry: got %v", first)
	}
	if _, html := root.get("/admin/members/alice"); !strings.Contains(html, `id="member-audit"`) || !strings.Contains(html, "limits -50.00 to 300.00 LEAF") {
		t.Fatalf("the member page lacks the audit log:\n%s", html)
	}
	if got := e.auditActions("bob"); !equal(got, []string{"root:password"}) {
		t.Fatalf("bob's audit log: got %v", got)
	}
}

// TestNewcomerLimits: with newcomers' limits 0..500, a member who registers
// can receive but not spend on credit until an admin approves them; then
// the default limits apply. Admins change the newcomers' limits on the web.
func TestNewcomerLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *server.Config) { c.NewcomerMin, c.NewcomerMax = "0", "500" })
	e.member("root", members.RoleAdmin)
	e.member("alice", members.RoleMember) // added by an admin: default limits

	st, html := e.browser("alice").get("/register")
	for _, want := range []string{"New members can receive payments and spend what they have received; spending on credit is enabled once an organiser approves you.",
		"down to 0.00 LEAF and hold up to 500.00 LEAF", "after approval, down to -100.00 and up to 1000.00 LEAF"} {
		if !strings.Contains(html, want) {
			t.Fatalf("registration page: got %d, want %q\n%s", st, want, html)
		}
	}
	if st, body := e.call("", "POST", "/api/v1/members", `{"username":"nina","password":"password-nina","display_name":"Nina"}`); st != 201 {
		t.Fatalf("register: got %d %v", st, body)
	}
	e.login("nina")
	st, body := e.call("nina", "GET", "/api/v1/me/account", "")
	if st != 200 || body["min"] != "0.00" || body["max"] != "500.00" {
		t.Fatalf("nina's account: got %d %v, want limits 0.00..500.00", st, body)
	}
	if _, html := e.browser("nina").get("/"); !strings.Contains(html, "You are a new member: you can receive payments and spend what you have received") {
		t.Fatalf("nina's home does not say she is a newcomer:\n%s", html)
	}
	if st, body := e.call("nina", "POST", "/api/v1/payments", `{"to":"alice","amount":"1.00"}`); st != 422 {
		t.Fatalf("a newcomer spends on credit: got %d %v, want 422", st, body)
	}
	if st, _ := e.call("alice", "POST", "/api/v1/payments", `{"to":"nina","amount":"5.00"}`); st != 201 {
		t.Fatal("alice pays nina")
	}
	if st, body := e.call("nina", "POST", "/api/v1/payments", `{"to":"alice","amount":"5.01"}`); st != 422 {
		t.Fatalf("a newcomer spends more than received: got %d %v, want 422", st, body)
	}
	if st, _ := e.call("nina", "POST", "/api/v1/payments", `{"to":"alice","amount":"2.00"}`); st != 201 {
		t.Fatal("a newcomer spends what they received")
	}
	if st, body := e.call("root", "GET", "/api/v1/admin/members/nina", ""); st != 200 || body["newcomer"] != true {
		t.Fatalf("admin API, nina: got %d %v, want newcomer true", st, body)
	}
	root := e.browser("root")
	if _, html := root.get("/admin/members"); !strings.Contains(html, `<span class="muted newcomer">newcomer</span>`) {
		t.Fatalf("members page does not mark nina a newcomer:\n%s", html)
	}
	if st, html := root.post("/admin/members/nina/approve", url.Values{"back": {"member"}}); st != 200 || !strings.Contains(html, "limits -100.00 to 1000.00 LEAF") || strings.Contains(html, `class="newcomer"`) {
		t.Fatalf("approve nina: got %d\n%s", st, html)
	}
	if st, body := e.call("nina", "POST", "/api/v1/payments", `{"to":"alice","amount":"20.00"}`); st != 201 || body["balance"] != "-17.00" {
		t.Fatalf("approved nina spends on credit: got %d %v", st, body)
	}
	if st, body := e.call("root", "GET", "/api/v1/admin/members/nina", ""); st != 200 || body["newcomer"] != false {
		t.Fatalf("admin API, approved nina: got %d %v, want newcomer false", st, body)
	}
	if st, body := e.call("root", "POST", "/api/v1/admin/members/nina/approve", ""); st != 400 {
		t.Fatalf("approve again: got %d %v, want 400", st, body)
	}

	// Admins set other newcomers' limits on the web; the next member gets them.
	if st, html := root.post("/admin/newcomer-limits", url.Values{"newcomer_min": {"-10"}, "newcomer_max": {"200"}}); st != 200 || !strings.Contains(html, "Members who register get -10.00 to 200.00 LEAF") {
		t.Fatalf("set newcomer limits: got %d\n%s", st, html)
	}
	if st, html := root.post("/admin/newcomer-limits", url.Values{"newcomer_min": {"5"}, "newcomer_max": {"200"}}); st != 400 || !strings.Contains(html, "zero or negative") {
		t.Fatalf("positive newcomer min: got %d\n%s", st, html)
	}
	if st, _ := e.call("", "POST", "/api/v1/members", `{"username":"omar","password":"password-omar"}`); st != 201 {
		t.Fatal("register omar")
	}
	e.login("omar")
	if _, body := e.call("omar", "GET", "/api/v1/me/account", ""); body["min"] != "-10.00" || body["max"] != "200.00" {
		t.Fatalf("omar's account: got %v, want -10.00..200.00", body)
	}
	// Back to the configured ones (both empty).
	if st, html := root.post("/admin/newcomer-limits", url.Values{"newcomer_min": {""}, "newcomer_max": {""}}); st != 200 || !strings.Contains(html, "Members who register get 0.00 to 500.00 LEAF") {
		t.Fatalf("reset newcomer limits: got %d\n%s", st, html)
	}
	// The same through the API.
	if st, body := e.call("root", "GET", "/api/v1/admin/newcomer-limits", ""); st != 200 || body["staged"] != true || body["min"] != "0.00" || body["max"] != "500.00" || body["default_min"] != "-100.00" {
		t.Fatalf("API newcomer limits: got %d %v", st, body)
	}
	if st, body := e.call("root", "PUT", "/api/v1/admin/newcomer-limits", `{"min":"-100","max":"1000"}`); st != 200 || body["staged"] != false {
		t.Fatalf("API newcomer limits = the defaults: got %d %v, want staged false", st, body)
	}
	if st, body := e.call("root", "PUT", "/api/v1/admin/newcomer-limits", `{"min":"1","max":"1000"}`); st != 400 {
		t.Fatalf("API positive newcomer min: got %d %v, want 400", st, body)
	}
	if st, body := e.call("alice", "PUT", "/api/v1/admin/newcomer-limits", `{}`); st != http.StatusForbidden {
		t.Fatalf("a member sets newcomer limits: got %d %v, want 403", st, body)
	}
	if st, body := e.call("root", "PUT", "/api/v1/admin/newcomer-limits", `{}`); st != 200 || body["staged"] != true || body["min"] != "0.00" {
		t.Fatalf("API back to the configured limits: got %d %v", st, body)
	}
	if got := e.auditActions("nina"); !equal(got, []string{"root:approve"}) {
		t.Fatalf("nina's audit: got %v", got)
	}
	if got := e.auditActions(""); !equal(got, []string{"root:newcomer_limits", "root:newcomer_limits", "root:newcomer_limits", "root:newcomer_limits"}) {
		t.Fatalf("settings audit: got %v", got)
	}
}

// TestNewcomerSettings: SXP_NEWCOMER_MIN/MAX go together and are limits.
func TestNewcomerSettings(t *testing.T) {
	for _, tt := range []struct{ name, min, max, want string }{
		{"only min", "0", "", "give both or neither"},
		{"positive min", "1", "10", "must be zero or negative"},
		{"negative max", "0", "-1", "must be zero or positive"},
		{"too precise", "0.001", "10", "SXP_NEWCOMER_MIN"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := server.Config{DatabaseURL: "postgres://x", Listen: "127.0.0.1:0", CommunityID: "leaf", CommunityName: "Leaf",
				Currency: "LEAF", CurrencyDivisions: 2, PublicURL: "http://127.0.0.1:1", DefaultMin: "-100", DefaultMax: "1000",
				Registration: "open", NewcomerMin: tt.min, NewcomerMax: tt.max}
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
}
