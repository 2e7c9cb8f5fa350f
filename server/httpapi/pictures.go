package httpapi

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/server/announce"
	"github.com/sxp-network/sxp/server/pictures"
)

// maxUploadBody bounds the body of a picture upload: the picture (at most
// pictures.MaxUpload) and the multipart form around it. limitBody applies
// it to the routes in uploadRoutes, maxBody to every other.
const maxUploadBody = pictures.MaxUpload + 64<<10

// uploadRoutes are the routes (method and template) that take a picture
// (multipart/form-data, field "picture").
var uploadRoutes = map[string]bool{
	"PUT /api/v1/me/picture":                true,
	"PUT /api/v1/announcements/:id/picture": true,
	"POST /profile/picture":                 true,
	"POST /offers/:id/picture":              true,
}

// pictureJSON describes a stored picture.
type pictureJSON struct {
	ID          int64  `json:"id"`
	URL         string `json:"url"`
	ContentType string `json:"content_type"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
}

func pictureView(p pictures.Picture) pictureJSON {
	return pictureJSON{ID: p.ID, URL: pictureURL(p.ID), ContentType: p.ContentType, Width: p.Width, Height: p.Height}
}

// pictureURL is where picture id is served ("" for none).
func pictureURL(id int64) string {
	if id == 0 {
		return ""
	}
	return "/api/v1/pictures/" + strconv.FormatInt(id, 10)
}

// uploaded reads the "picture" file of a multipart form, at most one byte
// past pictures.MaxUpload (so that Process can say it is too large).
func uploaded(c *gin.Context) ([]byte, error) {
	fh, err := c.FormFile("picture")
	if err != nil {
		if errors.Is(err, http.ErrMissingFile) || errors.Is(err, http.ErrNotMultipart) {
			return nil, &pictures.Error{Code: pictures.CodeInvalid, Field: "picture",
				Message: "send the picture as the field \"picture\" of a multipart/form-data body"}
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &pictures.Error{Code: pictures.CodeTooLarge, Field: "picture", Message: "the upload is larger than 5 MB"}
		}
		return nil, &pictures.Error{Code: pictures.CodeInvalid, Field: "picture", Message: "the upload could not be read: " + err.Error()}
	}
	f, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, pictures.MaxUpload+1))
}

// setMyPicture: PUT /api/v1/me/picture (multipart, field "picture").
func (h *Handlers) setMyPicture(c *gin.Context) {
	data, err := uploaded(c)
	if err == nil {
		var p pictures.Picture
		if p, err = h.Pictures.SetProfile(c.Request.Context(), currentMember(c).ID, data); err == nil {
			c.JSON(http.StatusOK, pictureView(p))
			return
		}
	}
	h.fail(c, err)
}

func (h *Handlers) deleteMyPicture(c *gin.Context) {
	if err := h.Pictures.DeleteProfile(c.Request.Context(), currentMember(c).ID); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// editableAnnouncement loads the local announcement :id that the member
// may change (its author or an admin).
func (h *Handlers) editableAnnouncement(c *gin.Context) (announce.Announcement, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		return announce.Announcement{}, &announce.Error{Code: announce.CodeNotFound, Message: "there is no such announcement"}
	}
	a, err := h.Announcements.Get(c.Request.Context(), id)
	if err != nil {
		return a, err
	}
	if a.Origin != announce.Local {
		return a, &pictures.Error{Code: pictures.CodeForbidden, Message: "a federated announcement's picture is its author's, in their community"}
	}
	if !announce.CanEdit(actorOf(c), a) {
		return a, &announce.Error{Code: announce.CodeForbidden, Message: "only its author or an admin may change this announcement's picture"}
	}
	return a, nil
}

func (h *Handlers) setAnnouncementPicture(c *gin.Context) {
	a, err := h.editableAnnouncement(c)
	var data []byte
	if err == nil {
		data, err = uploaded(c)
	}
	if err == nil {
		var p pictures.Picture
		if p, err = h.Pictures.SetAnnouncement(c.Request.Context(), a.MemberID, a.ID, data); err == nil {
			c.JSON(http.StatusOK, pictureView(p))
			return
		}
	}
	h.fail(c, err)
}

func (h *Handlers) deleteAnnouncementPicture(c *gin.Context) {
	a, err := h.editableAnnouncement(c)
	if err == nil {
		err = h.Pictures.DeleteAnnouncement(c.Request.Context(), a.ID)
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// picture serves a stored picture: its content type, an ETag (its hash)
// and caching; a picture never changes under its id (a new upload gets a
// new id), so members' browsers keep it a day.
func (h *Handlers) picture(c *gin.Context) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		h.fail(c, &pictures.Error{Code: pictures.CodeNotFound, Message: "there is no such picture"})
		return
	}
	p, err := h.Pictures.Get(c.Request.Context(), id)
	if err != nil {
		h.fail(c, err)
		return
	}
	etag := p.ETag()
	c.Header("ETag", etag)
	c.Header("Cache-Control", "private, max-age=86400")
	if etagMatches(c.GetHeader("If-None-Match"), etag) {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, p.ContentType, p.Data)
}

// etagMatches reports whether an If-None-Match header (a list of entity
// tags, weak or strong, or "*") names etag.
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
