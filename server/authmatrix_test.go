package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
	"github.com/sxp-network/sxp/server"
	"github.com/sxp-network/sxp/server/members"
)

// The roles of the community server's authorisation matrix, in the order of
// the expectation strings below.
var matrixRoles = []string{"anonymous", "member", "other member", "community admin", "circle admin", "circle", "other community"}

// Expectations: one letter per role, y (let through) or n (refused: 401,
// 403, 404 for another's object, or a redirect to /login).
const (
	open      = "yyyyyyy" // answers everyone
	public    = "yyyynyy" // no session needed; an unknown bearer token is still refused
	preCSRF   = "nnnnnnn" // a form that needs the pre-session CSRF cookie, which none of them has
	member    = "nyyynnn" // any member's session
	owner     = "nynnnnn" // only the member whose object it is
	ownerOrAd = "nynynnn" // that member or an admin
	admin     = "nnnynnn" // admins only
	relay     = "nnnnnyn" // only the circle, signed with its key
	nobody    = "nnnnnnn"
)

// communityMatrix is the expected outcome of every route of the community
// server (its gin route table) for every role. A route missing here fails
// TestAuthorisationMatrix: a new route needs a row.
var communityMatrix = map[string]string{
	"GET /healthz":      public,
	"GET /readyz":       public,
	"GET /metrics":      open,
	"PUT /transactions": relay,

	"POST /api/v1/members":                          public,
	"POST /api/v1/session":                          public,
	"DELETE /api/v1/session":                        member,
	"GET /api/v1/me":                                member,
	"PATCH /api/v1/me":                              member,
	"PUT /api/v1/me/public-key":                     member,
	"GET /api/v1/me/contract-key":                   member,
	"PUT /api/v1/me/contract-key":                   member,
	"PUT /api/v1/me/password":                       member,
	"GET /api/v1/me/account":                        member,
	"GET /api/v1/me/statement":                      member,
	"GET /api/v1/members":                           member,
	"GET /api/v1/members/:username":                 member,
	"POST /api/v1/payments":                         member,
	"GET /api/v1/payment-requests":                  member,
	"POST /api/v1/payment-requests":                 member,
	"GET /api/v1/payment-requests/:id":              owner,
	"POST /api/v1/payment-requests/:id/accept":      owner,
	"POST /api/v1/payment-requests/:id/reject":      owner,
	"POST /api/v1/payment-requests/:id/cancel":      nobody, // only the payee (carol, not a role here) cancels
	"GET /api/v1/admin/members":                     admin,
	"GET /api/v1/admin/members/:username":           admin,
	"POST /api/v1/admin/members/:username/approve":  admin,
	"POST /api/v1/admin/members/:username/block":    admin,
	"POST /api/v1/admin/members/:username/unblock":  admin,
	"POST /api/v1/admin/members/:username/unlock":   admin,
	"PUT /api/v1/admin/members/:username/limits":    admin,
	"PUT /api/v1/admin/members/:username/role":      admin,
	"GET /api/v1/admin/members/:username/statement": admin,
	"POST /api/v1/admin/members/:username/password": admin,
	"GET /api/v1/admin/members/:username/audit":     admin,
	"GET /api/v1/quote":                             member,
	"GET /api/v1/admin/newcomer-limits":             admin,
	"PUT /api/v1/admin/newcomer-limits":             admin,
	"GET /api/v1/announcements":                     member,
	"POST /api/v1/announcements":                    member,
	"GET /api/v1/announcements/:id":                 member,
	"PATCH /api/v1/announcements/:id":               ownerOrAd,
	"DELETE /api/v1/announcements/:id":              ownerOrAd,
	"GET /api/v1/categories":                        member,
	"POST /api/v1/admin/deals/rounds":               admin,
	"GET /api/v1/admin/deals/proposals":             admin,
	"GET /api/v1/proposals":                         member,
	"POST /api/v1/proposals/:h/:answer":             nobody, // only a party (none here): 404
	"GET /api/v1/contracts":                         member, // the member's; an admin's: all
	"GET /api/v1/contracts/:h":                      nobody, // only a party (none here; an admin: none here): 404
	"POST /api/v1/contracts/:h/promises":            nobody,
	"POST /api/v1/contracts/:h/resolve":             nobody,
	"POST /api/v1/contracts/:h/cancel":              nobody,
	"GET /api/v1/contracts/:h/bundle":               nobody,
	"POST /api/v1/contracts/:h/legs/:leg/confirm":   nobody,
	"GET /api/v1/wantlists":                         member,
	"GET /api/v1/wantlists/:id":                     member, // want lists are published to peers
	"PUT /api/v1/wantlists/:id":                     owner,
	"DELETE /api/v1/wantlists/:id":                  ownerOrAd,
	"POST /api/v1/admin/categories":                 admin,
	"PATCH /api/v1/admin/categories/:slug":          admin,
	"DELETE /api/v1/admin/categories/:slug":         admin,
	"GET /api/v1/intertrade/communities":            member,
	"GET /api/v1/directory":                         member,
	"PUT /api/v1/me/picture":                        member, // an empty upload: 400, but let through
	"DELETE /api/v1/me/picture":                     member, // 404 when there is none: the member has one here
	"PUT /api/v1/announcements/:id/picture":         ownerOrAd,
	"DELETE /api/v1/announcements/:id/picture":      ownerOrAd,
	"GET /api/v1/pictures/:id":                      member, // pictures show on every member's pages
	"GET /api/v1/messages":                          member,
	"POST /api/v1/messages":                         member, // to bob: refused for bob himself (400, let through)
	"GET /api/v1/messages/:username":                member, // the asker's own conversation with :username
	"POST /api/v1/messages/:username/read":          member,
	"GET /api/v1/admin/intertrade":                  admin,
	"GET /api/v1/admin/intertrade/history":          admin,
	"POST /api/v1/admin/intertrade/handshake":       admin,
	"POST /api/v1/admin/intertrade/reconcile":       admin,
	"POST /api/v1/admin/intertrade/settle":          admin,
	"GET /api/v1/admin/intertrade/join":             admin,
	"POST /api/v1/admin/intertrade/join":            admin,
	"POST /api/v1/admin/intertrade/join/check":      admin,

	// sxp-fed/1: discovery is for anyone; the rest is signed by peers, and
	// no role here is one (401 without an sxp signature, 403 for a non-peer).
	"GET /.well-known/sxp":                       public,
	"POST /federation/v1/peers":                  nobody,
	"DELETE /federation/v1/peers":                nobody,
	"POST /federation/v1/inbox":                  nobody,
	"GET /federation/v1/events":                  nobody,
	"POST /federation/v1/contracts":              nobody, // a peer's signature only
	"POST /federation/v1/contracts/:h/:answer":   nobody,
	"POST /federation/v1/contracts/:h/promises":  nobody, // a party's home server's signature only
	"POST /federation/v1/messages":               nobody, // a peer's signature only (extension)
	"GET /api/v1/admin/federation":               admin,
	"POST /api/v1/admin/federation/peers":        admin,
	"POST /api/v1/admin/federation/peers/refuse": admin,
	"POST /api/v1/admin/federation/peers/remove": admin,
	"POST /api/v1/admin/federation/keys/rotate":  admin,

	"GET /login":                            public,
	"GET /language/:lang":                   public,
	"POST /login":                           preCSRF,
	"GET /register":                         public,
	"POST /register":                        preCSRF,
	"GET /":                                 member,
	"POST /logout":                          member,
	"GET /pay":                              member,
	"POST /pay":                             member,
	"GET /requests":                         member,
	"POST /requests":                        member,
	"POST /requests/:id/:action":            owner,
	"GET /statement":                        member,
	"GET /statement.csv":                    member,
	"GET /profile":                          member,
	"POST /profile":                         member,
	"POST /profile/password":                member,
	"POST /profile/contract-key":            member,
	"GET /admin":                            admin,
	"GET /admin/members":                    admin,
	"POST /admin/members/:username/:action": admin,
	"GET /admin/members/:username":          admin,
	"POST /admin/newcomer-limits":           admin,
	"POST /pay/review":                      member,
	"GET /offers":                           member,
	"GET /offers/new":                       member,
	"POST /offers/new":                      member,
	"GET /offers/:id":                       member,
	"POST /offers/:id/give":                 member, // the member's own offer is checked: a 400 without one
	"GET /wantlists":                        member,
	"GET /admin/deals":                      admin,
	"GET /proposals":                        member,
	"POST /proposals/:h/:answer":            nobody, // only a party (none here): 404
	"GET /contracts":                        member,
	"POST /contracts/:h/:action":            nobody, // only a party (none here): 404
	"GET /admin/contracts":                  admin,
	"POST /admin/deals/round":               admin,
	"POST /wantlists/:id/delete":            ownerOrAd,
	"GET /offers/:id/edit":                  ownerOrAd,
	"POST /offers/:id/edit":                 ownerOrAd,
	"POST /offers/:id/close":                ownerOrAd,
	"POST /offers/:id/reopen":               ownerOrAd,
	"POST /offers/:id/delete":               ownerOrAd,
	"GET /admin/categories":                 admin,
	"POST /admin/categories":                admin,
	"POST /admin/categories/:slug/:action":  admin,
	"GET /admin/intertrade":                 admin,
	"POST /admin/intertrade/:action":        admin,
	"POST /admin/circle/join":               admin,
	"POST /admin/circle/check":              admin,
	"GET /admin/federation":                 admin,
	"GET /members":                          member,
	"GET /members/:username":                member,
	"POST /profile/picture":                 member, // no file: 400 on the profile page, but let through
	"POST /profile/picture/delete":          member,
	"POST /offers/:id/picture":              ownerOrAd,
	"POST /offers/:id/picture/delete":       ownerOrAd,
	"GET /messages":                         member,
	"GET /messages/:username":               member, // the conversation with carol
	"POST /messages/:username":              member,
	"POST /admin/federation/:action":        admin,

	// e-mail (mail on in this matrix) and the installable app
	"POST /api/v1/email/verify":           public,
	"POST /api/v1/password-reset":         public,
	"POST /api/v1/password-reset/confirm": public,
	"GET /api/v1/me/email":                member,
	"PUT /api/v1/me/email":                member,
	"DELETE /api/v1/me/email":             member,
	"PUT /api/v1/me/notices":              member,
	"GET /api/v1/admin/mail":              admin,
	"GET /email/verify":                   public,
	"GET /password/forgot":                public,
	"POST /password/forgot":               preCSRF,
	"GET /password/reset":                 public,
	"POST /password/reset":                preCSRF,
	"GET /settings":                       member,
	"POST /settings/email":                member,
	"POST /settings/email/remove":         member,
	"POST /settings/notices":              member,
	"GET /admin/mail":                     admin,
	"POST /admin/mail/retry":              admin,
	"GET /manifest.webmanifest":           public,
	"GET /icons/:file":                    public,
	"GET /apple-touch-icon.png":           public,
}

// TestAuthorisationMatrix sends every route of the community server's
// route table (gin's Routes(), so a new route is covered or fails here) as
// each role, and checks who is let through; on every route it also checks
// the body size limit, and on every page the security headers.
func TestAuthorisationMatrix(t *testing.T) {
	t.Parallel()
	const circleKey = "the circle's key for leaf"
	e := newEnv(t, func(c *server.Config) {
		c.CircleURL, c.CircleID, c.CircleKey, c.Rate = "http://127.0.0.1:1", "valley", circleKey, "1"
		c.SMTPURL, c.SMTPFrom = "smtp://127.0.0.1:1", "leaf@example.org" // e-mail on: its routes let members through
	})
	ctx := context.Background()
	csrf := map[string]string{}
	login := func(name string) {
		t.Helper()
		st, body := e.call("", "POST", "/api/v1/session", `{"username":"`+name+`","password":"password-`+name+`"}`)
		if st != http.StatusCreated {
			t.Fatalf("login %s: got %d %v", name, st, body)
		}
		e.tokens[name], csrf[name] = body["token"].(string), body["csrf_token"].(string)
	}
	for _, m := range []struct {
		name string
		role members.Role
	}{{"alice", members.RoleMember}, {"bob", members.RoleMember}, {"carol", members.RoleMember}, {"root", members.RoleAdmin}} {
		if _, err := e.srv.Members.Add(ctx, members.Registration{Username: m.name, Password: "password-" + m.name}, m.role); err != nil {
			t.Fatal(err)
		}
		login(m.name)
	}
	e.tokens["circle admin"] = "sxpa_the-clearing-houses-admin-token"
	// carol bills alice: the request is alice's (as payer) and carol's.
	st, body := e.call("carol", "POST", "/api/v1/payment-requests", `{"from":"alice","amount":"1.00"}`)
	if st != http.StatusCreated {
		t.Fatalf("payment request: got %d %v", st, body)
	}
	requestID := jsonNumber(body["id"].(float64))
	if st, body := e.call("root", "POST", "/api/v1/admin/categories", `{"slug":"boats","name":"Boats"}`); st != http.StatusCreated {
		t.Fatalf("category: got %d %v", st, body)
	}
	// announcement makes a fresh offer of alice's: deleting routes use one each.
	announcement := func() string {
		st, body := e.call("alice", "POST", "/api/v1/announcements", `{"kind":"offer","title":"Eggs","category":"food"}`)
		if st != http.StatusCreated {
			t.Fatalf("announcement: got %d %v", st, body)
		}
		return jsonNumber(body["id"].(float64))
	}
	// wantList makes a fresh offer of alice's with a want list naming bob's.
	st, body = e.call("bob", "POST", "/api/v1/announcements", `{"kind":"offer","title":"Ham","category":"food"}`)
	if st != http.StatusCreated {
		t.Fatalf("bob's offer: got %d %v", st, body)
	}
	bobsOffer := jsonNumber(body["id"].(float64))
	// Pictures: one on bob's offer to fetch; a fresh one of alice's offer
	// for each picture route of announcements (deleting needs one).
	bobsID, _ := strconv.ParseInt(bobsOffer, 10, 64)
	bobsPicture := e.putPicture("bob", bobsID)
	withPicture := func(id string) string {
		n, _ := strconv.ParseInt(id, 10, 64)
		e.putPicture("alice", n)
		return id
	}
	wantList := func() string {
		id := announcement()
		if st, body := e.call("alice", "PUT", "/api/v1/wantlists/"+id, `{"accepts":["`+bobsOffer+`"]}`); st != http.StatusOK {
			t.Fatalf("want list: got %d %v", st, body)
		}
		return id
	}
	params := func(route string) map[string]string {
		p := map[string]string{"username": "carol", "id": requestID, "action": "reject", "slug": "boats",
			"h": strings.Repeat("0", 64), "answer": "accept", "file": "icon-192.png", "leg": "0", "lang": "es"}
		switch {
		case strings.Contains(route, "pictures/:id"):
			p["id"] = strconv.FormatInt(bobsPicture, 10)
		case (strings.Contains(route, "announcements/:id") || strings.Contains(route, "offers/:id")) && strings.Contains(route, "/picture"):
			p["id"] = withPicture(announcement())
		case strings.Contains(route, "announcements/:id"), strings.Contains(route, "offers/:id"):
			p["id"] = announcement()
		case strings.Contains(route, "wantlists/:id"):
			p["id"] = wantList()
		case strings.HasPrefix(route, "POST /admin/members/"):
			p["action"] = "unlock"
		case strings.HasPrefix(route, "POST /admin/categories/"):
			p["action"] = "rename"
		case strings.HasPrefix(route, "POST /admin/intertrade/"):
			p["action"] = "reconcile"
		case strings.HasPrefix(route, "POST /admin/federation/"):
			p["action"] = "refuse"
		}
		return p
	}
	as := map[string]string{"member": "alice", "other member": "bob", "community admin": "root"}
	signers := map[string]httpsig.Signer{
		"circle":          {KeyID: "valley", Key: []byte(circleKey)},
		"other community": {KeyID: "acorn", Key: []byte("acorn's key")},
	}
	paramRE := regexp.MustCompile(`:([a-z_]+)`)
	bigBody := bytes.Repeat([]byte("x"), 1<<20+1)

	send := func(role, method, path string, body []byte) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, e.http.URL+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		user := as[role]
		if role == "circle admin" {
			user = role
		}
		if user != "" {
			req.Header.Set("Authorization", "Bearer "+e.tokens[user])
		}
		if s, ok := signers[role]; ok {
			// Signed for the server's public URL, as the circle calls it.
			signed, _ := http.NewRequest(method, "http://127.0.0.1:1"+path, bytes.NewReader(body))
			if err := s.Sign(signed, body); err != nil {
				t.Fatal(err)
			}
			for k, v := range signed.Header {
				req.Header[k] = v
			}
		}
		switch {
		case len(body) > 1000:
		case strings.HasPrefix(path, "/api/") || path == "/transactions":
			req.Header.Set("Content-Type", "application/json")
		default:
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}

	routes := e.srv.Handlers.Engine().Routes()
	sort.Slice(routes, func(i, j int) bool { return routes[i].Path+routes[i].Method < routes[j].Path+routes[j].Method })
	seen := map[string]bool{}
	for _, r := range routes {
		route := r.Method + " " + r.Path
		seen[route] = true
		want, ok := communityMatrix[route]
		if !ok {
			t.Errorf("%s: no row in communityMatrix: say who may use it", route)
			continue
		}
		for i, role := range matrixRoles {
			p := params(route)
			path := paramRE.ReplaceAllStringFunc(r.Path, func(m string) string { return url.PathEscape(p[m[1:]]) })
			var body []byte
			switch {
			case path == "/transactions":
				body = []byte(`{}`)
			case r.Method == "PATCH" && strings.HasPrefix(path, "/api/v1/announcements/"):
				body = []byte(`{"title":"Changed"}`) // a valid change, so that only authorisation can refuse it
			case r.Method == "PUT" && strings.HasPrefix(path, "/api/v1/wantlists/"):
				body = []byte(`{"accepts":["` + bobsOffer + `"]}`) // valid likewise
			case !strings.HasPrefix(path, "/api/") && r.Method == "POST" && as[role] != "":
				body = []byte(url.Values{"csrf": {csrf[as[role]]}}.Encode())
			}
			if user := as[role]; user != "" && (route == "DELETE /api/v1/me/picture" || route == "POST /profile/picture/delete") {
				e.putPicture(user, 0) // a picture to delete
			}
			resp := send(role, r.Method, path, body)
			loc := resp.Header.Get("Location")
			refused := resp.StatusCode == 401 || resp.StatusCode == 403 || resp.StatusCode == 404 ||
				(resp.StatusCode == 303 && strings.HasPrefix(loc, "/login"))
			if route == "POST /logout" && as[role] != "" {
				// Its success redirects to /login as well: it was let
				// through when the session has ended.
				st, _ := e.call(as[role], "GET", "/api/v1/me", "")
				refused = st != http.StatusUnauthorized
			}
			if got := map[bool]byte{true: 'n', false: 'y'}[refused]; got != want[i] {
				t.Errorf("%s as %s: got %d %s, want %s", route, role, resp.StatusCode, loc,
					map[byte]string{'y': "let through", 'n': "refused"}[want[i]])
			}
			if resp.StatusCode == http.StatusInternalServerError {
				t.Errorf("%s as %s: got %d", route, role, resp.StatusCode)
			}
			// Logging out ends the session the matrix goes on with.
			if (route == "DELETE /api/v1/session" || route == "POST /logout") && as[role] != "" && !refused {
				login(as[role])
			}
			if role == "member" && !strings.HasPrefix(path, "/api/") && path != "/transactions" && r.Method == "GET" &&
				path != "/healthz" && path != "/readyz" && path != "/metrics" {
				for h, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
					"Referrer-Policy": "same-origin", "Content-Security-Policy": "frame-ancestors 'none'"} {
					if !strings.Contains(resp.Header.Get(h), v) {
						t.Errorf("%s: header %s %q, want %q", route, h, resp.Header.Get(h), v)
					}
				}
			}
		}
		// Body size: one byte over the limit is refused before anything else.
		p := params(route)
		path := paramRE.ReplaceAllStringFunc(r.Path, func(m string) string { return url.PathEscape(p[m[1:]]) })
		big := bigBody
		if uploadRoutes[route] { // a picture upload may be 5 MB and its form
			big = bytes.Repeat([]byte("x"), 5<<20+64<<10+1)
		}
		if resp := send("member", r.Method, path, big); resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s with %d bytes: got %d, want 413", route, len(big), resp.StatusCode)
		}
	}
	for route := range communityMatrix {
		if !seen[route] {
			t.Errorf("communityMatrix has %s, which is not a route", route)
		}
	}
}
