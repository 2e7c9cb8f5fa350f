package httpapi

// The circle admins' page of requests to join (join.go receives them):
// each pending request with its details and key fingerprint, approved with
// a rate and limits or refused with a reason, each confirmed on a second
// page. Approving adds the community and seals its key to it.

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/clearing"
)

var joinNotices = map[string]string{
	"approved": "The community is in the circle: its key is sealed to it, and its server picks it up at its next poll.",
	"refused":  "The request is refused: the community is told the reason.",
}

// pageJoins is GET /admin/joins.
func (s *Server) pageJoins(c *gin.Context) {
	pending, decided, err := s.house.JoinRequests(c.Request.Context(), 20)
	if err != nil {
		s.pageFail(c, err)
		return
	}
	s.renderPage(c, http.StatusOK, "joins", pageData{Title: "Requests to join", Nav: "joins", Notice: joinNotices[c.Query("done")],
		Body: struct{ Pending, Decided []clearing.JoinRequest }{pending, decided}})
}

// pageJoinOf reads the request of the route's :id; when it cannot, it has answered c.
func (s *Server) pageJoinOf(c *gin.Context) (clearing.JoinRequest, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		s.renderPage(c, http.StatusNotFound, "error", pageData{Title: "Not found", Error: "there is no such request to join"})
		return clearing.JoinRequest{}, false
	}
	r, err := s.house.JoinRequestByID(c.Request.Context(), id)
	if err != nil {
		s.pageFail(c, err)
		return r, false
	}
	return r, true
}

// pageJoinError shows the requests again with msg.
func (s *Server) pageJoinError(c *gin.Context, msg string) {
	pending, decided, err := s.house.JoinRequests(c.Request.Context(), 20)
	if err != nil {
		s.pageFail(c, err)
		return
	}
	s.renderPage(c, http.StatusBadRequest, "joins", pageData{Title: "Requests to join", Nav: "joins", Error: msg,
		Body: struct{ Pending, Decided []clearing.JoinRequest }{pending, decided}})
}

// pageApproveJoinForm is POST /admin/joins/:id/approve {rate, min, max}.
func (s *Server) pageApproveJoinForm(c *gin.Context) {
	ctx := c.Request.Context()
	r, ok := s.pageJoinOf(c)
	if !ok {
		return
	}
	circle, err := s.house.Circle(ctx)
	if err != nil {
		s.pageFail(c, err)
		return
	}
	f := communityForm{ID: r.CommunityID, Name: r.Name, URI: r.BaseURL, Mail: r.Mail,
		Rate: strings.TrimSpace(c.PostForm("rate")), Min: strings.TrimSpace(c.PostForm("min")), Max: strings.TrimSpace(c.PostForm("max"))}
	n, msg := f.check(circle)
	if msg != "" {
		s.pageJoinError(c, r.Name+": "+msg)
		return
	}
	fm := func(v int64) string { return clearing.FormatAmount(v, circle.Divisions) }
	if c.PostForm("confirm") != "yes" {
		listed := "Its server at " + r.BaseURL + " lists this key in its /.well-known/sxp (checked now): the request is its own."
		switch ok, err := s.house.JoinKeyListed(ctx, r); {
		case err != nil:
			listed = "Could not check that its server lists this key: " + err.Error() + ". Compare the fingerprint with its admin before you confirm."
		case !ok:
			listed = "Warning: its server at " + r.BaseURL + " does not list this key: the request may not be its own. Compare the fingerprint with its admin before you confirm."
		}
		rate := "Rate: " + n.Ticks + " " + circle.Unit + " per unit of its currency"
		if t, err := clearing.ParseTicks(n.Ticks); err == nil && t != r.Ticks {
			rate += " (it declared " + r.Ticks + ")"
		}
		s.renderPage(c, http.StatusOK, "confirm", pageData{Title: "Let " + r.Name + " join?", Nav: "joins", Body: confirmBody{
			Action: c.Request.URL.Path,
			Summary: []string{
				"Add " + r.Name + " (" + r.CommunityID + ") at " + r.BaseURL + " to the circle.",
				rate + ".",
				"Limits: " + fm(n.Min) + " to " + fm(n.Max) + " " + circle.Unit + ".",
				"Key fingerprint: " + r.Fingerprint() + ". Its key is sealed to it: nobody copies it.",
				listed,
			},
			Fields: map[string]string{"rate": f.Rate, "min": f.Min, "max": f.Max},
			Cancel: "/admin/joins",
		}})
		return
	}
	_, err = s.house.ApproveJoin(ctx, c.GetString(actorKey), r.ID, clearing.JoinApproval{Ticks: n.Ticks, Min: n.Min, Max: n.Max,
		CircleURL: s.opts.PublicURL})
	s.pageJoinDone(c, r, "approved", err)
}

// pageRefuseJoinForm is POST /admin/joins/:id/refuse {reason}.
func (s *Server) pageRefuseJoinForm(c *gin.Context) {
	r, ok := s.pageJoinOf(c)
	if !ok {
		return
	}
	reason := strings.TrimSpace(c.PostForm("reason"))
	if reason == "" {
		s.pageJoinError(c, r.Name+": Reason must not be empty: the community is told why it was refused")
		return
	}
	if c.PostForm("confirm") != "yes" {
		s.renderPage(c, http.StatusOK, "confirm", pageData{Title: "Refuse " + r.Name + "?", Nav: "joins", Body: confirmBody{
			Action:   c.Request.URL.Path,
			Summary:  []string{"Refuse the request of " + r.Name + " (" + r.CommunityID + ") at " + r.BaseURL + " to join.", "Reason, as the community is told: " + reason},
			Fields:   map[string]string{"reason": reason},
			Cancel:   "/admin/joins",
			Severity: "danger",
		}})
		return
	}
	_, err := s.house.RefuseJoin(c.Request.Context(), c.GetString(actorKey), r.ID, reason)
	s.pageJoinDone(c, r, "refused", err)
}

func (s *Server) pageJoinDone(c *gin.Context, r clearing.JoinRequest, done string, err error) {
	if err != nil {
		if msg, ok := formError(err); ok {
			s.pageJoinError(c, r.Name+": "+msg)
			return
		}
		s.pageFail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/joins?done="+done)
}
