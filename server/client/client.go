// Package client is a Go client of the community server's JSON API
// (/api/v1, see openapi.yaml): typed calls for members, sessions, accounts,
// statements, payments (local and member@community), announcements and the
// admin member operations. `sxp demo`, end-to-end tests and the chaos test
// use it instead of building requests by hand.
//
// Dependency rule: this package imports only the standard library. It
// restates the wire shapes of server/httpapi instead of importing them, so
// anything (cmd, tests, deploy tools) may import it and it can never pull a
// server's domain packages, gin or the database into a client. Amounts stay
// decimal strings, exactly as on the wire.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client talks to one community server as one caller (anonymous until
// Token is set, e.g. by Login).
type Client struct {
	BaseURL string       // e.g. http://127.0.0.1:8081, no trailing slash needed
	HTTP    *http.Client // nil: a client with a 30 s timeout
	Token   string       // bearer token; empty: anonymous
}

// New returns a client of the server at baseURL.
func New(baseURL string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/")}
}

// WithToken returns a copy of c that calls as the holder of token.
func (c *Client) WithToken(token string) *Client {
	cp := *c
	cp.Token = token
	return &cp
}

var defaultHTTP = &http.Client{Timeout: 30 * time.Second}

// Error is an error answer of the API: its HTTP status and the body
// {"error":{"code","message","field","cxp"}}.
type Error struct {
	Status  int    // HTTP status
	Code    string // the API's error code, e.g. "over_limit"; "http_<status>" when the body had none
	Message string
	Field   string
	CXP     int    // the circle's code for a refused intertrade, else 0
	Method  string // the request, for messages
	Path    string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s %s: HTTP %d %s: %s", e.Method, e.Path, e.Status, e.Code, e.Message)
	if e.Field != "" {
		s += " (field " + e.Field + ")"
	}
	return s
}

// ErrorCode returns the API error code of err, or "" if err is not an *Error.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// ErrorStatus returns the HTTP status of err, or 0 if err is not an *Error
// (a transport failure: the outcome of a write is then unknown).
func ErrorStatus(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// do sends in (if not nil) as JSON and decodes a 2xx answer into out (if
// not nil); it returns the HTTP status. A non-2xx answer is an *Error.
func (c *Client) do(ctx context.Context, method, path string, in, out any) (int, error) {
	var body io.Reader
	contentType := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body, contentType = bytes.NewReader(b), "application/json"
	}
	return c.send(ctx, method, path, contentType, body, 8<<20, out)
}

// send sends body (of contentType, when not "") and decodes a 2xx answer
// of at most limit bytes into out (if not nil); it returns the HTTP
// status. A non-2xx answer is an *Error.
func (c *Client) send(ctx context.Context, method, path, contentType string, body io.Reader, limit int64, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, body)
	if err != nil {
		return 0, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &Error{Status: resp.StatusCode, Method: method, Path: path}
		var eb struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
				Field   string `json:"field"`
				CXP     int    `json:"cxp"`
			} `json:"error"`
		}
		if json.Unmarshal(raw, &eb) == nil && eb.Error.Code != "" {
			e.Code, e.Message, e.Field, e.CXP = eb.Error.Code, eb.Error.Message, eb.Error.Field, eb.Error.CXP
		} else {
			e.Code, e.Message = fmt.Sprintf("http_%d", resp.StatusCode), strings.TrimSpace(string(raw))
		}
		return resp.StatusCode, e
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: bad answer: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// Member is a member's profile as the API shows it.
type Member struct {
	ID          int64     `json:"id"`
	Username    string    `json:"username"`
	DisplayName string    `json:"display_name"`
	Bio         string    `json:"bio"`
	Contact     string    `json:"contact"`
	Role        string    `json:"role"`   // member | admin
	Status      string    `json:"status"` // pending | active | blocked
	PublicKey   string    `json:"public_key,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// Register creates a member: POST /api/v1/members.
func (c *Client) Register(ctx context.Context, username, password, displayName string) (Member, error) {
	var m Member
	_, err := c.do(ctx, http.MethodPost, "/api/v1/members",
		map[string]string{"username": username, "password": password, "display_name": displayName}, &m)
	return m, err
}

// Session is an open session.
type Session struct {
	Token     string    `json:"token"`
	CSRF      string    `json:"csrf_token"`
	ExpiresAt time.Time `json:"expires_at"`
	Member    Member    `json:"member"`
}

// Login opens a session (POST /api/v1/session) and sets c.Token to it.
func (c *Client) Login(ctx context.Context, username, password string) (Session, error) {
	var s Session
	if _, err := c.do(ctx, http.MethodPost, "/api/v1/session",
		map[string]string{"username": username, "password": password}, &s); err != nil {
		return Session{}, err
	}
	if s.Token == "" {
		return Session{}, fmt.Errorf("POST /api/v1/session: no token in the answer")
	}
	c.Token = s.Token
	return s, nil
}

// Logout ends the session of c.Token: DELETE /api/v1/session.
func (c *Client) Logout(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodDelete, "/api/v1/session", nil, nil)
	return err
}

// Me is the caller's profile: GET /api/v1/me.
func (c *Client) Me(ctx context.Context) (Member, error) {
	var m Member
	_, err := c.do(ctx, http.MethodGet, "/api/v1/me", nil, &m)
	return m, err
}

// Account is a balance with its limits, amounts as decimal strings.
type Account struct {
	Balance  string `json:"balance"`
	Currency string `json:"currency"`
	Min      string `json:"min"`
	Max      string `json:"max"`
}

// Account is the caller's account: GET /api/v1/me/account.
func (c *Client) Account(ctx context.Context) (Account, error) {
	var a Account
	_, err := c.do(ctx, http.MethodGet, "/api/v1/me/account", nil, &a)
	return a, err
}

// StatementLine is one line of a statement.
type StatementLine struct {
	TransferID   int64     `json:"transfer_id"`
	Time         time.Time `json:"time"`
	Counterparty string    `json:"counterparty"`
	Description  string    `json:"description"`
	Amount       string    `json:"amount"` // negative when the holder paid
	Balance      string    `json:"balance"`
}

// Statement is a page of an account's history.
type Statement struct {
	Currency string          `json:"currency"`
	Balance  string          `json:"balance"`
	Opening  string          `json:"opening"`
	Lines    []StatementLine `json:"lines"`
	Next     int64           `json:"next,omitempty"` // cursor for After; 0 at the end
}

// StatementQuery filters a statement; zero fields are left out.
type StatementQuery struct {
	From, To string // dates or times as the API takes them
	Q        string
	After    int64
	Limit    int
}

func (q StatementQuery) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"from": q.From, "to": q.To, "q": q.Q} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.After != 0 {
		v.Set("after", fmt.Sprint(q.After))
	}
	if q.Limit != 0 {
		v.Set("limit", fmt.Sprint(q.Limit))
	}
	return v
}

func withQuery(path string, v url.Values) string {
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// Statement is the caller's statement: GET /api/v1/me/statement.
func (c *Client) Statement(ctx context.Context, q StatementQuery) (Statement, error) {
	var s Statement
	_, err := c.do(ctx, http.MethodGet, withQuery("/api/v1/me/statement", q.values()), nil, &s)
	return s, err
}

// PaymentRequest is the body of POST /api/v1/payments. To is "bob" or
// "bob@community"; Amount a decimal string such as "12.50".
type PaymentRequest struct {
	To             string `json:"to"`
	Amount         string `json:"amount"`
	Description    string `json:"description"`
	IdempotencyKey string `json:"idempotency_key"`
}

// Payment is the answer to a payment, local or through the circle. Local
// payments are always "completed"; a payment to member@community is
// "completed", "pending" (HTTP 202: the circle has not answered yet; repeat
// it with the same idempotency key to learn its outcome) or "failed".
type Payment struct {
	HTTPStatus     int       `json:"-"` // 201 or 202
	ID             int64     `json:"id"`
	Status         string    `json:"status"`
	From           string    `json:"from"`
	To             string    `json:"to"`
	Amount         string    `json:"amount"`
	Currency       string    `json:"currency"`
	Description    string    `json:"description"`
	IdempotencyKey string    `json:"idempotency_key"`
	Balance        string    `json:"balance,omitempty"`  // local: the payer's balance after
	Quantity       string    `json:"quantity,omitempty"` // remote: base units the circle moved
	Ticks          string    `json:"ticks,omitempty"`    // remote: the payer community's rate used
	TempID         string    `json:"temp_id,omitempty"`
	CXPCode        int       `json:"cxp_code,omitempty"`
	Message        string    `json:"message,omitempty"`
	Reason         string    `json:"reason,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
}

// Pay makes a payment: POST /api/v1/payments.
func (c *Client) Pay(ctx context.Context, p PaymentRequest) (Payment, error) {
	var out Payment
	st, err := c.do(ctx, http.MethodPost, "/api/v1/payments", p, &out)
	out.HTTPStatus = st
	return out, err
}

// Announcement is an offer or a want.
type Announcement struct {
	ID           int64     `json:"id"`
	Kind         string    `json:"kind"` // offer | want
	Title        string    `json:"title"`
	Description  string    `json:"description"`
	Category     string    `json:"category"`
	CategoryName string    `json:"category_name"`
	Price        *string   `json:"price"` // nil: unvalued
	Currency     string    `json:"currency"`
	Place        string    `json:"place"`
	Lat          *float64  `json:"lat"`
	Lon          *float64  `json:"lon"`
	ExpiresAt    time.Time `json:"expires_at"`
	Status       string    `json:"status"`
	Author       string    `json:"author"`
	Origin       string    `json:"origin"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// NewAnnouncement is the body of POST /api/v1/announcements; empty
// optional fields are left out.
type NewAnnouncement struct {
	Kind        string     `json:"kind"`
	Title       string     `json:"title"`
	Description string     `json:"description,omitempty"`
	Category    string     `json:"category,omitempty"`
	Price       *string    `json:"price,omitempty"`
	Place       string     `json:"place,omitempty"`
	Lat         *float64   `json:"lat,omitempty"`
	Lon         *float64   `json:"lon,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
}

// CreateAnnouncement posts an offer or want: POST /api/v1/announcements.
func (c *Client) CreateAnnouncement(ctx context.Context, a NewAnnouncement) (Announcement, error) {
	var out Announcement
	_, err := c.do(ctx, http.MethodPost, "/api/v1/announcements", a, &out)
	return out, err
}

// AnnouncementQuery filters a list; zero fields are left out.
type AnnouncementQuery struct {
	Q, Kind, Category, Member string
	Limit, Offset             int
}

// AnnouncementPage is one page of a list or search.
type AnnouncementPage struct {
	Announcements []Announcement `json:"announcements"`
	Total         int64          `json:"total"`
	Limit         int            `json:"limit"`
	Offset        int            `json:"offset"`
	NextOffset    *int           `json:"next_offset"`
}

// Announcements lists or searches: GET /api/v1/announcements.
func (c *Client) Announcements(ctx context.Context, q AnnouncementQuery) (AnnouncementPage, error) {
	v := url.Values{}
	for k, s := range map[string]string{"q": q.Q, "kind": q.Kind, "category": q.Category, "member": q.Member} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Limit != 0 {
		v.Set("limit", fmt.Sprint(q.Limit))
	}
	if q.Offset != 0 {
		v.Set("offset", fmt.Sprint(q.Offset))
	}
	var p AnnouncementPage
	_, err := c.do(ctx, http.MethodGet, withQuery("/api/v1/announcements", v), nil, &p)
	return p, err
}

// Category is an announcement category.
type Category struct {
	Slug string `json:"slug"`
	Name string `json:"name"`
}

// Categories lists the community's categories: GET /api/v1/categories.
func (c *Client) Categories(ctx context.Context) ([]Category, error) {
	var out struct {
		Categories []Category `json:"categories"`
	}
	_, err := c.do(ctx, http.MethodGet, "/api/v1/categories", nil, &out)
	return out.Categories, err
}

// AdminMember is a member with their account, as admins see them.
type AdminMember struct {
	Member
	Account Account `json:"account"`
}

// AdminMembers lists members (status "" for all, or pending|active|blocked):
// GET /api/v1/admin/members.
func (c *Client) AdminMembers(ctx context.Context, status string) ([]AdminMember, error) {
	v := url.Values{}
	if status != "" {
		v.Set("status", status)
	}
	var out struct {
		Members []AdminMember `json:"members"`
	}
	_, err := c.do(ctx, http.MethodGet, withQuery("/api/v1/admin/members", v), nil, &out)
	return out.Members, err
}

func memberPath(username, suffix string) string {
	return "/api/v1/admin/members/" + url.PathEscape(username) + suffix
}

// AdminMember is one member: GET /api/v1/admin/members/{username}.
func (c *Client) AdminMember(ctx context.Context, username string) (AdminMember, error) {
	var m AdminMember
	_, err := c.do(ctx, http.MethodGet, memberPath(username, ""), nil, &m)
	return m, err
}

func (c *Client) adminPost(ctx context.Context, method, username, suffix string, in any) (AdminMember, error) {
	var m AdminMember
	_, err := c.do(ctx, method, memberPath(username, suffix), in, &m)
	return m, err
}

// Approve activates a pending member.
func (c *Client) Approve(ctx context.Context, username string) (AdminMember, error) {
	return c.adminPost(ctx, http.MethodPost, username, "/approve", nil)
}

// Block blocks a member.
func (c *Client) Block(ctx context.Context, username string) (AdminMember, error) {
	return c.adminPost(ctx, http.MethodPost, username, "/block", nil)
}

// Unblock unblocks a member.
func (c *Client) Unblock(ctx context.Context, username string) (AdminMember, error) {
	return c.adminPost(ctx, http.MethodPost, username, "/unblock", nil)
}

// SetLimits sets a member's balance limits (decimal strings, min <= 0 <= max).
func (c *Client) SetLimits(ctx context.Context, username, min, max string) (AdminMember, error) {
	return c.adminPost(ctx, http.MethodPut, username, "/limits", map[string]string{"min": min, "max": max})
}

// SetRole makes a member "member" or "admin".
func (c *Client) SetRole(ctx context.Context, username, role string) (AdminMember, error) {
	return c.adminPost(ctx, http.MethodPut, username, "/role", map[string]string{"role": role})
}

// AdminStatement is a member's statement: GET /api/v1/admin/members/{username}/statement.
func (c *Client) AdminStatement(ctx context.Context, username string, q StatementQuery) (Statement, error) {
	var s Statement
	_, err := c.do(ctx, http.MethodGet, withQuery(memberPath(username, "/statement"), q.values()), nil, &s)
	return s, err
}
