package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/server/announce"
	"github.com/sxp-network/sxp/server/members"
	"github.com/sxp-network/sxp/server/messages"
	"github.com/sxp-network/sxp/server/people"
)

// The pages of finding people: the directory (/members), a member's
// profile (/members/{username}), pictures on one's profile and
// announcements, and messages (/messages, /messages/{username}).

type directoryData struct {
	Q          string
	People     []personView
	Total      int64
	From, To   int
	Prev, Next string
}

type personView struct {
	people.Person
	PictureURL string
	Link       string // the profile (local) or their offers here (federated)
}

func (h *Handlers) directoryPage(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "title.members"))
	q, fe := directoryQuery(c)
	d := directoryData{Q: strings.TrimSpace(q.Text)}
	p.Data = &d
	if fe != nil {
		p.Error, p.Field = fe.message, fe.field
		h.render(c, http.StatusBadRequest, "directory.html", p)
		return
	}
	q.Limit = people.DefaultPageSize
	page, pics, err := h.searchPeople(c, q)
	if err != nil {
		h.render(c, h.pageRefusal(c, &p, err), "directory.html", p)
		return
	}
	d.Total = page.Total
	for _, person := range page.People {
		v := personView{Person: person}
		if person.Local {
			v.PictureURL, v.Link = pictureURL(pics[person.MemberID]), "/members/"+url.PathEscape(person.Username)
		} else {
			v.Link = "/offers?" + url.Values{"member": {person.Username}}.Encode()
		}
		d.People = append(d.People, v)
	}
	if len(page.People) > 0 {
		d.From, d.To = page.Offset+1, page.Offset+len(page.People)
	}
	v := url.Values{}
	if d.Q != "" {
		v.Set("q", d.Q)
	}
	d.Next, d.Prev = listLinks("/members", v, page.Offset, page.Limit, page.NextOffset())
	h.render(c, http.StatusOK, "directory.html", p)
}

type memberData struct {
	Profile    members.Member
	PictureURL string
	Self       bool
	Offers     []announce.Announcement
	Wants      []announce.Announcement
}

func (h *Handlers) memberPage(c *gin.Context) {
	ctx := c.Request.Context()
	p := h.newPage(c, h.tr(c, "title.member"))
	username := c.Param("username")
	if strings.Contains(username, "@") {
		c.Redirect(http.StatusSeeOther, "/offers?"+url.Values{"member": {username}}.Encode())
		return
	}
	m, err := h.Members.ByUsername(ctx, username)
	if err == nil && m.Status != members.StatusActive && !currentMember(c).IsAdmin() {
		err = &members.Error{Code: members.CodeNotFound, Message: h.tr(c, "error.no_member_here", "Name", strconv.Quote(username))}
	}
	if err != nil {
		h.pageError(c, h.pageRefusal(c, &p, err), p.Error)
		return
	}
	d := memberData{Profile: m, Self: m.ID == currentMember(c).ID}
	pics, err := h.Pictures.Profiles(ctx, []int64{m.ID})
	if err == nil {
		d.PictureURL = pictureURL(pics[m.ID])
		var page announce.Page
		page, err = h.Announcements.Search(ctx, announce.Query{Member: m.Username, Origin: announce.Local, Limit: announce.MaxPageSize})
		for _, a := range page.Announcements {
			if a.Kind == announce.Offer {
				d.Offers = append(d.Offers, a)
			} else {
				d.Wants = append(d.Wants, a)
			}
		}
	}
	if err != nil {
		h.pageError(c, h.pageRefusal(c, &p, err), p.Error)
		return
	}
	p.Title, p.Data = m.DisplayName, d
	h.render(c, http.StatusOK, "member.html", p)
}

// profileData is what the profile page shows besides the member.
type profileData struct {
	PictureURL string
	Key        *contractKeyJSON // nil when the server keeps no contract keys
}

// renderProfile shows the member's own profile page with p's notice or error.
func (h *Handlers) renderProfile(c *gin.Context, status int, p page) {
	id := currentMember(c).ID
	pics, err := h.Pictures.Profiles(c.Request.Context(), []int64{id})
	if err != nil {
		h.logger().Warn("finding the profile picture", "err", err)
	}
	d := profileData{PictureURL: pictureURL(pics[id])}
	if h.Keys != nil {
		if info, err := h.Keys.Info(c.Request.Context(), p.Member.Username); err == nil {
			v := contractKeyView(info)
			d.Key = &v
		} else {
			h.logger().Warn("profile: contract key", "member", p.Member.Username, "err", err)
		}
	}
	p.Data = d
	h.render(c, status, "profile.html", p)
}

func (h *Handlers) profilePictureForm(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "title.profile"))
	data, err := uploaded(c)
	if err == nil {
		_, err = h.Pictures.SetProfile(c.Request.Context(), currentMember(c).ID, data)
	}
	if err != nil {
		h.renderProfile(c, h.pageRefusal(c, &p, err), p)
		return
	}
	p.Notice = h.tr(c, "notice.my_picture_saved")
	h.renderProfile(c, http.StatusOK, p)
}

func (h *Handlers) profilePictureDeleteForm(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "title.profile"))
	if err := h.Pictures.DeleteProfile(c.Request.Context(), currentMember(c).ID); err != nil {
		h.renderProfile(c, h.pageRefusal(c, &p, err), p)
		return
	}
	p.Notice = h.tr(c, "notice.my_picture_removed")
	h.renderProfile(c, http.StatusOK, p)
}

// offerPictureForm sets the picture of an announcement, from its page.
func (h *Handlers) offerPictureForm(c *gin.Context) {
	h.offerPictureChange(c, func(a announce.Announcement) error {
		data, err := uploaded(c)
		if err == nil {
			_, err = h.Pictures.SetAnnouncement(c.Request.Context(), a.MemberID, a.ID, data)
		}
		return err
	}, "picture")
}

func (h *Handlers) offerPictureDeleteForm(c *gin.Context) {
	h.offerPictureChange(c, func(a announce.Announcement) error {
		return h.Pictures.DeleteAnnouncement(c.Request.Context(), a.ID)
	}, "nopicture")
}

func (h *Handlers) offerPictureChange(c *gin.Context, change func(announce.Announcement) error, done string) {
	p := h.newPage(c, h.tr(c, "title.offer"))
	a, err := h.editableAnnouncement(c)
	if err == nil {
		err = change(a)
	}
	if err != nil {
		status := h.pageRefusal(c, &p, err)
		if a.ID == 0 {
			h.pageError(c, status, p.Error)
			return
		}
		p.Title, p.Data = a.Title, h.offerDetail(c, a)
		h.render(c, status, "announce_detail.html", p)
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/offers/%d?done=%s", a.ID, done))
}

type messagesData struct {
	Conversations []messages.Conversation
}

func (h *Handlers) messagesPage(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "msg.heading"))
	list, err := h.Messages.Conversations(c.Request.Context(), currentMember(c).ID)
	if err != nil {
		h.pageError(c, h.pageRefusal(c, &p, err), p.Error)
		return
	}
	p.Data = messagesData{Conversations: list}
	h.render(c, http.StatusOK, "messages.html", p)
}

type conversationData struct {
	With     members.Member
	Messages []messages.Message
	Body     string
	About    *announce.Announcement // the offer the new message is about
}

// conversationPage shows the conversation with :username and marks its
// messages to the member read; ?about=ID starts a message about an offer.
func (h *Handlers) conversationPage(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "msg.heading"))
	d, ok := h.conversation(c, &p)
	if !ok {
		return
	}
	if s := c.Query("about"); s != "" && d.About == nil {
		p.Error = h.tr(c, "error.no_offer")
	}
	if c.Query("sent") != "" {
		p.Notice = h.tr(c, "notice.message_sent", "Name", d.With.DisplayName)
	}
	h.renderConversation(c, http.StatusOK, p, d)
}

// conversation loads the member :username, the offer ?about= or the
// form's announcement_id, and marks the conversation read.
func (h *Handlers) conversation(c *gin.Context, p *page) (conversationData, bool) {
	ctx := c.Request.Context()
	username := c.Param("username")
	var with members.Member
	var err error
	if strings.Contains(username, "@") {
		// A member of a peered community: bob@acorn (Acorn Valley).
		var peer messages.Peer
		peer, err = h.Messages.RemotePeer(ctx, username)
		if messages.CodeOf(err) == messages.CodeRemote {
			// No longer a peer: the conversation stays readable (sending is refused).
			if old, terr := h.Messages.Thread(ctx, currentMember(c).ID, username, 0, 1); terr == nil && len(old) > 0 {
				err = nil
			}
		}
		if err == nil {
			with = members.Member{Username: username, DisplayName: username}
			if peer.Name != "" {
				with.DisplayName += " (" + peer.Name + ")"
			}
		}
	} else {
		with, err = h.Members.ByUsername(ctx, username)
	}
	if err != nil {
		h.pageError(c, h.pageRefusal(c, p, err), p.Error)
		return conversationData{}, false
	}
	if with.ID == currentMember(c).ID {
		h.pageError(c, http.StatusBadRequest, h.tr(c, "error.message_self"))
		return conversationData{}, false
	}
	d := conversationData{With: with}
	about := c.Query("about")
	if c.Request.Method == http.MethodPost {
		about = c.PostForm("announcement_id")
	}
	if id, err := strconv.ParseInt(about, 10, 64); err == nil && id > 0 {
		if a, err := h.Announcements.Get(ctx, id); err == nil {
			d.About = &a
		}
	}
	// The page shows the messages: they are read now. The count in the
	// navigation bar is taken again below.
	if _, err := h.Messages.MarkRead(ctx, currentMember(c).ID, with.Username); err != nil {
		h.pageError(c, h.pageRefusal(c, p, err), p.Error)
		return d, false
	}
	if n, err := h.Messages.Unread(ctx, currentMember(c).ID); err == nil {
		p.Unread = n
	}
	return d, true
}

func (h *Handlers) renderConversation(c *gin.Context, status int, p page, d conversationData) {
	list, err := h.Messages.Thread(c.Request.Context(), currentMember(c).ID, d.With.Username, 0, messages.MaxPage)
	if err != nil {
		h.pageError(c, h.pageRefusal(c, &p, err), p.Error)
		return
	}
	d.Messages = list
	p.Title, p.Data = h.tr(c, "msg.title_with", "Name", d.With.DisplayName), d
	h.render(c, status, "conversation.html", p)
}

func (h *Handlers) sendMessageForm(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "msg.heading"))
	d, ok := h.conversation(c, &p)
	if !ok {
		return
	}
	draft := messages.Draft{To: d.With.Username, Body: c.PostForm("body")}
	if d.About != nil {
		draft.AnnouncementID = d.About.ID
	}
	m := currentMember(c)
	if _, err := h.Messages.Send(c.Request.Context(), m.ID, m.Username, draft); err != nil {
		d.Body = c.PostForm("body")
		var me *messages.Error
		if errors.As(err, &me) && me.RetryAfter > 0 {
			c.Header("Retry-After", strconv.Itoa(int(me.RetryAfter.Seconds())))
		}
		h.renderConversation(c, h.pageRefusal(c, &p, err), p, d)
		return
	}
	c.Redirect(http.StatusSeeOther, "/messages/"+url.PathEscape(d.With.Username)+"?sent=1")
}
