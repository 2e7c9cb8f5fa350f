package httpapi_test

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
	"github.com/sxp-network/sxp/clearing/httpapi"
)

// The roles of the clearing house's authorisation matrix, in the order of
// the expectation strings below.
var clearingRoles = []string{"anonymous", "community", "other community", "circle admin", "admin page session", "community member"}

// Expectations: one letter per role, y (let through) or n (refused: 401,
// 403, or a redirect to /admin/login).
const (
	cOpen      = "yyyyyy" // answers everyone
	cCXP       = "nyynnn" // signed by a community's key
	cAdminAPI  = "nnnynn" // the admin API's bearer token
	cAdminPage = "nnnnyn" // a session of the admin pages
	cLoginPage = "yyyyyy"
	cLoginForm = "nnnnnn" // a log-in form without a token is refused, whoever sends it
)

// clearingMatrix is the expected outcome of every route of the clearing
// house (its gin route table) for every role. A route missing here fails
// TestAuthorisationMatrix: a new route needs a row.
var clearingMatrix = map[string]string{
	"GET /":                                        cOpen,
	"GET /healthz":                                 cOpen,
	"GET /readyz":                                  cOpen,
	"GET /metrics":                                 cOpen,
	"POST /server":                                 cCXP,
	"GET /server/clients":                          cCXP,
	"GET /transactions":                            cCXP,
	"PUT /transactions":                            cCXP,
	"GET /admin/api/circle":                        cAdminAPI,
	"PUT /admin/api/circle/policy":                 cAdminAPI,
	"GET /admin/api/communities":                   cAdminAPI,
	"POST /admin/api/communities":                  cAdminAPI,
	"GET /admin/api/communities/:id":               cAdminAPI,
	"POST /admin/api/communities/:id/block":        cAdminAPI,
	"POST /admin/api/communities/:id/unblock":      cAdminAPI,
	"PUT /admin/api/communities/:id/limits":        cAdminAPI,
	"DELETE /admin/api/communities/:id/limits":     cAdminAPI,
	"PUT /admin/api/communities/:id/rate":          cAdminAPI,
	"POST /admin/api/communities/:id/rate/approve": cAdminAPI,
	"PUT /admin/api/communities/:id/floating":      cAdminAPI,
	"GET /admin/api/communities/:id/rates":         cAdminAPI,
	"GET /admin/api/communities/:id/keys":          cAdminAPI,
	"POST /admin/api/communities/:id/keys":         cAdminAPI,
	"GET /admin/api/communities/:id/statement":     cAdminAPI,
	"GET /admin/api/intertrades":                   cAdminAPI,
	"GET /admin/api/integrity":                     cAdminAPI,
	"GET /admin/api/monitoring":                    cAdminAPI,
	"GET /admin/api/reports/summary":               cAdminAPI,
	"GET /admin/api/records":                       cAdminAPI,
	"GET /admin/api/audit":                         cAdminAPI,
	"POST /admin/api/schedule/run":                 cAdminAPI,
	"GET /admin/api/arbiter/contracts":             cAdminAPI,
	"GET /admin/api/arbiter/contracts/:h":          cAdminAPI,
	"GET /admin/arbiter":                           cAdminPage,
	// The arbiter is public: a request is authorised by the party's
	// signature inside it (Sig_i over the resolve message), not by a caller.
	"POST /arbiter/v1/resolve":                 cOpen,
	"GET /arbiter/v1/contracts/:h":             cOpen,
	"GET /arbiter/v1/key":                      cOpen,
	"GET /admin/login":                         cLoginPage,
	"POST /admin/login":                        cLoginForm,
	"GET /admin":                               cAdminPage,
	"POST /admin/logout":                       cAdminPage,
	"GET /admin/trade":                         cAdminPage,
	"GET /admin/alerts":                        cAdminPage,
	"GET /admin/audit":                         cAdminPage,
	"GET /admin/communities/:id":               cAdminPage,
	"POST /admin/communities/:id/block":        cAdminPage,
	"POST /admin/communities/:id/unblock":      cAdminPage,
	"POST /admin/communities/:id/limits":       cAdminPage,
	"GET /admin/communities/new":               cAdminPage,
	"POST /admin/communities/new":              cAdminPage,
	"POST /admin/communities/:id/rate":         cAdminPage,
	"POST /admin/communities/:id/rate/approve": cAdminPage,
	"GET /admin/joins":                         cAdminPage,
	"GET /admin/api/joins":                     cAdminAPI,
	"POST /admin/api/joins/:id/approve":        cAdminAPI,
	"POST /admin/api/joins/:id/refuse":         cAdminAPI,
	"POST /admin/joins/:id/approve":            cAdminPage,
	"POST /admin/joins/:id/refuse":             cAdminPage,
	// Joining: open at the gate, authorised by the asking community's own
	// Ed25519 signature, checked against the key in the request (a
	// submission) or stored with it (a poll); unsigned requests are refused
	// by the handler (join_test.go), after the body and number are checked.
	"POST /join/v1/requests":         cOpen,
	"GET /join/v1/requests/:request": cOpen,
}

// TestAuthorisationMatrix sends every route of the clearing house's route
// table (gin's Routes(), so a new route is covered or fails here) as each
// role and checks who is let through; on every route it also checks the
// body size limit, and on every page the security headers.
func TestAuthorisationMatrix(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, func(o *httpapi.Options) {
		o.Metrics = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "up 1\n") })
	})
	routes := e.srv.Config.Handler.(*gin.Engine).Routes()
	e.addCommunity("c", "1", -10000, 10000) // the one the admin routes act on
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var session, csrf string
	logIn := func() {
		t.Helper()
		resp, err := noRedirect.PostForm(e.srv.URL+"/admin/login", url.Values{"token": {adminToken}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for _, ck := range resp.Cookies() {
			if ck.Name == "sxp_admin" {
				session = ck.Value
			}
		}
		req, _ := http.NewRequest("GET", e.srv.URL+"/admin", nil)
		req.AddCookie(&http.Cookie{Name: "sxp_admin", Value: session})
		resp, err = noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := regexp.MustCompile(`name="csrf" value="([0-9a-f]{64})"`).FindSubmatch(b)
		if m == nil {
			t.Fatalf("no CSRF field on the overview (%d)", resp.StatusCode)
		}
		csrf = string(m[1])
	}
	logIn()

	send := func(role, method, path string, body []byte) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		switch role {
		case "community", "other community":
			id := map[string]string{"community": "a", "other community": "b"}[role]
			if err := (httpsig.Signer{KeyID: id, Key: []byte(e.coms[id].Key())}).Sign(req, body); err != nil {
				t.Fatal(err)
			}
		case "circle admin":
			req.Header.Set("Authorization", "Bearer "+adminToken)
		case "admin page session":
			req.AddCookie(&http.Cookie{Name: "sxp_admin", Value: session})
		case "community member":
			req.Header.Set("Authorization", "Bearer a-session-token-of-a-member-of-community-a")
		}
		if len(body) > 0 && len(body) < 1000 {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}

	paramRE := regexp.MustCompile(`:([a-z_]+)`)
	bigBody := bytes.Repeat([]byte("x"), 64<<10+1)
	sort.Slice(routes, func(i, j int) bool { return routes[i].Path+routes[i].Method < routes[j].Path+routes[j].Method })
	seen := map[string]bool{}
	for _, r := range routes {
		route := r.Method + " " + r.Path
		seen[route] = true
		want, ok := clearingMatrix[route]
		if !ok {
			t.Errorf("%s: no row in clearingMatrix: say who may use it", route)
			continue
		}
		path := paramRE.ReplaceAllString(r.Path, "c")
		for i, role := range clearingRoles {
			var body []byte
			if role == "admin page session" && r.Method == "POST" && strings.HasPrefix(path, "/admin/") && !strings.HasPrefix(path, "/admin/api/") {
				body = []byte(url.Values{"csrf": {csrf}}.Encode())
			}
			resp := send(role, r.Method, path, body)
			loc := resp.Header.Get("Location")
			refused := resp.StatusCode == 401 || resp.StatusCode == 403 || (resp.StatusCode == 303 && strings.HasPrefix(loc, "/admin/login"))
			if route == "POST /admin/logout" && role == "admin page session" {
				// Its success redirects to the log-in page as well: it was
				// let through when the session has ended.
				refused = send(role, "GET", "/admin", nil).StatusCode != http.StatusSeeOther
				logIn()
			}
			if got := map[bool]byte{true: 'n', false: 'y'}[refused]; got != want[i] {
				t.Errorf("%s as %s: got %d %s, want %s", route, role, resp.StatusCode, loc,
					map[byte]string{'y': "let through", 'n': "refused"}[want[i]])
			}
			if resp.StatusCode == http.StatusInternalServerError {
				t.Errorf("%s as %s: got 500", route, role)
			}
			if role == "admin page session" && strings.HasPrefix(path, "/admin") && !strings.HasPrefix(path, "/admin/api") && r.Method == "GET" {
				for h, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
					"Referrer-Policy": "same-origin", "Content-Security-Policy": "frame-ancestors 'none'"} {
					if !strings.Contains(resp.Header.Get(h), v) {
						t.Errorf("%s: header %s %q, want %q", route, h, resp.Header.Get(h), v)
					}
				}
			}
		}
		big := bigBody
		if strings.HasPrefix(path, "/arbiter/") { // the arbiter's own limit (ArbiterMaxBody, 512 KiB by default)
			big = make([]byte, 512<<10+1)
		}
		if resp := send("community", r.Method, path, big); resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s with %d bytes: got %d, want 413", route, len(big), resp.StatusCode)
		}
	}
	for route := range clearingMatrix {
		if !seen[route] {
			t.Errorf("clearingMatrix has %s, which is not a route", route)
		}
	}
}
