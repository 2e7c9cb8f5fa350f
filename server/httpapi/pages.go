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
	Lang      string          // the page's language, e.g. "es" (i18n.go)
	Here      string          // the page's own path, for the language menu
}

// Languages are the languages of the menu.
func (page) Languages() []pageLanguage { return pageLanguages }

func (h *Handlers) templateFuncs() template.FuncMap {
	cur := h.Community.Currency
	return template.FuncMap{
		// money, num, date, datep, day, clock and t depend on the
		// language (langFuncs); moneyValue is an amount for a form's
		// input, in the grammar the forms parse ("12.50").
		"moneyValue": func(v int64) string { return cur.Format(v) },
		"currency":   func() string { return cur.Code },
		"neg":        func(v int64) bool { return v < 0 },
		"base64":     base64Key,
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

// loadPages parses the layout with each page, once per language.
func (h *Handlers) loadPages() {
	cat, err := loadCatalogue()
	if err != nil {
		panic(err)
	}
	h.catalogue = cat
	h.pages = map[string]map[string]*template.Template{}
	names, err := fs.Glob(templatesFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, l := range pageLanguages {
		h.pages[l.Code] = map[string]*template.Template{}
		for _, name := range names {
			base := path.Base(name)
			if base == "layout.html" {
				continue
			}
			t := template.New(base).Funcs(h.templateFuncs()).Funcs(h.langFuncs(l.Code))
			h.pages[l.Code][base] = template.Must(t.ParseFS(templatesFS, "templates/layout.html", name))
		}
	}
}

// newPage fills in what every page needs from the request.
func (h *Handlers) newPage(c *gin.Context, title string) page {
	p := page{Title: title, Community: h.Community, Lang: h.pageLang(c), Here: "/"}
	if c.Request.Method == http.MethodGet {
		p.Here = c.Request.URL.RequestURI()
	}
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
	if p.Lang == "" {
		p.Lang = h.pageLang(c)
	}
	t, ok := h.pages[p.Lang][name]
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
	p := h.newPage(c, h.statusText(c, status))
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
		p.Error = h.tr(c, "error.internal")
		return http.StatusInternalServerError
	}
	p.Error, p.Field = h.localRefusal(c, e.Message), e.Field
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
		h.pageError(c, http.StatusForbidden, h.tr(c, "error.form_expired"))
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

// statusText is the title of an error page: the status's name in the
// request's language.
func (h *Handlers) statusText(c *gin.Context, status int) string {
	if s, err := h.catalogue.tr(h.pageLang(c), "status."+strconv.Itoa(status)); err == nil {
		return s
	}
	return http.StatusText(status)
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
