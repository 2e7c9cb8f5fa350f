package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/server/announce"
)

// Offers and wants: GET/POST /api/v1/announcements, GET/PATCH/DELETE
// /api/v1/announcements/{id}, GET /api/v1/categories and the admin's
// /api/v1/admin/categories. Prices are decimal strings in the community's
// currency ("12.50") or null for unvalued; coordinates are JSON numbers.

// announcementJSON is an announcement on the wire.
type announcementJSON struct {
	ID           int64       `json:"id"`
	Kind         string      `json:"kind"`
	Title        string      `json:"title"`
	Description  string      `json:"description"`
	Category     string      `json:"category"`
	CategoryName string      `json:"category_name"`
	Price        *string     `json:"price"`
	Currency     string      `json:"currency"`
	Money        *moneyJSON  `json:"money"`
	Place        string      `json:"place"`
	Lat          *float64    `json:"lat"`
	Lon          *float64    `json:"lon"`
	ExpiresAt    time.Time   `json:"expires_at"`
	Status       string      `json:"status"`
	Author       string      `json:"author"`
	AuthorName   string      `json:"author_name,omitempty"`
	Origin       *originJSON `json:"origin"`
	CreatedAt    time.Time   `json:"created_at"`
	UpdatedAt    time.Time   `json:"updated_at"`
	Rank         *float64    `json:"rank,omitempty"`
	DistanceKm   *float64    `json:"distance_km,omitempty"`
	PictureURL   string      `json:"picture_url,omitempty"` // its picture, when it has one
}

// moneyJSON is a money offer's amount: a decimal string and its currency.
type moneyJSON struct {
	Value    string `json:"value"`
	Currency string `json:"currency"`
}

// originJSON is the community a federated announcement comes from; null for local ones.
type originJSON struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	BaseURL string `json:"base_url"`
}

// origins maps the base URLs of peers to their origin; nil without federation.
func (h *Handlers) origins(ctx context.Context) map[string]originJSON {
	if h.Federation == nil {
		return nil
	}
	peers, err := h.Federation.Peers(ctx)
	if err != nil {
		h.logger().Warn("listing peers for origins", "err", err)
		return nil
	}
	m := make(map[string]originJSON, len(peers))
	for _, p := range peers {
		m[p.BaseURL] = originJSON{ID: p.CommunityID, Name: p.Name, BaseURL: p.BaseURL}
	}
	return m
}

func (h *Handlers) announcementOut(a announce.Announcement, ranked bool, origins map[string]originJSON) announcementJSON {
	out := announcementJSON{ID: a.ID, Kind: string(a.Kind), Title: a.Title, Description: a.Description,
		Category: a.Category.Slug, CategoryName: a.Category.Name, Currency: h.Community.Currency.Code,
		Place: a.Place, Lat: a.Lat, Lon: a.Lon, ExpiresAt: a.ExpiresAt.UTC(), Status: string(a.Status),
		Author: a.Author, CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC()}
	if a.Price != nil {
		s := h.Community.Currency.Format(*a.Price)
		out.Price = &s
	}
	if a.Money != nil {
		out.Money = &moneyJSON{Value: h.Community.Currency.Format(*a.Money), Currency: h.Community.Currency.Code}
	}
	if a.Origin != announce.Local {
		out.Money = nil
		if a.RemoteMoney != nil {
			out.Money = &moneyJSON{Value: *a.RemoteMoney, Currency: a.RemoteMoneyCurrency}
		}
		o, ok := origins[a.Origin]
		if !ok {
			o = originJSON{BaseURL: a.Origin}
		}
		out.Origin = &o
		out.Price, out.Currency, out.AuthorName = a.RemotePrice, a.RemoteCurrency, a.AuthorName
	}
	if ranked {
		r := math.Round(a.Rank*1e6) / 1e6
		out.Rank = &r
	}
	if a.DistanceKm != nil {
		d := math.Round(*a.DistanceKm*1000) / 1000
		out.DistanceKm = &d
	}
	return out
}

// announcementBody is the body of POST and PATCH. Each field is kept raw
// so that absent, null and a value can be told apart and a bad value named.
type announcementBody struct {
	Kind        json.RawMessage `json:"kind"`
	Title       json.RawMessage `json:"title"`
	Description json.RawMessage `json:"description"`
	Category    json.RawMessage `json:"category"`
	Price       json.RawMessage `json:"price"`
	Money       json.RawMessage `json:"money"`
	Place       json.RawMessage `json:"place"`
	Lat         json.RawMessage `json:"lat"`
	Lon         json.RawMessage `json:"lon"`
	ExpiresAt   json.RawMessage `json:"expires_at"`
	Status      json.RawMessage `json:"status"`
}

// fieldError is a bad field of a request, found before the domain is asked.
type fieldError struct{ field, message string }

func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

func rawString(field string, raw json.RawMessage) (string, *fieldError) {
	var s string
	if isNull(raw) || json.Unmarshal(raw, &s) != nil {
		return "", &fieldError{field, field + " must be a JSON string"}
	}
	return s, nil
}

func rawNumber(field string, raw json.RawMessage) (*float64, *fieldError) {
	if isNull(raw) {
		return nil, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, &fieldError{field, field + " must be a JSON number or null"}
	}
	return &f, nil
}

// parseExpiry reads an RFC 3339 time, or a date meaning the end of that day (UTC).
func parseExpiry(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, true
	}
	if d, err := time.Parse("2006-01-02", s); err == nil {
		return d.Add(24*time.Hour - time.Second), true
	}
	return time.Time{}, false
}

// parsePrice reads a price in the community's currency: "" is unvalued.
func (h *Handlers) parsePrice(field, s string) (*int64, *fieldError) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	v, err := h.Community.Currency.Parse(s)
	if err != nil {
		return nil, &fieldError{field, fmt.Sprintf("%s %q %v", field, s, err)}
	}
	if v < 0 {
		return nil, &fieldError{field, field + " must not be negative"}
	}
	return &v, nil
}

// parseMoney reads a money offer's {"value","currency"}: a positive amount
// of the community's own currency (a member offers only money they can pay).
func (h *Handlers) parseMoney(raw json.RawMessage) (int64, *fieldError) {
	var m struct {
		Value    *string `json:"value"`
		Currency *string `json:"currency"`
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil || m.Value == nil || m.Currency == nil {
		return 0, &fieldError{"money", `money must be {"value": "20.00", "currency": "` + h.Community.Currency.Code + `"}, or null`}
	}
	if *m.Currency != h.Community.Currency.Code {
		return 0, &fieldError{"money.currency", fmt.Sprintf("money.currency %q: a money offer is in this community's currency, %s", *m.Currency, h.Community.Currency.Code)}
	}
	v, err := h.Community.Currency.ParsePositive(*m.Value)
	if err != nil {
		return 0, &fieldError{"money.value", fmt.Sprintf("money.value %q %v", *m.Value, err)}
	}
	return v, nil
}

// patchOf turns a body into a domain patch; forCreate refuses status.
func (h *Handlers) patchOf(b announcementBody, forCreate bool) (announce.Patch, *fieldError) {
	var p announce.Patch
	var fe *fieldError
	str := func(field string, raw json.RawMessage, dst *announce.Field[string]) {
		if fe != nil || raw == nil {
			return
		}
		var s string
		if s, fe = rawString(field, raw); fe == nil {
			*dst = announce.To(s)
		}
	}
	var kind, status, expires announce.Field[string]
	str("kind", b.Kind, &kind)
	str("title", b.Title, &p.Title)
	str("description", b.Description, &p.Description)
	str("category", b.Category, &p.Category)
	str("place", b.Place, &p.Place)
	str("status", b.Status, &status)
	if fe != nil {
		return p, fe
	}
	if kind.Set {
		p.Kind = announce.To(announce.Kind(kind.Value))
	}
	if status.Set {
		if forCreate {
			return p, &fieldError{"status", "a new announcement is active; change status with PATCH"}
		}
		p.Status = announce.To(announce.Status(status.Value))
	}
	if b.Price != nil {
		if isNull(b.Price) {
			p.Price = announce.To[*int64](nil)
		} else {
			s, fe := rawString("price", b.Price)
			if fe != nil || strings.TrimSpace(s) == "" {
				return p, &fieldError{"price", `price must be a decimal string such as "12.50", or null for unvalued`}
			}
			v, fe := h.parsePrice("price", s)
			if fe != nil {
				return p, fe
			}
			p.Price = announce.To(v)
		}
	}
	if b.Money != nil {
		if isNull(b.Money) {
			p.Money = announce.To[*int64](nil)
		} else {
			v, fe := h.parseMoney(b.Money)
			if fe != nil {
				return p, fe
			}
			p.Money = announce.To(&v)
		}
	}
	for _, c := range []struct {
		field string
		raw   json.RawMessage
		dst   *announce.Field[*float64]
	}{{"lat", b.Lat, &p.Lat}, {"lon", b.Lon, &p.Lon}} {
		if c.raw == nil {
			continue
		}
		v, fe := rawNumber(c.field, c.raw)
		if fe != nil {
			return p, fe
		}
		*c.dst = announce.To(v)
	}
	if b.ExpiresAt != nil {
		if isNull(b.ExpiresAt) && forCreate {
			// null: the default expiry
		} else {
			str("expires_at", b.ExpiresAt, &expires)
			if fe != nil {
				return p, &fieldError{"expires_at", "expires_at must be a time such as 2026-05-01T12:00:00Z or a date"}
			}
			t, ok := parseExpiry(expires.Value)
			if !ok {
				return p, &fieldError{"expires_at", fmt.Sprintf("expires_at %q must be a time such as 2026-05-01T12:00:00Z or a date such as 2026-05-01", expires.Value)}
			}
			p.ExpiresAt = announce.To(t)
		}
	}
	return p, nil
}

// draftOf turns a create patch into a draft; an unset expiry stays nil
// (the default).
func draftOf(p announce.Patch) announce.Draft { return p.Apply(announce.Draft{}) }

func actorOf(c *gin.Context) announce.Actor {
	m := currentMember(c)
	return announce.Actor{MemberID: m.ID, Username: m.Username, Admin: m.IsAdmin()}
}

func announcementID(c *gin.Context) (int64, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(c, http.StatusNotFound, announce.CodeNotFound, fmt.Sprintf("no announcement %q", c.Param("id")), "")
		return 0, false
	}
	return id, true
}

// listParams are the query parameters of GET /api/v1/announcements.
var listParams = map[string]bool{"q": true, "kind": true, "category": true, "member": true, "min_price": true,
	"max_price": true, "lat": true, "lon": true, "radius_km": true, "include_inactive": true, "origin": true,
	"scope": true, "limit": true, "offset": true}

// queryOf reads a search from URL parameters.
func (h *Handlers) queryOf(v url.Values) (announce.Query, *fieldError) {
	for k, vals := range v {
		if !listParams[k] {
			return announce.Query{}, &fieldError{k, fmt.Sprintf("unknown parameter %q", k)}
		}
		if len(vals) > 1 {
			return announce.Query{}, &fieldError{k, fmt.Sprintf("parameter %q is given %d times", k, len(vals))}
		}
	}
	q := announce.Query{Text: v.Get("q"), Kind: announce.Kind(v.Get("kind")), Category: v.Get("category"),
		Member: v.Get("member"), Origin: v.Get("origin")}
	switch v.Get("scope") {
	case "", "all":
	case "local":
		if q.Origin != "" && q.Origin != announce.Local {
			return q, &fieldError{"scope", "scope=local and origin " + q.Origin + " exclude each other"}
		}
		q.Origin = announce.Local
	default:
		return q, &fieldError{"scope", "scope must be local or all"}
	}
	var fe *fieldError
	if q.MinPrice, fe = h.parsePrice("min_price", v.Get("min_price")); fe != nil {
		return q, fe
	}
	if q.MaxPrice, fe = h.parsePrice("max_price", v.Get("max_price")); fe != nil {
		return q, fe
	}
	float := func(name string) (*float64, *fieldError) {
		s := v.Get(name)
		if s == "" {
			return nil, nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, &fieldError{name, fmt.Sprintf("%s %q must be a decimal number", name, s)}
		}
		return &f, nil
	}
	if q.Lat, fe = float("lat"); fe != nil {
		return q, fe
	}
	if q.Lon, fe = float("lon"); fe != nil {
		return q, fe
	}
	r, fe := float("radius_km")
	if fe != nil {
		return q, fe
	}
	if r != nil {
		if *r == 0 {
			return q, &fieldError{"radius_km", "radius_km must be above 0"}
		}
		q.RadiusKm = *r
	}
	if s := v.Get("include_inactive"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return q, &fieldError{"include_inactive", "include_inactive must be true or false"}
		}
		q.IncludeInactive = b
	}
	for _, n := range []struct {
		name string
		dst  *int
	}{{"limit", &q.Limit}, {"offset", &q.Offset}} {
		s := v.Get(n.name)
		if s == "" {
			continue
		}
		i, err := strconv.Atoi(s)
		if err != nil {
			return q, &fieldError{n.name, fmt.Sprintf("%s %q must be a whole number", n.name, s)}
		}
		if n.name == "limit" && i == 0 {
			return q, &fieldError{"limit", fmt.Sprintf("limit must be between 1 and %d", announce.MaxPageSize)}
		}
		*n.dst = i
	}
	return q, nil
}

type announcementPageJSON struct {
	Announcements []announcementJSON `json:"announcements"`
	Total         int64              `json:"total"`
	Limit         int                `json:"limit"`
	Offset        int                `json:"offset"`
	NextOffset    *int               `json:"next_offset"`
}

// listAnnouncements: GET /api/v1/announcements?q=&kind=&category=&member=&min_price=&max_price=&lat=&lon=&radius_km=&include_inactive=&origin=&limit=&offset=
func (h *Handlers) listAnnouncements(c *gin.Context) {
	q, fe := h.queryOf(c.Request.URL.Query())
	if fe != nil {
		badRequest(c, fe.field, fe.message)
		return
	}
	page, err := h.Announcements.Search(c.Request.Context(), q)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := announcementPageJSON{Announcements: make([]announcementJSON, len(page.Announcements)),
		Total: page.Total, Limit: page.Limit, Offset: page.Offset}
	origins := h.origins(c.Request.Context())
	pics, err := h.Pictures.Announcements(c.Request.Context(), announcementIDs(page.Announcements))
	if err != nil {
		h.fail(c, err)
		return
	}
	for i, a := range page.Announcements {
		out.Announcements[i] = h.announcementOut(a, strings.TrimSpace(q.Text) != "", origins)
		out.Announcements[i].PictureURL = pictureURL(pics[a.ID])
	}
	if n := page.NextOffset(); n >= 0 {
		out.NextOffset = &n
	}
	c.JSON(http.StatusOK, out)
}

// createAnnouncement: POST /api/v1/announcements.
func (h *Handlers) createAnnouncement(c *gin.Context) {
	var b announcementBody
	if !bindJSON(c, &b) {
		return
	}
	p, fe := h.patchOf(b, true)
	if fe != nil {
		badRequest(c, fe.field, fe.message)
		return
	}
	a, err := h.Announcements.Create(c.Request.Context(), actorOf(c), draftOf(p))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Location", fmt.Sprintf("/api/v1/announcements/%d", a.ID))
	c.JSON(http.StatusCreated, h.announcementOut(a, false, h.origins(c.Request.Context())))
}

// announcement: GET /api/v1/announcements/{id}.
func (h *Handlers) announcement(c *gin.Context) {
	id, ok := announcementID(c)
	if !ok {
		return
	}
	a, err := h.Announcements.Get(c.Request.Context(), id)
	var pics map[int64]int64
	if err == nil {
		pics, err = h.Pictures.Announcements(c.Request.Context(), []int64{a.ID})
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	out := h.announcementOut(a, false, h.origins(c.Request.Context()))
	out.PictureURL = pictureURL(pics[a.ID])
	c.JSON(http.StatusOK, out)
}

// announcementIDs are the ids of list.
func announcementIDs(list []announce.Announcement) []int64 {
	ids := make([]int64, len(list))
	for i, a := range list {
		ids[i] = a.ID
	}
	return ids
}

// updateAnnouncement: PATCH /api/v1/announcements/{id}, by its author or an admin.
func (h *Handlers) updateAnnouncement(c *gin.Context) {
	id, ok := announcementID(c)
	if !ok {
		return
	}
	var b announcementBody
	if !bindJSON(c, &b) {
		return
	}
	p, fe := h.patchOf(b, false)
	if fe != nil {
		badRequest(c, fe.field, fe.message)
		return
	}
	a, err := h.Announcements.Update(c.Request.Context(), actorOf(c), id, p)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, h.announcementOut(a, false, h.origins(c.Request.Context())))
}

// deleteAnnouncement: DELETE /api/v1/announcements/{id}, by its author or an admin.
func (h *Handlers) deleteAnnouncement(c *gin.Context) {
	id, ok := announcementID(c)
	if !ok {
		return
	}
	if err := h.Announcements.Delete(c.Request.Context(), actorOf(c), id); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type categoryJSON struct {
	Slug   string `json:"slug"`
	Name   string `json:"name"`
	Active *int64 `json:"active,omitempty"`
}

// categories: GET /api/v1/categories, each with its number of active announcements.
func (h *Handlers) categories(c *gin.Context) {
	list, err := h.Announcements.Categories(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]categoryJSON, len(list))
	for i, cat := range list {
		n := cat.Active
		out[i] = categoryJSON{Slug: cat.Slug, Name: cat.Name, Active: &n}
	}
	c.JSON(http.StatusOK, gin.H{"categories": out})
}

type categoryBody struct {
	Slug *string `json:"slug"`
	Name *string `json:"name"`
}

// adminCreateCategory: POST /api/v1/admin/categories {"slug","name"}.
func (h *Handlers) adminCreateCategory(c *gin.Context) {
	var b categoryBody
	if !bindJSON(c, &b) {
		return
	}
	if b.Slug == nil {
		badRequest(c, "slug", "slug is required, e.g. \"garden-tools\"")
		return
	}
	if b.Name == nil {
		badRequest(c, "name", "name is required, e.g. \"Garden tools\"")
		return
	}
	cat, err := h.Announcements.CreateCategory(c.Request.Context(), *b.Slug, *b.Name)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, categoryJSON{Slug: cat.Slug, Name: cat.Name})
}

// adminUpdateCategory: PATCH /api/v1/admin/categories/{slug} {"slug"?, "name"?}.
func (h *Handlers) adminUpdateCategory(c *gin.Context) {
	var b categoryBody
	if !bindJSON(c, &b) {
		return
	}
	var slug, name announce.Field[string]
	if b.Slug != nil {
		slug = announce.To(*b.Slug)
	}
	if b.Name != nil {
		name = announce.To(*b.Name)
	}
	cat, err := h.Announcements.UpdateCategory(c.Request.Context(), c.Param("slug"), slug, name)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, categoryJSON{Slug: cat.Slug, Name: cat.Name})
}

// adminDeleteCategory: DELETE /api/v1/admin/categories/{slug}; refused while announcements use it.
func (h *Handlers) adminDeleteCategory(c *gin.Context) {
	if err := h.Announcements.DeleteCategory(c.Request.Context(), c.Param("slug")); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
