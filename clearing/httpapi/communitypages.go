package httpapi

// The circle admins' pages that change the circle's membership and rates,
// as `sxp admin community add` and `sxp admin rate set|approve` do: adding a
// community (its key shown once), fixing a rate, approving a declared one.
// Every form is checked here in words an admin understands, naming the
// field, then confirmed on a second page, then applied by one domain call
// (which audits it).

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/clearing"
)

// fieldLabels name the domain's fields as the forms do.
var fieldLabels = map[string]string{
	"id": "Community id", "name": "Name", "uri": "Server address", "rate": "Rate", "ticks": "Rate",
	"min": "Limits", "max": "Limits", "reason": "Reason", "mail": "Mail address",
	"declared_ticks": "Declared rate", "state": "Request",
}

// formError is a refusal in a form's words: the field's label, then the
// reason; ok is false for an internal error (which pageFail logs).
func formError(err error) (string, bool) {
	var ce *clearing.Error
	if !errors.As(err, &ce) {
		return "", false
	}
	if label := fieldLabels[ce.Field]; label != "" {
		return label + ": " + ce.Message, true
	}
	return ce.Message, true
}

// communityForm is the add-a-community form's values, as typed.
type communityForm struct {
	ID, Name, URI, Mail, Rate, Min, Max string
}

func communityFormOf(c *gin.Context) communityForm {
	t := func(k string) string { return strings.TrimSpace(c.PostForm(k)) }
	return communityForm{ID: t("id"), Name: t("name"), URI: t("uri"), Mail: t("mail"), Rate: t("rate"), Min: t("min"), Max: t("max")}
}

// check turns the form into a new community or says, in words, what is wrong.
func (f communityForm) check(circle clearing.Circle) (clearing.NewCommunity, string) {
	switch {
	case f.ID == "":
		return clearing.NewCommunity{}, "Community id must not be empty: the id the community's server is set up with (SXP_COMMUNITY_ID), e.g. oak"
	case f.Name == "":
		return clearing.NewCommunity{}, "Name must not be empty: the community's name as members know it"
	}
	if _, err := clearing.CheckURI(f.URI); err != nil || f.URI == "" {
		return clearing.NewCommunity{}, "Server address must be the community server's http(s) address (its SXP_PUBLIC_URL), e.g. https://oak.example.org"
	}
	if _, err := clearing.ParseTicks(f.Rate); err != nil {
		return clearing.NewCommunity{}, "Rate must be a number above 0: how many " + circle.Unit + " one unit of the community's currency is worth, e.g. 1 or 0.5"
	}
	lo, loErr := clearing.ParseAmount(f.Min, circle.Divisions)
	hi, hiErr := clearing.ParseAmount(f.Max, circle.Divisions)
	switch {
	case loErr != nil || lo > 0:
		return clearing.NewCommunity{}, "Lower limit must be zero or a negative amount of " + circle.Unit + " (" + places(circle.Divisions) + "), e.g. -1000"
	case hiErr != nil || hi < 0:
		return clearing.NewCommunity{}, "Upper limit must be zero or a positive amount of " + circle.Unit + " (" + places(circle.Divisions) + "), e.g. 1000"
	}
	return clearing.NewCommunity{ID: f.ID, Name: f.Name, URI: f.URI, Mail: f.Mail, Ticks: f.Rate, Min: lo, Max: hi}, ""
}

func places(d int) string {
	switch d {
	case 0:
		return "whole units"
	case 1:
		return "at most 1 decimal place"
	}
	return "at most " + string(rune('0'+d)) + " decimal places"
}

// pageNewCommunity is GET /admin/communities/new: the form.
func (s *Server) pageNewCommunity(c *gin.Context) {
	s.renderPage(c, http.StatusOK, "community_new", pageData{Title: "Add a community", Nav: "overview", Body: communityForm{}})
}

// pageNewCommunityForm is POST /admin/communities/new: check, confirm, add,
// and show the new key once.
func (s *Server) pageNewCommunityForm(c *gin.Context) {
	ctx := c.Request.Context()
	circle, err := s.house.Circle(ctx)
	if err != nil {
		s.pageFail(c, err)
		return
	}
	f := communityFormOf(c)
	again := func(msg string) {
		s.renderPage(c, http.StatusBadRequest, "community_new", pageData{Title: "Add a community", Nav: "overview", Error: msg, Body: f})
	}
	n, msg := f.check(circle)
	if msg != "" {
		again(msg)
		return
	}
	fm := func(v int64) string { return clearing.FormatAmount(v, circle.Divisions) }
	if c.PostForm("confirm") != "yes" {
		s.renderPage(c, http.StatusOK, "confirm", pageData{Title: "Add " + f.Name + "?", Nav: "overview", Body: confirmBody{
			Action: c.Request.URL.Path,
			Summary: []string{
				"Add " + f.Name + " (" + f.ID + ") to the circle, at " + f.URI + ".",
				"Rate: 1 unit of its currency = " + f.Rate + " " + circle.Unit + ".",
				"Limits: " + fm(n.Min) + " to " + fm(n.Max) + " " + circle.Unit + ".",
				"Its key is shown once on the next page: give it to the community's admin by a safe way. To let a community join without copying a key, have it ask from its own admin pages instead.",
			},
			Fields: map[string]string{"id": f.ID, "name": f.Name, "uri": f.URI, "mail": f.Mail, "rate": f.Rate, "min": f.Min, "max": f.Max},
			Cancel: "/admin",
		}})
		return
	}
	com, key, err := s.house.AddCommunity(ctx, c.GetString(actorKey), n)
	if err != nil {
		if msg, ok := formError(err); ok {
			again(msg)
			return
		}
		s.pageFail(c, err)
		return
	}
	s.renderPage(c, http.StatusCreated, "community_key", pageData{Title: com.Name + " is in the circle", Nav: "overview",
		Notice: "The community is added. Its key is shown only now.", Body: struct {
			C   communityRow
			Key string
		}{rowOf(com, circle.Divisions), key}})
}

// pageRateForm is POST /admin/communities/:id/rate: fix the rate.
func (s *Server) pageRateForm(c *gin.Context) {
	ctx := c.Request.Context()
	id := c.Param("id")
	circle, com, ok := s.pageCommunityOf(c, id)
	if !ok {
		return
	}
	rate := strings.TrimSpace(c.PostForm("rate"))
	ticks, err := clearing.ParseTicks(rate)
	if err != nil {
		s.pageCommunityError(c, circle, com, "Rate must be a number above 0: how many "+circle.Unit+" one unit of "+com.Name+"'s currency is worth, e.g. 1 or 0.5")
		return
	}
	if c.PostForm("confirm") != "yes" {
		s.renderPage(c, http.StatusOK, "confirm", pageData{Title: "Change the rate of " + com.Name + "?", Nav: "overview", Body: confirmBody{
			Action: c.Request.URL.Path,
			Summary: []string{
				"Rate: " + com.Ticks + " → " + ticks + " " + circle.Unit + " per unit of its currency.",
				"Payments from now on convert at the new rate; the community learns it at its next handshake.",
			},
			Fields: map[string]string{"rate": ticks},
			Cancel: "/admin/communities/" + url.PathEscape(id),
		}})
		return
	}
	_, err = s.house.SetRate(ctx, c.GetString(actorKey), id, ticks)
	s.pageDone(c, id, "rate", err)
}

// pageApproveRateForm is POST /admin/communities/:id/rate/approve: put the
// declared rate in force.
func (s *Server) pageApproveRateForm(c *gin.Context) {
	ctx := c.Request.Context()
	id := c.Param("id")
	circle, com, ok := s.pageCommunityOf(c, id)
	if !ok {
		return
	}
	if com.DeclaredTicks == "" {
		s.pageCommunityError(c, circle, com, com.Name+" has declared no new rate: there is nothing to approve")
		return
	}
	if c.PostForm("confirm") != "yes" {
		s.renderPage(c, http.StatusOK, "confirm", pageData{Title: "Approve the rate " + com.Name + " declared?", Nav: "overview", Body: confirmBody{
			Action: c.Request.URL.Path,
			Summary: []string{
				"Rate: " + com.Ticks + " → " + com.DeclaredTicks + " " + circle.Unit + " per unit of its currency (as declared).",
				"Payments from now on convert at the new rate.",
			},
			Fields: map[string]string{},
			Cancel: "/admin/communities/" + url.PathEscape(id),
		}})
		return
	}
	_, err := s.house.ApproveRate(ctx, c.GetString(actorKey), id)
	s.pageDone(c, id, "rate-approved", err)
}

// pageCommunityOf reads the circle and one community; when it cannot, it has
// answered c.
func (s *Server) pageCommunityOf(c *gin.Context, id string) (clearing.Circle, clearing.Community, bool) {
	ctx := c.Request.Context()
	circle, err := s.house.Circle(ctx)
	if err != nil {
		s.pageFail(c, err)
		return circle, clearing.Community{}, false
	}
	com, err := s.house.Community(ctx, id)
	if err != nil {
		s.pageFail(c, err)
		return circle, com, false
	}
	return circle, com, true
}

// pageCommunityError shows the community's page again with msg.
func (s *Server) pageCommunityError(c *gin.Context, circle clearing.Circle, com clearing.Community, msg string) {
	body, err := s.communityBody(c, circle, com)
	if err != nil {
		s.pageFail(c, err)
		return
	}
	s.renderPage(c, http.StatusBadRequest, "community", pageData{Title: com.Name, Nav: "overview", Circle: circle, Error: msg, Body: body})
}
