package client

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Message is a message between two members.
type Message struct {
	ID             int64      `json:"id"`
	From           string     `json:"from"`
	To             string     `json:"to"`
	Body           string     `json:"body"`
	AnnouncementID *int64     `json:"announcement_id"`
	About          string     `json:"about,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	ReadAt         *time.Time `json:"read_at"`
}

// Conversation is the latest message with one member and what is unread.
type Conversation struct {
	With        string  `json:"with"`
	DisplayName string  `json:"display_name"`
	Unread      int     `json:"unread"`
	Count       int     `json:"count"`
	Last        Message `json:"last"`
}

// Inbox is GET /api/v1/messages.
type Inbox struct {
	Unread        int            `json:"unread"`
	Conversations []Conversation `json:"conversations"`
}

// SendMessage sends body to the local member to, about the announcement
// announcementID (0 for none).
func (c *Client) SendMessage(ctx context.Context, to, body string, announcementID int64) (Message, error) {
	in := map[string]any{"to": to, "body": body}
	if announcementID > 0 {
		in["announcement_id"] = announcementID
	}
	var m Message
	_, err := c.do(ctx, http.MethodPost, "/api/v1/messages", in, &m)
	return m, err
}

// Inbox lists the member's conversations and unread count.
func (c *Client) Inbox(ctx context.Context) (Inbox, error) {
	var in Inbox
	_, err := c.do(ctx, http.MethodGet, "/api/v1/messages", nil, &in)
	return in, err
}

// Conversation returns the latest messages with username, oldest first.
func (c *Client) Conversation(ctx context.Context, username string) ([]Message, error) {
	var out struct {
		Messages []Message `json:"messages"`
	}
	_, err := c.do(ctx, http.MethodGet, "/api/v1/messages/"+url.PathEscape(username), nil, &out)
	return out.Messages, err
}

// MarkRead marks the messages from username read and returns the unread count left.
func (c *Client) MarkRead(ctx context.Context, username string) (int, error) {
	var out struct {
		Unread int `json:"unread"`
	}
	_, err := c.do(ctx, http.MethodPost, "/api/v1/messages/"+url.PathEscape(username)+"/read", nil, &out)
	return out.Unread, err
}

// Person is an entry of the member directory.
type Person struct {
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
	Community   *struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		BaseURL string `json:"base_url"`
	} `json:"community"`
	PictureURL string `json:"picture_url,omitempty"`
	OfferCount int    `json:"offer_count"`
	Offers     []struct {
		ID    int64  `json:"id"`
		Title string `json:"title"`
	} `json:"offers"`
}

// DirectoryPage is one page of the directory.
type DirectoryPage struct {
	People     []Person `json:"people"`
	Total      int64    `json:"total"`
	NextOffset *int     `json:"next_offset"`
}

// Directory searches the member directory (q "" for everyone; limit 0 for the default).
func (c *Client) Directory(ctx context.Context, q string, limit, offset int) (DirectoryPage, error) {
	v := url.Values{}
	if q != "" {
		v.Set("q", q)
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	if offset > 0 {
		v.Set("offset", strconv.Itoa(offset))
	}
	var p DirectoryPage
	_, err := c.do(ctx, http.MethodGet, withQuery("/api/v1/directory", v), nil, &p)
	return p, err
}

// Picture is a stored picture.
type Picture struct {
	ID          int64  `json:"id"`
	URL         string `json:"url"`
	ContentType string `json:"content_type"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
}

// SetPicture uploads the member's profile picture (JPEG, PNG or GIF).
func (c *Client) SetPicture(ctx context.Context, data []byte) (Picture, error) {
	return c.upload(ctx, "/api/v1/me/picture", data)
}

// SetAnnouncementPicture uploads the picture of announcement id.
func (c *Client) SetAnnouncementPicture(ctx context.Context, id int64, data []byte) (Picture, error) {
	return c.upload(ctx, "/api/v1/announcements/"+strconv.FormatInt(id, 10)+"/picture", data)
}

// upload PUTs data as the multipart field "picture".
func (c *Client) upload(ctx context.Context, path string, data []byte) (Picture, error) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	f, err := w.CreateFormFile("picture", "picture")
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return Picture{}, err
	}
	var p Picture
	if _, err := c.send(ctx, http.MethodPut, path, w.FormDataContentType(), &b, 1<<20, &p); err != nil {
		return Picture{}, err
	}
	return p, nil
}
