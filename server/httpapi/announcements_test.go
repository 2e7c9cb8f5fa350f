package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/migrations/pgtest"
	"github.com/sxp-network/sxp/server/announce"
	"github.com/sxp-network/sxp/server/httpapi"
	"github.com/sxp-network/sxp/server/members"
	"github.com/sxp-network/sxp/server/payments"
	"github.com/sxp-network/sxp/server/pictures"
)

// offersEnv is a community server's handler with members alice, bob and
// carol (an admin), each logged in.
type offersEnv struct {
	t        *testing.T
	pool     *pgxpool.Pool
	srv      *httptest.Server
	sessions map[string]members.Session
}

// offersNow is the clock of the announcements service in these tests.
var offersNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newOffersEnv(t *testing.T) *offersEnv {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	led := ledger.New(pool, ledger.Options{})
	mem := members.New(pool, led, members.Options{Currency: "LEAF", DefaultMin: -10000, DefaultMax: 10000})
	ann, err := announce.New(ctx, pool, announce.Config{Now: func() time.Time { return offersNow }, BaseURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatalf("announce.New: %v", err)
	}
	cur := payments.Currency{Code: "LEAF", Divisions: 2}
	h := &httpapi.Handlers{
		Community:     httpapi.Community{ID: "leeds", Name: "Leeds LETS", Currency: cur, PublicURL: "http://127.0.0.1:1", Registration: "open"},
		Members:       mem,
		Payments:      payments.New(pool, led, mem, cur, nil),
		Announcements: ann,
		Pictures:      pictures.New(pool, nil),
		Ready:         func(context.Context) error { return nil },
	}
	e := &offersEnv{t: t, pool: pool, srv: httptest.NewServer(h.Engine()), sessions: map[string]members.Session{}}
	t.Cleanup(e.srv.Close)
	for _, u := range []struct {
		name string
		role members.Role
	}{{"alice", members.RoleMember}, {"bob", members.RoleMember}, {"carol", members.RoleAdmin}} {
		if _, err := mem.Add(ctx, members.Registration{Username: u.name, Password: "password-" + u.name, DisplayName: u.name}, u.role); err != nil {
			t.Fatalf("add %s: %v", u.name, err)
		}
		s, err := mem.Login(ctx, members.LoginRequest{Username: u.name, Password: "password-" + u.name, IP: "127.0.0.1"})
		if err != nil {
			t.Fatalf("login %s: %v", u.name, err)
		}
		e.sessions[u.name] = s
	}
	return e
}

// do sends an API request as user ("" for nobody) and returns the status
// and the body.
func (e *offersEnv) do(user, method, path, body string) (int, string) {
	e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+e.sessions[user].Token)
	}
	return e.send(req)
}

func (e *offersEnv) send(req *http.Request) (int, string) {
	e.t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusSeeOther {
		return resp.StatusCode, resp.Header.Get("Location")
	}
	return resp.StatusCode, string(b)
}

// page sends a page request as user with the session cookie; a POST form
// carries the session's CSRF token unless csrf is false.
func (e *offersEnv) page(user, method, path string, form url.Values, csrf bool) (int, string) {
	e.t.Helper()
	var r io.Reader
	if method == http.MethodPost {
		if form == nil {
			form = url.Values{}
		}
		if csrf {
			form.Set("csrf", e.sessions[user].CSRF)
		}
		r = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.srv.URL+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.AddCookie(&http.Cookie{Name: "sxp_session", Value: e.sessions[user].Token})
	return e.send(req)
}

func (e *offersEnv) count(table string) int64 {
	e.t.Helper()
	var n int64
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		e.t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// offerJSON is an announcement as the API answers it.
type offerJSON struct {
	ID           int64                               `json:"id"`
	Kind         string                              `json:"kind"`
	Title        string                              `json:"title"`
	Description  string                              `json:"description"`
	Category     string                              `json:"category"`
	CategoryName string                              `json:"category_name"`
	Price        *string                             `json:"price"`
	Currency     string                              `json:"currency"`
	Place        string                              `json:"place"`
	Lat          *float64                            `json:"lat"`
	Lon          *float64                            `json:"lon"`
	ExpiresAt    string                              `json:"expires_at"`
	Status       string                              `json:"status"`
	Author       string                              `json:"author"`
	Origin       *struct{ ID, Name, BaseURL string } `json:"origin"`
	Rank         *float64                            `json:"rank"`
	DistanceKm   *float64                            `json:"distance_km"`
}

type offerListJSON struct {
	Announcements []offerJSON `json:"announcements"`
	Total         int64       `json:"total"`
	Limit         int         `json:"limit"`
	Offset        int         `json:"offset"`
	NextOffset    *int        `json:"next_offset"`
}

type errJSON struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

func decode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return v
}

// post creates an announcement and returns its id.
func (e *offersEnv) post(user, body string) int64 {
	e.t.Helper()
	status, out := e.do(user, "POST", "/api/v1/announcements", body)
	if status != http.StatusCreated {
		e.t.Fatalf("POST %s: got %d %s, want 201", body, status, out)
	}
	return decode[offerJSON](e.t, out).ID
}

func TestAnnouncementsAPICreateAndRead(t *testing.T) {
	t.Parallel()
	e := newOffersEnv(t)
	status, body := e.do("alice", "POST", "/api/v1/announcements", `{"kind":"offer","title":"Bike repair",
		"description":"Flat tyres and brakes.","category":"services","price":"12.50","place":"Leeds",
		"lat":53.8008,"lon":-1.5491,"expires_at":"2026-04-01T00:00:00Z"}`)
	if status != http.StatusCreated {
		t.Fatalf("POST: got %d %s, want 201", status, body)
	}
	a := decode[offerJSON](t, body)
	if a.ID != 1 || a.Kind != "offer" || a.Title != "Bike repair" || a.Category != "services" || a.CategoryName != "Services" ||
		a.Price == nil || *a.Price != "12.50" || a.Currency != "LEAF" || a.Place != "Leeds" || *a.Lat != 53.8008 ||
		*a.Lon != -1.5491 || a.ExpiresAt != "2026-04-01T00:00:00Z" || a.Status != "active" || a.Author != "alice" ||
		a.Origin != nil || a.Rank != nil || a.DistanceKm != nil {
		t.Errorf("got %+v", a)
	}
	e.post("bob", `{"kind":"want","title":"Bicycle pump","category":"goods","price":null}`)
	e.post("carol", `{"kind":"offer","title":"Eggs","description":"From my bike shed hens.","category":"food","price":"3"}`)

	status, body = e.do("bob", "GET", "/api/v1/announcements/2", "")
	b := decode[offerJSON](t, body)
	if status != 200 || b.Price != nil || b.Author != "bob" || b.ExpiresAt != "2026-05-30T12:00:00Z" {
		t.Errorf("GET 2: got %d %+v, want unvalued by bob expiring 2026-05-30T12:00:00Z", status, b)
	}

	list := func(query string) offerListJSON {
		t.Helper()
		status, body := e.do("bob", "GET", "/api/v1/announcements"+query, "")
		if status != 200 {
			t.Fatalf("GET %s: got %d %s", query, status, body)
		}
		return decode[offerListJSON](t, body)
	}
	idsOf := func(l offerListJSON) []int64 {
		var out []int64
		for _, a := range l.Announcements {
			out = append(out, a.ID)
		}
		return out
	}
	tests := []struct {
		query string
		want  []int64
	}{
		{"", []int64{3, 2, 1}},
		{"?q=bikes", []int64{1, 3}}, // title (A) above description (C)
		{"?q=bike&kind=offer&category=food", []int64{3}},
		{"?kind=want", []int64{2}},
		{"?min_price=3&max_price=12.50", []int64{3, 1}},
		{"?min_price=3.01", []int64{1}},
		{"?member=alice", []int64{1}},
		{"?lat=53.8&lon=-1.55&radius_km=1", []int64{1}},
		{"?limit=2", []int64{3, 2}},
		{"?limit=2&offset=2", []int64{1}},
		{"?q=submarine", nil},
	}
	for _, tt := range tests {
		if got := idsOf(list(tt.query)); !slices.Equal(got, tt.want) {
			t.Errorf("GET %s: got %v, want %v", tt.query, got, tt.want)
		}
	}
	l := list("?q=bike&lat=53.8008&lon=-1.5491")
	if l.Total != 2 || l.NextOffset != nil || l.Announcements[0].Rank == nil || *l.Announcements[0].Rank <= 0 ||
		l.Announcements[0].DistanceKm == nil || *l.Announcements[0].DistanceKm != 0 || l.Announcements[1].DistanceKm != nil {
		t.Errorf("got %+v, want ranks and the distance of 1 only", l)
	}
	if l := list("?limit=2"); l.Total != 3 || l.NextOffset == nil || *l.NextOffset != 2 || l.Limit != 2 {
		t.Errorf("got total %d next %v limit %d, want 3, 2, 2", l.Total, l.NextOffset, l.Limit)
	}

	status, body = e.do("", "GET", "/api/v1/announcements", "")
	if status != http.StatusUnauthorized {
		t.Errorf("GET without a session: got %d %s, want 401", status, body)
	}
}

func TestAnnouncementsAPIBadInput(t *testing.T) {
	t.Parallel()
	e := newOffersEnv(t)
	e.post("alice", `{"kind":"offer","title":"Bike repair","category":"services","price":"12.50"}`)
	before := func() string {
		_, b := e.do("alice", "GET", "/api/v1/announcements/1", "")
		return b
	}
	original := before()
	long := strings.Repeat("x", 121)
	longDesc := strings.Repeat("x", 5001)
	create := []struct {
		name, body, field string
		status            int
	}{
		{"bad kind", `{"kind":"swap","title":"x","category":"food"}`, "kind", 400},
		{"kind not a string", `{"kind":1,"title":"x","category":"food"}`, "kind", 400},
		{"no kind", `{"title":"x","category":"food"}`, "kind", 400},
		{"empty title", `{"kind":"offer","title":"","category":"food"}`, "title", 400},
		{"blank title", `{"kind":"offer","title":"   ","category":"food"}`, "title", 400},
		{"no title", `{"kind":"offer","category":"food"}`, "title", 400},
		{"title too long", `{"kind":"offer","title":"` + long + `","category":"food"}`, "title", 400},
		{"description too long", `{"kind":"offer","title":"x","category":"food","description":"` + longDesc + `"}`, "description", 400},
		{"place too long", `{"kind":"offer","title":"x","category":"food","place":"` + strings.Repeat("p", 201) + `"}`, "place", 400},
		{"unknown category", `{"kind":"offer","title":"x","category":"boats"}`, "category", 400},
		{"no category", `{"kind":"offer","title":"x"}`, "category", 400},
		{"negative price", `{"kind":"offer","title":"x","category":"food","price":"-1.00"}`, "price", 400},
		{"over-precise price", `{"kind":"offer","title":"x","category":"food","price":"1.234"}`, "price", 400},
		{"price as a number", `{"kind":"offer","title":"x","category":"food","price":12.5}`, "price", 400},
		{"price not a number", `{"kind":"offer","title":"x","category":"food","price":"12,50"}`, "price", 400},
		{"empty price", `{"kind":"offer","title":"x","category":"food","price":""}`, "price", 400},
		{"price with exponent", `{"kind":"offer","title":"x","category":"food","price":"1e3"}`, "price", 400},
		{"lat too big", `{"kind":"offer","title":"x","category":"food","lat":91,"lon":0}`, "lat", 400},
		{"lon too small", `{"kind":"offer","title":"x","category":"food","lat":0,"lon":-181}`, "lon", 400},
		{"lat without lon", `{"kind":"offer","title":"x","category":"food","lat":53}`, "lon", 400},
		{"lat as a string", `{"kind":"offer","title":"x","category":"food","lat":"53","lon":1}`, "lat", 400},
		{"bad expiry", `{"kind":"offer","title":"x","category":"food","expires_at":"next week"}`, "expires_at", 400},
		{"past expiry", `{"kind":"offer","title":"x","category":"food","expires_at":"2026-02-01T00:00:00Z"}`, "expires_at", 400},
		{"expiry too far", `{"kind":"offer","title":"x","category":"food","expires_at":"2030-01-01T00:00:00Z"}`, "expires_at", 400},
		{"expiry a number", `{"kind":"offer","title":"x","category":"food","expires_at":1}`, "expires_at", 400},
		{"status on create", `{"kind":"offer","title":"x","category":"food","status":"closed"}`, "status", 400},
		{"unknown field", `{"kind":"offer","title":"x","category":"food","colour":"red"}`, "colour", 400},
		{"two objects", `{"kind":"offer","title":"x","category":"food"}{}`, "", 400},
		{"malformed", `{"kind":"offer",`, "", 400},
		{"an array", `[]`, "", 400},
	}
	for _, tt := range create {
		t.Run("POST "+tt.name, func(t *testing.T) {
			status, body := e.do("bob", "POST", "/api/v1/announcements", tt.body)
			got := decode[errJSON](t, body)
			if status != tt.status || got.Error.Field != tt.field || got.Error.Message == "" {
				t.Errorf("got %d %s, want %d on field %q", status, body, tt.status, tt.field)
			}
		})
	}
	if n := e.count("announcements"); n != 1 {
		t.Errorf("got %d announcements, want 1", n)
	}

	patch := []struct {
		name, body, field string
	}{
		{"bad kind", `{"kind":"swap"}`, "kind"},
		{"empty title", `{"title":""}`, "title"},
		{"null title", `{"title":null}`, "title"},
		{"long title", `{"title":"` + long + `"}`, "title"},
		{"long description", `{"description":"` + longDesc + `"}`, "description"},
		{"unknown category", `{"category":"boats"}`, "category"},
		{"negative price", `{"price":"-0.01"}`, "price"},
		{"over-precise price", `{"price":"0.001"}`, "price"},
		{"bad lat", `{"lat":-90.5,"lon":0}`, "lat"},
		{"lat alone", `{"lat":1}`, "lat"},
		{"bad expiry", `{"expires_at":"2026-13-01"}`, "expires_at"},
		{"past expiry", `{"expires_at":"2026-01-01"}`, "expires_at"},
		{"bad status", `{"status":"expired"}`, "status"},
		{"unknown field", `{"id":7}`, "id"},
	}
	for _, tt := range patch {
		t.Run("PATCH "+tt.name, func(t *testing.T) {
			status, body := e.do("alice", "PATCH", "/api/v1/announcements/1", tt.body)
			got := decode[errJSON](t, body)
			if status != 400 || got.Error.Field != tt.field {
				t.Errorf("got %d %s, want 400 on field %q", status, body, tt.field)
			}
			if now := before(); now != original {
				t.Errorf("announcement changed: got %s, want %s", now, original)
			}
		})
	}

	list := []struct {
		query, field string
	}{
		{"?kind=swap", "kind"},
		{"?category=boats", "category"},
		{"?min_price=-1", "min_price"},
		{"?max_price=1.234", "max_price"},
		{"?min_price=5&max_price=4", "min_price"},
		{"?lat=abc&lon=1", "lat"},
		{"?lat=NaN&lon=1", "lat"},
		{"?lat=1&lon=200", "lon"},
		{"?radius_km=5", "radius_km"},
		{"?lat=1&lon=1&radius_km=0", "radius_km"},
		{"?limit=101", "limit"},
		{"?limit=0", "limit"},
		{"?limit=x", "limit"},
		{"?offset=-1", "offset"},
		{"?include_inactive=maybe", "include_inactive"},
		{"?colour=red", "colour"},
		{"?kind=offer&kind=want", "kind"},
		{"?q=" + strings.Repeat("a", 501), "q"},
	}
	for _, tt := range list {
		t.Run("GET "+tt.query[:min(len(tt.query), 30)], func(t *testing.T) {
			status, body := e.do("alice", "GET", "/api/v1/announcements"+tt.query, "")
			got := decode[errJSON](t, body)
			if status != 400 || got.Error.Field != tt.field {
				t.Errorf("got %d %s, want 400 on field %q", status, body, tt.field)
			}
		})
	}

	for _, path := range []string{"/api/v1/announcements/abc", "/api/v1/announcements/0", "/api/v1/announcements/99"} {
		for _, m := range []string{"GET", "PATCH", "DELETE"} {
			body := ""
			if m == "PATCH" {
				body = `{"title":"y"}`
			}
			if status, out := e.do("alice", m, path, body); status != 404 {
				t.Errorf("%s %s: got %d %s, want 404", m, path, status, out)
			}
		}
	}
	if status, out := e.do("alice", "POST", "/api/v1/announcements", ""); status != 415 {
		t.Errorf("POST without a body: got %d %s, want 415", status, out)
	}
	if n := e.count("announcements"); n != 1 || before() != original {
		t.Errorf("got %d announcements (want 1), 1 is %s", n, before())
	}
}

func TestAnnouncementsAPIAuthorisation(t *testing.T) {
	t.Parallel()
	e := newOffersEnv(t)
	e.post("alice", `{"kind":"offer","title":"Bike repair","category":"services"}`)
	e.post("alice", `{"kind":"offer","title":"Sewing","category":"services"}`)

	tests := []struct {
		user, method, path, body string
		status                   int
	}{
		{"bob", "PATCH", "/api/v1/announcements/1", `{"title":"Mine now"}`, 403},
		{"bob", "PATCH", "/api/v1/announcements/1", `{"status":"closed"}`, 403},
		{"bob", "DELETE", "/api/v1/announcements/1", ``, 403},
		{"", "PATCH", "/api/v1/announcements/1", `{"title":"Mine now"}`, 401},
		{"", "DELETE", "/api/v1/announcements/1", ``, 401},
		{"", "POST", "/api/v1/announcements", `{"kind":"offer","title":"x","category":"food"}`, 401},
		{"bob", "POST", "/api/v1/admin/categories", `{"slug":"boats","name":"Boats"}`, 403},
		{"bob", "PATCH", "/api/v1/admin/categories/food", `{"name":"Meals"}`, 403},
		{"bob", "DELETE", "/api/v1/admin/categories/other", ``, 403},
	}
	for _, tt := range tests {
		status, body := e.do(tt.user, tt.method, tt.path, tt.body)
		if status != tt.status {
			t.Errorf("%s %s %s as %q: got %d %s, want %d", tt.method, tt.path, tt.body, tt.user, status, body, tt.status)
		}
	}
	_, body := e.do("alice", "GET", "/api/v1/announcements/1", "")
	if a := decode[offerJSON](t, body); a.Title != "Bike repair" || a.Status != "active" {
		t.Errorf("after refusals: got %+v", a)
	}
	if n := e.count("announcements"); n != 2 {
		t.Errorf("got %d announcements, want 2", n)
	}
	if n := e.count("announcement_categories"); n != 7 {
		t.Errorf("got %d categories, want 7", n)
	}

	// The author and an admin may.
	status, body := e.do("alice", "PATCH", "/api/v1/announcements/1", `{"title":"Bike and trailer repair","price":"5.5"}`)
	if a := decode[offerJSON](t, body); status != 200 || a.Title != "Bike and trailer repair" || *a.Price != "5.50" {
		t.Errorf("author PATCH: got %d %s", status, body)
	}
	status, body = e.do("carol", "PATCH", "/api/v1/announcements/1", `{"status":"closed","price":null}`)
	if a := decode[offerJSON](t, body); status != 200 || a.Status != "closed" || a.Price != nil || a.Title != "Bike and trailer repair" {
		t.Errorf("admin PATCH: got %d %s", status, body)
	}
	if status, body := e.do("carol", "DELETE", "/api/v1/announcements/1", ""); status != 204 {
		t.Errorf("admin DELETE: got %d %s", status, body)
	}
	if status, body := e.do("alice", "DELETE", "/api/v1/announcements/2", ""); status != 204 {
		t.Errorf("author DELETE: got %d %s", status, body)
	}
	if n := e.count("announcements"); n != 0 {
		t.Errorf("got %d announcements, want 0", n)
	}
}

func TestCategoriesAPI(t *testing.T) {
	t.Parallel()
	e := newOffersEnv(t)
	e.post("alice", `{"kind":"offer","title":"Bike repair","category":"services"}`)

	type cat struct {
		Slug   string `json:"slug"`
		Name   string `json:"name"`
		Active *int64 `json:"active"`
	}
	listCats := func() []string {
		status, body := e.do("bob", "GET", "/api/v1/categories", "")
		if status != 200 {
			t.Fatalf("GET categories: %d %s", status, body)
		}
		var out []string
		for _, c := range decode[struct{ Categories []cat }](t, body).Categories {
			out = append(out, fmt.Sprintf("%s:%s:%d", c.Slug, c.Name, *c.Active))
		}
		return out
	}
	want := []string{"food:Food:0", "goods:Goods:0", "housing:Housing:0", "other:Other:0", "services:Services:1",
		"skills:Skills and lessons:0", "transport:Transport:0"}
	if got := listCats(); !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}

	tests := []struct {
		name, method, path, body string
		status                   int
		field                    string
	}{
		{"add", "POST", "/api/v1/admin/categories", `{"slug":"bicycles","name":"Bicycles"}`, 201, ""},
		{"duplicate slug", "POST", "/api/v1/admin/categories", `{"slug":"bicycles","name":"Bikes"}`, 409, "slug"},
		{"duplicate name", "POST", "/api/v1/admin/categories", `{"slug":"bikes","name":"Bicycles"}`, 409, "name"},
		{"bad slug", "POST", "/api/v1/admin/categories", `{"slug":"Big Boats","name":"Boats"}`, 400, "slug"},
		{"no slug", "POST", "/api/v1/admin/categories", `{"name":"Boats"}`, 400, "slug"},
		{"no name", "POST", "/api/v1/admin/categories", `{"slug":"boats"}`, 400, "name"},
		{"long name", "POST", "/api/v1/admin/categories", `{"slug":"boats","name":"` + strings.Repeat("b", 61) + `"}`, 400, "name"},
		{"unknown field", "POST", "/api/v1/admin/categories", `{"slug":"boats","name":"Boats","icon":"x"}`, 400, "icon"},
		{"rename", "PATCH", "/api/v1/admin/categories/bicycles", `{"name":"Cycling"}`, 200, ""},
		{"rename to a taken name", "PATCH", "/api/v1/admin/categories/bicycles", `{"name":"Food"}`, 409, "name"},
		{"rename unknown", "PATCH", "/api/v1/admin/categories/boats", `{"name":"Boats"}`, 404, ""},
		{"delete in use", "DELETE", "/api/v1/admin/categories/services", ``, 409, "category"},
		{"delete unknown", "DELETE", "/api/v1/admin/categories/boats", ``, 404, ""},
		{"delete", "DELETE", "/api/v1/admin/categories/other", ``, 204, ""},
	}
	for _, tt := range tests {
		status, body := e.do("carol", tt.method, tt.path, tt.body)
		if status != tt.status {
			t.Errorf("%s: got %d %s, want %d", tt.name, status, body, tt.status)
			continue
		}
		if tt.status >= 400 {
			if got := decode[errJSON](t, body); got.Error.Field != tt.field {
				t.Errorf("%s: got field %q, want %q", tt.name, got.Error.Field, tt.field)
			}
		}
	}
	want = []string{"bicycles:Cycling:0", "food:Food:0", "goods:Goods:0", "housing:Housing:0", "services:Services:1",
		"skills:Skills and lessons:0", "transport:Transport:0"}
	if got := listCats(); !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestOffersPages(t *testing.T) {
	t.Parallel()
	e := newOffersEnv(t)
	e.post("alice", `{"kind":"offer","title":"Bike repair","category":"services","price":"12.50","place":"Leeds"}`)

	status, body := e.page("bob", "GET", "/offers?q=bikes", nil, false)
	if status != 200 || !strings.Contains(body, `<a href="/offers/1">Bike repair</a>`) || !strings.Contains(body, "12.50 LEAF") {
		t.Errorf("search page: got %d %s", status, body)
	}
	if status, body := e.page("bob", "GET", "/offers?kind=swap", nil, false); status != 400 || !strings.Contains(body, "must be offer or want") {
		t.Errorf("bad search: got %d %s", status, body)
	}
	if status, body := e.page("bob", "GET", "/offers/1", nil, false); status != 200 || strings.Contains(body, "/offers/1/edit") {
		t.Errorf("detail for another member: got %d, want 200 without an edit link", status)
	}
	if status, body := e.page("alice", "GET", "/offers/1", nil, false); status != 200 || !strings.Contains(body, "/offers/1/edit") {
		t.Errorf("detail for the author: got %d, want 200 with an edit link: %s", status, body)
	}
	if status, _ := e.page("bob", "GET", "/offers/new", nil, false); status != 200 {
		t.Errorf("new form: got %d", status)
	}

	form := url.Values{"kind": {"want"}, "title": {"Ladder"}, "description": {"Tall."}, "category": {"goods"},
		"price": {"3.5"}, "place": {"York"}, "lat": {""}, "lon": {""}, "expires": {"2026-04-01"}}
	if status, _ := e.page("bob", "POST", "/offers/new", form, false); status != 403 {
		t.Errorf("post without CSRF: got %d, want 403", status)
	}
	bad := url.Values{"kind": {"want"}, "title": {"Ladder"}, "category": {"goods"}, "price": {"3.555"}}
	if status, body := e.page("bob", "POST", "/offers/new", bad, true); status != 400 || !strings.Contains(body, "3.555") {
		t.Errorf("post an over-precise price: got %d %s", status, body)
	}
	if n := e.count("announcements"); n != 1 {
		t.Errorf("got %d announcements, want 1", n)
	}
	status, loc := e.page("bob", "POST", "/offers/new", form, true)
	if status != http.StatusSeeOther || loc != "/offers/2?done=created" {
		t.Fatalf("post: got %d %s, want 303 to /offers/2?done=created", status, loc)
	}
	_, body = e.do("bob", "GET", "/api/v1/announcements/2", "")
	if a := decode[offerJSON](t, body); a.Kind != "want" || a.Title != "Ladder" || *a.Price != "3.50" || a.ExpiresAt != "2026-04-01T23:59:59Z" {
		t.Errorf("created by form: got %+v", a)
	}

	// Bob may not edit alice's; alice may.
	if status, _ := e.page("bob", "GET", "/offers/1/edit", nil, false); status != 403 {
		t.Errorf("edit page of another's: got %d, want 403", status)
	}
	edit := url.Values{"kind": {"offer"}, "title": {"Bike mending"}, "category": {"services"}, "price": {""}, "expires": {"2026-05-01"}}
	if status, _ := e.page("bob", "POST", "/offers/1/edit", edit, true); status != 403 {
		t.Errorf("edit another's: got %d, want 403", status)
	}
	if status, _ := e.page("bob", "POST", "/offers/1/delete", nil, true); status != 403 {
		t.Errorf("delete another's: got %d, want 403", status)
	}
	if status, loc := e.page("alice", "POST", "/offers/1/edit", edit, true); status != 303 || loc != "/offers/1?done=saved" {
		t.Errorf("edit own: got %d %s", status, loc)
	}
	if status, loc := e.page("alice", "POST", "/offers/1/close", nil, true); status != 303 || loc != "/offers/1?done=closed" {
		t.Errorf("close own: got %d %s", status, loc)
	}
	_, body = e.do("alice", "GET", "/api/v1/announcements/1", "")
	if a := decode[offerJSON](t, body); a.Title != "Bike mending" || a.Price != nil || a.Status != "closed" {
		t.Errorf("after edit and close: got %+v", a)
	}
	if status, loc := e.page("carol", "POST", "/offers/2/delete", nil, true); status != 303 || loc != "/offers" {
		t.Errorf("admin delete: got %d %s", status, loc)
	}

	// Categories page: admins only.
	if status, _ := e.page("bob", "GET", "/admin/categories", nil, false); status != 403 {
		t.Errorf("categories page as a member: got %d, want 403", status)
	}
	if status, body := e.page("carol", "POST", "/admin/categories", url.Values{"slug": {"tools"}, "name": {"Tools"}}, true); status != 200 || !strings.Contains(body, "Added the category Tools") {
		t.Errorf("add category: got %d %s", status, body)
	}
	if status, _ := e.page("carol", "POST", "/admin/categories/services/delete", nil, true); status != 409 {
		t.Errorf("delete a used category: got %d, want 409", status)
	}
	if n := e.count("announcement_categories"); n != 8 {
		t.Errorf("got %d categories, want 8", n)
	}
}
