package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/server/messages"
)

type messageJSON struct {
	ID             int64      `json:"id"`
	From           string     `json:"from"`
	To             string     `json:"to"`
	Body           string     `json:"body"`
	AnnouncementID *int64     `json:"announcement_id"`
	About          string     `json:"about,omitempty"` // the announcement's title
	CreatedAt      time.Time  `json:"created_at"`
	ReadAt         *time.Time `json:"read_at"`
	Delivery       string     `json:"delivery,omitempty"` // to a member of a peer: pending, delivered, refused
}

func messageView(m messages.Message) messageJSON {
	v := messageJSON{ID: m.ID, From: m.From, To: m.To, Body: m.Body, About: m.AnnouncementTitle, CreatedAt: m.CreatedAt.UTC(), ReadAt: m.ReadAt, Delivery: m.Delivery}
	if m.AnnouncementID != 0 {
		id := m.AnnouncementID
		v.AnnouncementID = &id
	}
	if v.ReadAt != nil {
		t := v.ReadAt.UTC()
		v.ReadAt = &t
	}
	return v
}

// sendMessage: POST /api/v1/messages {"to","body","announcement_id"?}.
func (h *Handlers) sendMessage(c *gin.Context) {
	var req struct {
		To             string `json:"to"`
		Body           string `json:"body"`
		AnnouncementID *int64 `json:"announcement_id"`
	}
	if !bindJSON(c, &req) {
		return
	}
	d := messages.Draft{To: req.To, Body: req.Body}
	if req.AnnouncementID != nil {
		if *req.AnnouncementID < 1 {
			badRequest(c, "announcement_id", "announcement_id must be a positive id, or left out")
			return
		}
		d.AnnouncementID = *req.AnnouncementID
	}
	m := currentMember(c)
	msg, err := h.Messages.Send(c.Request.Context(), m.ID, m.Username, d)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, messageView(msg))
}

type conversationJSON struct {
	With        string      `json:"with"`
	DisplayName string      `json:"display_name"`
	Unread      int         `json:"unread"`
	Count       int         `json:"count"`
	Last        messageJSON `json:"last"`
}

// conversations: GET /api/v1/messages → {"unread", "conversations"}.
func (h *Handlers) conversations(c *gin.Context) {
	ctx := c.Request.Context()
	id := currentMember(c).ID
	list, err := h.Messages.Conversations(ctx, id)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]conversationJSON, 0, len(list))
	unread := 0
	for _, cv := range list {
		unread += cv.Unread
		out = append(out, conversationJSON{With: cv.With, DisplayName: cv.WithName, Unread: cv.Unread, Count: cv.Count, Last: messageView(cv.Last)})
	}
	c.JSON(http.StatusOK, gin.H{"unread": unread, "conversations": out})
}

// thread: GET /api/v1/messages/:username?before&limit, oldest first.
func (h *Handlers) thread(c *gin.Context) {
	limit, before := 50, int64(0)
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > messages.MaxPage {
			badRequest(c, "limit", "limit must be a whole number from 1 to "+strconv.Itoa(messages.MaxPage))
			return
		}
		limit = n
	}
	if s := c.Query("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			badRequest(c, "before", "before must be a message id")
			return
		}
		before = n
	}
	list, err := h.Messages.Thread(c.Request.Context(), currentMember(c).ID, c.Param("username"), before, limit)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]messageJSON, 0, len(list))
	for _, m := range list {
		out = append(out, messageView(m))
	}
	c.JSON(http.StatusOK, gin.H{"messages": out})
}

// markRead: POST /api/v1/messages/:username/read → {"marked", "unread"}.
func (h *Handlers) markRead(c *gin.Context) {
	ctx := c.Request.Context()
	id := currentMember(c).ID
	n, err := h.Messages.MarkRead(ctx, id, c.Param("username"))
	if err != nil {
		h.fail(c, err)
		return
	}
	unread, err := h.Messages.Unread(ctx, id)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"marked": n, "unread": unread})
}

// maxFederatedMessage bounds the body of POST /federation/v1/messages: a
// message of messages.MaxBody characters fits in it.
const maxFederatedMessage = 32 << 10

// receiveMessage: POST /federation/v1/messages {"id","from","to","body","offer"?,"sent_at"},
// signed by a peer (sxp-fed/1 extension) → 201 {"id","stored":true}, or
// 200 {"id","stored":false} for an id stored before.
func (h *Handlers) receiveMessage(c *gin.Context) {
	raw, _ := c.Get(ctxBody)
	if b, _ := raw.([]byte); len(b) > maxFederatedMessage {
		writeError(c, http.StatusRequestEntityTooLarge, "too_large", "a message is at most 32 KiB", "")
		return
	}
	var w messages.Wire
	if !decodeFederation(c, &w) {
		return
	}
	p := verifiedPeer(c)
	stored, err := h.Messages.Receive(c.Request.Context(), p.BaseURL, p.CommunityID, w)
	if err != nil {
		var me *messages.Error
		if errors.As(err, &me) && me.RetryAfter > 0 {
			c.Header("Retry-After", strconv.Itoa(int(me.RetryAfter.Seconds())))
		}
		h.fail(c, err)
		return
	}
	status := http.StatusOK
	if stored {
		status = http.StatusCreated
	}
	c.JSON(status, gin.H{"id": strings.ToLower(w.ID), "stored": stored})
}
