package httpapi

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/server/people"
)

type personJSON struct {
	Username    string      `json:"username"`
	DisplayName string      `json:"display_name"`
	Community   *originJSON `json:"community"` // null: a member of this community
	PictureURL  string      `json:"picture_url,omitempty"`
	OfferCount  int         `json:"offer_count"`
	Offers      []offerRef  `json:"offers"`
}

type offerRef struct {
	ID    int64  `json:"id"`
	Title string `json:"title"`
}

// directoryQuery reads ?q&limit&offset.
func directoryQuery(c *gin.Context) (people.Query, *fieldError) {
	q := people.Query{Text: c.Query("q")}
	for _, p := range []struct {
		name string
		dst  *int
	}{{"limit", &q.Limit}, {"offset", &q.Offset}} {
		if s := c.Query(p.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || (p.name == "limit" && n < 1) {
				return q, &fieldError{p.name, p.name + " must be a whole number (limit from 1)"}
			}
			*p.dst = n
		}
	}
	return q, nil
}

// searchPeople runs a directory search and finds the local members' pictures.
func (h *Handlers) searchPeople(c *gin.Context, q people.Query) (people.Page, map[int64]int64, error) {
	ctx := c.Request.Context()
	page, err := h.People.Search(ctx, q)
	if err != nil {
		return page, nil, err
	}
	var ids []int64
	for _, p := range page.People {
		if p.Local {
			ids = append(ids, p.MemberID)
		}
	}
	pics, err := h.Pictures.Profiles(ctx, ids)
	return page, pics, err
}

// peopleDirectory: GET /api/v1/directory?q&limit&offset: local members and
// federated authors, with their offers.
func (h *Handlers) peopleDirectory(c *gin.Context) {
	q, fe := directoryQuery(c)
	if fe != nil {
		badRequest(c, fe.field, fe.message)
		return
	}
	page, pics, err := h.searchPeople(c, q)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]personJSON, 0, len(page.People))
	for _, p := range page.People {
		v := personJSON{Username: p.Username, DisplayName: p.DisplayName, OfferCount: p.OfferCount, Offers: []offerRef{}}
		if !p.Local {
			v.Community = &originJSON{ID: p.CommunityID, Name: p.Community, BaseURL: p.Origin}
		} else {
			v.PictureURL = pictureURL(pics[p.MemberID])
		}
		for _, o := range p.Offers {
			v.Offers = append(v.Offers, offerRef{ID: o.ID, Title: o.Title})
		}
		out = append(out, v)
	}
	next := any(nil)
	if n := page.NextOffset(); n >= 0 {
		next = n
	}
	c.JSON(http.StatusOK, gin.H{"people": out, "total": page.Total, "limit": page.Limit, "offset": page.Offset, "next_offset": next})
}
