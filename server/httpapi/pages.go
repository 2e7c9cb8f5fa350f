package httpapi

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/server/members"
)

// templatesFS holds the pages. templates/layout.html defines "layout",
// which every page wraps around its own "content" template; a page is
// rendered by its file name, e.g. h.render(c, 200, "home.html", p). Add a
// page by adding templates/NAME.html that defines "content".
//
//go:embed templates/*.html
var templatesFS embed.FS

// page is what every template receives.
type page struct {
	Title     string
	Community Community
	Member    *members.Member // nil when logged out
	CSRF      string          // echo in every form as <input name="csrf">
	Notice    string          // a success message
	Error     string          // a refusal, in plain words
	Field     string          // the field at fault
	Unread    int             // messages not read yet, in the navigation bar
	Data      any             // the page's own data
}

func (h *Handlers) templateFuncs() template.FuncMap {
	cur := h.Community.Currency
	return template.FuncMap{
		"money":    func(v int64) string { return cur.Format(v) },
		"currency": func() string { return cur.Code },
		"date":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") },
		"datep": func(t *time.Time) string {
			if t == nil {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04")
		},
		"day":    func(t time.Time) string { return t.UTC().Format("2006-01-02") },
		"clock":  func(t time.Time) string { return t.UTC().Format("15:04") },
		"neg":    func(v int64) bool { return v < 0 },
		"base64": base64Key,
		// E-mail features show only when the community sends e-mail.
		"mailOn": h.mailOn,
		// The colour of the header, the manifest and the app icons.
		"themeColor": func() string { return themeColor },
		"deref": func(v *int64) int64 {
			if v == nil {
				return 0
			}
			return *v
		},

		// The admins' members page draws balances against limits (charts.go).
		"membersChart": func(rows []adminRow) template.HTML { return membersChart(rows, cur) },
	}
}

// loadPages parses the layout with each page.
func (h *Handlers) loadPages() {
	h.pages = map[string]*template.Template{}
	names, err := fs.Glob(templatesFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, name := range names {
		base := path.Base(name)
		if base == "layout.html" {
			continue
		}
		t := template.New(base).Funcs(h.templateFuncs())
		h.pages[base] = template.Must(t.ParseFS(templatesFS, "templates/layout.html", name))
	}
}

// newPage fills in what every page needs from the request.
func (h *Handlers) newPage(c *gin.Context, title string) page {
	p := page{Title: title, Community: h.Community}
	if s, ok := currentSession(c); ok {
		m := s.Member
		p.Member, p.CSRF = &m, s.CSRF
		if h.Messages != nil {
			n, err := h.Messages.Unread(c.Request.Context(), m.ID)
			if err != nil {
				h.logger().Warn("counting unread messages", "err", err)
			}
			p.Unread = n
		}
	}
	return p
}

// render writes a page with status.
func (h *Handlers) render(c *gin.Context, status int, name string, p page) {
	t, ok := h.pages[name]
	if !ok {
		h.logger().Error("no template", "name", name)
		c.String(http.StatusInternalServerError, "internal error")
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		h.logger().Error("template", "name", name, "err", err)
		c.String(http.StatusInternalServerError, "internal error")
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// pageError shows a short error page and aborts.
func (h *Handlers) pageError(c *gin.Context, status int, message string) {
	p := h.newPage(c, http.StatusText(status))
	p.Error = message
	h.render(c, status, "error.html", p)
	c.Abort()
}

// pageRefusal puts a domain refusal into p (and its status), or shows the
// error page for internal errors. It returns the status to answer.
func (h *Handlers) pageRefusal(c *gin.Context, p *page, err error) int {
	status, e, ok := describe(err)
	if !ok {
		h.logger().Error("page failed", "route", c.FullPath(), "err", err)
		p.Error = "Something went wrong on the server; it has been logged. Please try again."
		return http.StatusInternalServerError
	}
	p.Error, p.Field = e.Message, e.Field
	return status
}

// preCSRF returns the CSRF token of the log-in and registration forms,
// kept in a SameSite cookie until a session exists.
func (h *Handlers) preCSRF(c *gin.Context) string {
	if v, err := c.Cookie(preCSRFCookie); err == nil && len(v) >= 32 {
		return v
	}
	b := make([]byte, 24)
	rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(c.Writer, &http.Cookie{Name: preCSRFCookie, Value: v, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: h.SecureCookies})
	return v
}

// checkPreCSRF checks the form's token against the cookie.
func (h *Handlers) checkPreCSRF(c *gin.Context) bool {
	v, err := c.Cookie(preCSRFCookie)
	if err != nil || !sameToken(c.PostForm("csrf"), v) {
		h.pageError(c, http.StatusForbidden, "This form has expired. Go back, reload the page and try again.")
		return false
	}
	return true
}

// newFormKey is the idempotency key of a payment form, so that sending
// the same form twice pays once.
func newFormKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "form-" + base64.RawURLEncoding.EncodeToString(b)
}

// listLinks are the links to the next and previous pages of a list at path
// with the parameters query (any offset in it is replaced): one page shows
// limit items from offset, and next is the next page's offset (-1 after the
// last page). A link is "" where there is no such page.
func listLinks(path string, query url.Values, offset, limit, next int) (nextLink, prevLink string) {
	link := func(offset int) string {
		v := url.Values{}
		for k, vs := range query {
			v[k] = vs
		}
		v.Del("offset")
		if offset > 0 {
			v.Set("offset", strconv.Itoa(offset))
		}
		if len(v) == 0 {
			return path
		}
		return path + "?" + v.Encode()
	}
	if next >= 0 {
		nextLink = link(next)
	}
	if offset > 0 {
		prevLink = link(max(0, offset-limit))
	}
	return nextLink, prevLink
}
