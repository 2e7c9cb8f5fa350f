package httpapi

import (
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

// The pages of offers and wants: /offers (browse and search), /offers/new,
// /offers/{id}, /offers/{id}/edit, and the admin's /admin/categories.

// offerView is an announcement as the pages show it.
type offerView struct {
	announce.Announcement
	PriceText string // "12.50 LEAF" or "unvalued"
	Distance  string // "12.3 km" when a point was given
	Expires   string
	Local     bool
	CanEdit   bool
	// A federated announcement: where it is from, and the payee
	// (username@community) when both communities are in one circle.
	OriginName string
	PayTo      string
	PayKey     string
	// A live offer of someone else: the member's live offers they could
	// give for it (a want list entry).
	GiveFrom []announce.WantOffer
	// On its own page (offerDetail): its picture, and the ways to reach
	// its author: a message (local authors), "pay for this" (a local
	// offer of someone else: the pay form filled with payee and price).
	PictureURL  string
	MessageLink string
	PayLink     string
}

// offerDetail is offerView with what only the announcement's own page shows.
func (h *Handlers) offerDetail(c *gin.Context, a announce.Announcement) offerView {
	v := h.offerView(c, a)
	if pics, err := h.Pictures.Announcements(c.Request.Context(), []int64{a.ID}); err == nil {
		v.PictureURL = pictureURL(pics[a.ID])
	} else {
		h.logger().Warn("finding an announcement's picture", "err", err)
	}
	if a.MemberID == currentMember(c).ID && v.Local {
		return v
	}
	if !v.Local {
		// The author is bob@acorn: a message goes to their community when it is a peer.
		if _, err := h.Messages.RemotePeer(c.Request.Context(), a.Author); err == nil {
			v.MessageLink = "/messages/" + url.PathEscape(a.Author) + "?" + url.Values{"about": {strconv.FormatInt(a.ID, 10)}}.Encode()
		}
		return v
	}
	v.MessageLink = "/messages/" + url.PathEscape(a.Author) + "?" + url.Values{"about": {strconv.FormatInt(a.ID, 10)}}.Encode()
	if a.Kind == announce.Offer && a.Status == announce.Active {
		q := url.Values{"to": {a.Author}, "description": {a.Title}}
		if a.Price != nil {
			q.Set("amount", h.Community.Currency.Format(*a.Price))
		}
		v.PayLink = "/pay?" + q.Encode()
	}
	return v
}

func (h *Handlers) offerView(c *gin.Context, a announce.Announcement) offerView {
	v := offerView{Announcement: a, PriceText: h.tr(c, "offer.unvalued"), Expires: a.ExpiresAt.UTC().Format("2006-01-02 15:04"),
		Local: a.Origin == announce.Local, CanEdit: announce.CanEdit(actorOf(c), a)}
	if a.Price != nil {
		v.PriceText = h.money(c, *a.Price) + " " + h.Community.Currency.Code
	}
	if !v.Local {
		v.PriceText = h.tr(c, "offer.unvalued")
		if a.RemotePrice != nil {
			v.PriceText = *a.RemotePrice + " " + a.RemoteCurrency
		}
		v.OriginName = a.Origin
		if h.Federation != nil {
			if p, err := h.Federation.Peer(c.Request.Context(), a.Origin); err == nil {
				v.OriginName = p.Name + " (" + p.CommunityID + ")"
				if h.Intertrade != nil && p.CircleID != "" && p.CircleID == h.Federation.CircleID() && p.State == "active" {
					v.PayTo, v.PayKey = a.Author, newFormKey()
				}
			}
		}
	}
	if m, ok := currentSession(c); ok && a.Kind == announce.Offer && a.Status == announce.Active && a.MemberID != m.Member.ID {
		if mine, err := h.Announcements.LiveOffers(c.Request.Context(), m.Member.ID); err == nil {
			v.GiveFrom = mine
		} else {
			h.logger().Warn("listing the member's offers", "err", err)
		}
	}
	if a.DistanceKm != nil {
		v.Distance = strconv.FormatFloat(math.Round(*a.DistanceKm*10)/10, 'f', 1, 64) + " km"
	}
	return v
}

// offersData is the browse and search page.
type offersData struct {
	Form       url.Values
	Inactive   bool
	Categories []announce.CategoryCount
	Results    []offerView
	Searched   bool
	Total      int64
	From, To   int
	Prev, Next string // links to the neighbouring pages, "" at the ends
	Admin      bool
}

func (h *Handlers) offersPage(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "offers.heading"))
	ctx := c.Request.Context()
	form := url.Values{}
	for k, vals := range c.Request.URL.Query() {
		if len(vals) > 0 && strings.TrimSpace(vals[0]) != "" && listParams[k] && k != "limit" {
			form.Set(k, strings.TrimSpace(vals[0]))
		}
	}
	d := offersData{Form: form, Inactive: form.Get("include_inactive") == "true", Admin: currentMember(c).IsAdmin()}
	cats, err := h.Announcements.Categories(ctx)
	if err != nil {
		h.pageError(c, h.pageRefusal(c, &p, err), p.Error)
		return
	}
	d.Categories = cats
	p.Data = &d
	q, fe := h.queryOf(form)
	if fe != nil {
		p.Error, p.Field = h.localRefusal(c, fe.message), fe.field
		h.render(c, http.StatusBadRequest, "announce_list.html", p)
		return
	}
	q.Limit = announce.DefaultPageSize
	page, err := h.Announcements.Search(ctx, q)
	if err != nil {
		h.render(c, h.pageRefusal(c, &p, err), "announce_list.html", p)
		return
	}
	d.Searched = q.Text != ""
	d.Total = page.Total
	pics, err := h.Pictures.Announcements(ctx, announcementIDs(page.Announcements))
	if err != nil {
		h.logger().Warn("finding the announcements' pictures", "err", err)
	}
	for _, a := range page.Announcements {
		v := h.offerView(c, a)
		v.PictureURL = pictureURL(pics[a.ID])
		d.Results = append(d.Results, v)
	}
	if len(page.Announcements) > 0 {
		d.From, d.To = page.Offset+1, page.Offset+len(page.Announcements)
	}
	v := url.Values{}
	for k := range form {
		v.Set(k, form.Get(k))
	}
	d.Next, d.Prev = listLinks("/offers", v, page.Offset, page.Limit, page.NextOffset())
	h.render(c, http.StatusOK, "announce_list.html", p)
}

func (h *Handlers) offerPage(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "title.offer"))
	a, ok := h.loadOffer(c, &p)
	if !ok {
		return
	}
	p.Title = a.Title
	switch c.Query("done") {
	case "created":
		p.Notice = h.tr(c, "notice.published")
	case "saved":
		p.Notice = h.tr(c, "notice.saved")
	case "closed":
		p.Notice = h.tr(c, "notice.closed")
	case "reopened":
		p.Notice = h.tr(c, "notice.reopened")
	case "picture":
		p.Notice = h.tr(c, "notice.picture_saved")
	case "nopicture":
		p.Notice = h.tr(c, "notice.picture_removed")
	}
	p.Data = h.offerDetail(c, a)
	h.render(c, http.StatusOK, "announce_detail.html", p)
}

func (h *Handlers) loadOffer(c *gin.Context, p *page) (announce.Announcement, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		h.pageError(c, http.StatusNotFound, h.tr(c, "error.no_offer"))
		return announce.Announcement{}, false
	}
	a, err := h.Announcements.Get(c.Request.Context(), id)
	if err != nil {
		status := h.pageRefusal(c, p, err)
		h.pageError(c, status, p.Error)
		return announce.Announcement{}, false
	}
	return a, true
}

// offerForm is the create and edit form, as typed.
type offerForm struct {
	ID          int64
	Kind        string
	Title       string
	Description string
	Category    string
	Price       string
	Place       string
	Lat, Lon    string
	Expires     string // 2006-01-02
	Categories  []announce.CategoryCount
	MaxTitle    int
	MaxDesc     int
}

func (h *Handlers) showOfferForm(c *gin.Context, p page, status int, f offerForm) {
	cats, err := h.Announcements.Categories(c.Request.Context())
	if err != nil {
		h.pageError(c, h.pageRefusal(c, &p, err), p.Error)
		return
	}
	f.Categories, f.MaxTitle, f.MaxDesc = cats, announce.MaxTitle, announce.MaxDescription
	p.Data = f
	h.render(c, status, "announce_form.html", p)
}

func formOf(c *gin.Context) offerForm {
	t := func(k string) string { return strings.TrimSpace(c.PostForm(k)) }
	return offerForm{Kind: t("kind"), Title: t("title"), Description: c.PostForm("description"), Category: t("category"),
		Price: t("price"), Place: t("place"), Lat: t("lat"), Lon: t("lon"), Expires: t("expires")}
}

// patchOfForm reads the form; every field is set, except an empty expiry.
func (h *Handlers) patchOfForm(f offerForm) (announce.Patch, *fieldError) {
	p := announce.Patch{Kind: announce.To(announce.Kind(f.Kind)), Title: announce.To(f.Title),
		Description: announce.To(f.Description), Category: announce.To(f.Category), Place: announce.To(f.Place)}
	price, fe := h.parsePrice("price", f.Price)
	if fe != nil {
		return p, &fieldError{"price", fmt.Sprintf("Price %q: give an amount such as 12.50 with at most %d decimal places, or leave it empty for unvalued.", f.Price, h.Community.Currency.Divisions)}
	}
	p.Price = announce.To(price)
	for _, c := range []struct {
		name, s string
		dst     *announce.Field[*float64]
	}{{"lat", f.Lat, &p.Lat}, {"lon", f.Lon, &p.Lon}} {
		if c.s == "" {
			*c.dst = announce.To[*float64](nil)
			continue
		}
		v, err := strconv.ParseFloat(c.s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return p, &fieldError{c.name, fmt.Sprintf("%s %q must be a decimal number such as 53.8008, or empty.", c.name, c.s)}
		}
		*c.dst = announce.To(&v)
	}
	if f.Expires != "" {
		t, ok := parseExpiry(f.Expires)
		if !ok {
			return p, &fieldError{"expires_at", fmt.Sprintf("Expiry %q must be a date such as 2026-05-01.", f.Expires)}
		}
		p.ExpiresAt = announce.To(t)
	}
	return p, nil
}

func (h *Handlers) newOfferPage(c *gin.Context) {
	f := offerForm{Kind: string(announce.Offer), Expires: h.now().Add(announce.DefaultExpiry).UTC().Format("2006-01-02")}
	if k := c.Query("kind"); k == string(announce.Want) {
		f.Kind = k
	}
	h.showOfferForm(c, h.newPage(c, h.tr(c, "offer.new_heading")), http.StatusOK, f)
}

func (h *Handlers) newOfferForm(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "offer.new_heading"))
	f := formOf(c)
	patch, fe := h.patchOfForm(f)
	if fe != nil {
		p.Error, p.Field = h.localRefusal(c, fe.message), fe.field
		h.showOfferForm(c, p, http.StatusBadRequest, f)
		return
	}
	a, err := h.Announcements.Create(c.Request.Context(), actorOf(c), draftOf(patch))
	if err != nil {
		h.showOfferForm(c, p, h.pageRefusal(c, &p, err), f)
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/offers/%d?done=created", a.ID))
}

func (h *Handlers) editOfferPage(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "form.edit"))
	a, ok := h.loadOffer(c, &p)
	if !ok {
		return
	}
	if !announce.CanEdit(actorOf(c), a) {
		h.pageError(c, http.StatusForbidden, h.tr(c, "error.not_author"))
		return
	}
	f := offerForm{ID: a.ID, Kind: string(a.Kind), Title: a.Title, Description: a.Description, Category: a.Category.Slug,
		Place: a.Place, Expires: a.ExpiresAt.UTC().Format("2006-01-02")}
	if a.Price != nil {
		f.Price = h.Community.Currency.Format(*a.Price)
	}
	if a.Lat != nil {
		f.Lat, f.Lon = strconv.FormatFloat(*a.Lat, 'f', -1, 64), strconv.FormatFloat(*a.Lon, 'f', -1, 64)
	}
	h.showOfferForm(c, p, http.StatusOK, f)
}

func (h *Handlers) editOfferForm(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "form.edit"))
	a, ok := h.loadOffer(c, &p)
	if !ok {
		return
	}
	f := formOf(c)
	f.ID = a.ID
	patch, fe := h.patchOfForm(f)
	if fe != nil {
		p.Error, p.Field = h.localRefusal(c, fe.message), fe.field
		h.showOfferForm(c, p, http.StatusBadRequest, f)
		return
	}
	// An unchanged expiry that has passed is kept as it is.
	if patch.ExpiresAt.Set && patch.ExpiresAt.Value.Format("2006-01-02") == a.ExpiresAt.UTC().Format("2006-01-02") {
		patch.ExpiresAt = announce.Field[time.Time]{}
	}
	if _, err := h.Announcements.Update(c.Request.Context(), actorOf(c), a.ID, patch); err != nil {
		h.showOfferForm(c, p, h.pageRefusal(c, &p, err), f)
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/offers/%d?done=saved", a.ID))
}

func (h *Handlers) closeOfferForm(c *gin.Context)  { h.offerStatusForm(c, announce.Closed, "closed") }
func (h *Handlers) reopenOfferForm(c *gin.Context) { h.offerStatusForm(c, announce.Active, "reopened") }

func (h *Handlers) offerStatusForm(c *gin.Context, status announce.Status, done string) {
	p := h.newPage(c, h.tr(c, "title.offer"))
	a, ok := h.loadOffer(c, &p)
	if !ok {
		return
	}
	patch := announce.Patch{Status: announce.To(status)}
	if status == announce.Active && !a.ExpiresAt.After(h.now()) {
		patch.ExpiresAt = announce.To(h.now().Add(announce.DefaultExpiry))
	}
	if _, err := h.Announcements.Update(c.Request.Context(), actorOf(c), a.ID, patch); err != nil {
		status := h.pageRefusal(c, &p, err)
		p.Data = h.offerView(c, a)
		h.render(c, status, "announce_detail.html", p)
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/offers/%d?done=%s", a.ID, done))
}

func (h *Handlers) deleteOfferForm(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "title.offer"))
	a, ok := h.loadOffer(c, &p)
	if !ok {
		return
	}
	if err := h.Announcements.Delete(c.Request.Context(), actorOf(c), a.ID); err != nil {
		status := h.pageRefusal(c, &p, err)
		p.Data = h.offerView(c, a)
		h.render(c, status, "announce_detail.html", p)
		return
	}
	c.Redirect(http.StatusSeeOther, "/offers")
}

// categoriesData is the admin's category page.
type categoriesData struct {
	Categories []announce.CategoryCount
	Slug, Name string // the add form, as typed
}

func (h *Handlers) adminCategoriesPage(c *gin.Context) {
	h.showCategories(c, h.newPage(c, h.tr(c, "title.categories")), http.StatusOK, categoriesData{})
}

func (h *Handlers) showCategories(c *gin.Context, p page, status int, d categoriesData) {
	cats, err := h.Announcements.Categories(c.Request.Context())
	if err != nil {
		h.pageError(c, h.pageRefusal(c, &p, err), p.Error)
		return
	}
	d.Categories = cats
	p.Data = d
	h.render(c, status, "announce_categories.html", p)
}

func (h *Handlers) adminCategoryForm(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "title.categories"))
	d := categoriesData{Slug: strings.TrimSpace(c.PostForm("slug")), Name: strings.TrimSpace(c.PostForm("name"))}
	cat, err := h.Announcements.CreateCategory(c.Request.Context(), d.Slug, d.Name)
	if err != nil {
		h.showCategories(c, p, h.pageRefusal(c, &p, err), d)
		return
	}
	p.Notice = h.tr(c, "notice.cat_added", "Name", cat.Name)
	h.showCategories(c, p, http.StatusOK, categoriesData{})
}

func (h *Handlers) adminCategoryActionForm(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "title.categories"))
	ctx := c.Request.Context()
	slug := c.Param("slug")
	var err error
	switch c.Param("action") {
	case "rename":
		var cat announce.Category
		cat, err = h.Announcements.UpdateCategory(ctx, slug, announce.Field[string]{}, announce.To(c.PostForm("name")))
		if err == nil {
			p.Notice = h.tr(c, "notice.cat_renamed", "Slug", slug, "Name", cat.Name)
		}
	case "delete":
		err = h.Announcements.DeleteCategory(ctx, slug)
		if err == nil {
			p.Notice = h.tr(c, "notice.cat_deleted", "Slug", slug)
		}
	default:
		h.pageError(c, http.StatusNotFound, h.tr(c, "error.no_action"))
		return
	}
	if err != nil {
		h.showCategories(c, p, h.pageRefusal(c, &p, err), categoriesData{})
		return
	}
	h.showCategories(c, p, http.StatusOK, categoriesData{})
}
