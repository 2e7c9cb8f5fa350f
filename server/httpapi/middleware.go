package httpapi

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/server/members"
)

// Names of the cookies.
const (
	sessionCookie = "sxp_session"
	preCSRFCookie = "sxp_csrf" // CSRF token of forms shown before log-in
)

// Keys of the gin context.
const (
	ctxSession   = "sxp.session"
	ctxViaCookie = "sxp.via_cookie"
)

// authenticate resolves "Authorization: Bearer TOKEN" or, failing that,
// the session cookie to the current member and stores the session in the
// context. It never refuses: requireMember and requireAdmin do. A bad
// bearer token is answered 401 at once, so API clients learn it.
func (h *Handlers) authenticate(c *gin.Context) {
	if c.FullPath() == metricsPath {
		c.Next() // its bearer token is the metrics token, not a session (serveMetrics)
		return
	}
	token, viaCookie := "", false
	if auth := c.GetHeader("Authorization"); auth != "" {
		scheme, t, _ := strings.Cut(auth, " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(t) == "" {
			writeError(c, http.StatusUnauthorized, "unauthenticated", "the Authorization header must be 'Bearer TOKEN'", "")
			return
		}
		token = strings.TrimSpace(t)
	} else if ck, err := c.Cookie(sessionCookie); err == nil && ck != "" {
		token, viaCookie = ck, true
	}
	if token == "" {
		c.Next()
		return
	}
	sess, err := h.Members.Authenticate(c.Request.Context(), token)
	if err != nil {
		if members.CodeOf(err) != members.CodeUnauthenticated && members.CodeOf(err) != members.CodeNotFound {
			h.fail(c, err)
			return
		}
		if !viaCookie {
			h.fail(c, err)
			return
		}
		h.clearSessionCookie(c) // a stale cookie: carry on logged out
		c.Next()
		return
	}
	sess.Token = token
	c.Set(ctxSession, sess)
	c.Set(ctxViaCookie, viaCookie)
	c.Next()
}

// currentSession returns the logged-in session, if any.
func currentSession(c *gin.Context) (members.Session, bool) {
	v, ok := c.Get(ctxSession)
	if !ok {
		return members.Session{}, false
	}
	s, ok := v.(members.Session)
	return s, ok
}

// currentMember returns the logged-in member (id, username, role, account).
// Behind requireMember it is always there.
func currentMember(c *gin.Context) members.Member {
	s, _ := currentSession(c)
	return s.Member
}

// requireMember refuses API requests without a valid session with 401. A
// state-changing API request authenticated by cookie (from a page's
// script) must carry the session's CSRF token in X-CSRF-Token.
func (h *Handlers) requireMember(c *gin.Context) {
	s, ok := currentSession(c)
	if !ok {
		writeError(c, http.StatusUnauthorized, "unauthenticated", "log in first: send Authorization: Bearer TOKEN from POST /api/v1/session", "")
		return
	}
	if c.GetBool(ctxViaCookie) && unsafeMethod(c.Request.Method) && !sameToken(c.GetHeader("X-CSRF-Token"), s.CSRF) {
		writeError(c, http.StatusForbidden, "csrf", "missing or wrong X-CSRF-Token for a cookie session", "")
		return
	}
	c.Next()
}

// requireAdmin refuses non-admins with 403 (after requireMember).
func (h *Handlers) requireAdmin(c *gin.Context) {
	if !currentMember(c).IsAdmin() {
		writeError(c, http.StatusForbidden, "forbidden", "only the community's admins may do this", "")
		return
	}
	c.Next()
}

// requirePageMember sends visitors without a session to the log-in page
// and checks the CSRF token of every form posted.
func (h *Handlers) requirePageMember(c *gin.Context) {
	s, ok := currentSession(c)
	if !ok {
		c.Redirect(http.StatusSeeOther, "/login")
		c.Abort()
		return
	}
	if unsafeMethod(c.Request.Method) && !sameToken(c.PostForm("csrf"), s.CSRF) {
		h.pageError(c, http.StatusForbidden, h.tr(c, "error.form_expired"))
		return
	}
	c.Next()
}

// requirePageAdmin refuses non-admins on admin pages.
func (h *Handlers) requirePageAdmin(c *gin.Context) {
	if !currentMember(c).IsAdmin() {
		h.pageError(c, http.StatusForbidden, h.tr(c, "error.admins_only"))
		return
	}
	c.Next()
}

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

func sameToken(got, want string) bool {
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// logRequests logs each request by route template, not raw path.
func (h *Handlers) logRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if h.Metrics != nil {
		h.Metrics.Observe(route, c.Request.Method, c.Writer.Status(), time.Since(start))
	}
	if route == "" {
		route = "unmatched"
	}
	level := slog.LevelDebug
	if c.Writer.Status() >= 500 {
		level = slog.LevelWarn
	}
	h.logger().Log(c.Request.Context(), level, "http", "method", c.Request.Method, "route", route,
		"status", c.Writer.Status(), "ms", time.Since(start).Milliseconds())
}

// securityHeaders sets the headers every answer carries.
// limitBody bounds every request body to maxBody, whatever the route: a
// declared length above it is refused with 413 before any handler runs
// (before authentication too), an undeclared (chunked) body stops being
// read past it, which bindJSON and form parsing then refuse.
//
// A picture upload (uploadRoutes) may be larger: maxUploadBody.
func (h *Handlers) limitBody(c *gin.Context) {
	limit := int64(maxBody)
	upload := uploadRoutes[c.Request.Method+" "+c.FullPath()]
	if upload {
		limit = maxUploadBody
	}
	if c.Request.ContentLength > limit {
		if upload && !strings.HasPrefix(c.FullPath(), "/api/") { // a picture form: say it on a page
			h.pageError(c, http.StatusRequestEntityTooLarge, h.tr(c, "error.picture_too_large"))
			return
		}
		writeError(c, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is larger than %d bytes", limit), "")
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	c.Next()
}

func securityHeaders(c *gin.Context) {
	hd := c.Writer.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'")
	c.Next()
}

func (h *Handlers) setSessionCookie(c *gin.Context, s members.Session) {
	http.SetCookie(c.Writer, &http.Cookie{Name: sessionCookie, Value: s.Token, Path: "/", Expires: s.ExpiresAt,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: h.SecureCookies})
}

func (h *Handlers) clearSessionCookie(c *gin.Context) {
	http.SetCookie(c.Writer, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: h.SecureCookies})
}
