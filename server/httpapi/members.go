package httpapi

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/server/members"
)

type memberJSON struct {
	ID          int64     `json:"id"`
	Username    string    `json:"username"`
	DisplayName string    `json:"display_name"`
	Bio         string    `json:"bio"`
	Contact     string    `json:"contact"`
	Role        string    `json:"role"`
	Status      string    `json:"status"`
	PublicKey   string    `json:"public_key,omitempty"` // base64 Ed25519
	CreatedAt   time.Time `json:"created_at"`
}

func memberView(m members.Member) memberJSON {
	v := memberJSON{ID: m.ID, Username: m.Username, DisplayName: m.DisplayName, Bio: m.Bio, Contact: m.Contact,
		Role: string(m.Role), Status: string(m.Status), CreatedAt: m.CreatedAt.UTC()}
	if len(m.PublicKey) > 0 {
		v.PublicKey = base64.StdEncoding.EncodeToString(m.PublicKey)
	}
	return v
}

// publicMemberJSON is what any member sees of another.
type publicMemberJSON struct {
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
	Bio         string `json:"bio"`
	Contact     string `json:"contact"`
	PublicKey   string `json:"public_key,omitempty"`
	PictureURL  string `json:"picture_url,omitempty"` // the profile picture, when there is one
}

func (h *Handlers) register(c *gin.Context) {
	var req struct {
		Username    string `json:"username"`
		Password    string `json:"password"`
		DisplayName string `json:"display_name"`
	}
	if !bindJSON(c, &req) {
		return
	}
	m, err := h.Members.Register(c.Request.Context(), members.Registration{Username: req.Username, Password: req.Password, DisplayName: req.DisplayName})
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, memberView(m))
}

type sessionJSON struct {
	Token     string     `json:"token"`
	CSRF      string     `json:"csrf_token"`
	ExpiresAt time.Time  `json:"expires_at"`
	Member    memberJSON `json:"member"`
}

func (h *Handlers) login(c *gin.Context) {
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if !bindJSON(c, &req) {
		return
	}
	if req.Username == "" || req.Password == "" {
		field := "username"
		if req.Username != "" {
			field = "password"
		}
		badRequest(c, field, "send a username and a password")
		return
	}
	s, err := h.Members.Login(c.Request.Context(), members.LoginRequest{Username: req.Username, Password: req.Password, IP: c.ClientIP()})
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, sessionJSON{Token: s.Token, CSRF: s.CSRF, ExpiresAt: s.ExpiresAt.UTC(), Member: memberView(s.Member)})
}

func (h *Handlers) logout(c *gin.Context) {
	s, _ := currentSession(c)
	if err := h.Members.Logout(c.Request.Context(), s.Token); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *Handlers) me(c *gin.Context) {
	c.JSON(http.StatusOK, memberView(currentMember(c)))
}

func (h *Handlers) updateProfile(c *gin.Context) {
	var req struct {
		DisplayName *string `json:"display_name"`
		Bio         *string `json:"bio"`
		Contact     *string `json:"contact"`
	}
	if !bindJSON(c, &req) {
		return
	}
	m := currentMember(c)
	p := members.Profile{DisplayName: m.DisplayName, Bio: m.Bio, Contact: m.Contact}
	if req.DisplayName != nil {
		p.DisplayName = *req.DisplayName
	}
	if req.Bio != nil {
		p.Bio = *req.Bio
	}
	if req.Contact != nil {
		p.Contact = *req.Contact
	}
	m, err := h.Members.UpdateProfile(c.Request.Context(), m.ID, p)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, memberView(m))
}

func (h *Handlers) setPublicKey(c *gin.Context) {
	var req struct {
		PublicKey *string `json:"public_key"`
	}
	if !bindJSON(c, &req) {
		return
	}
	if req.PublicKey == nil {
		badRequest(c, "public_key", "send public_key: a base64 Ed25519 public key, or \"\" to remove it")
		return
	}
	m, err := h.Members.SetPublicKey(c.Request.Context(), currentMember(c).ID, *req.PublicKey)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, memberView(m))
}

func (h *Handlers) member(c *gin.Context) {
	m, err := h.Members.ByUsername(c.Request.Context(), c.Param("username"))
	if err == nil && m.Status != members.StatusActive && !currentMember(c).IsAdmin() {
		err = &members.Error{Code: members.CodeNotFound, Message: "no member " + c.Param("username")}
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	pics, err := h.Pictures.Profiles(c.Request.Context(), []int64{m.ID})
	if err != nil {
		h.fail(c, err)
		return
	}
	v := publicMemberJSON{Username: m.Username, DisplayName: m.DisplayName, Bio: m.Bio, Contact: m.Contact, PictureURL: pictureURL(pics[m.ID])}
	if len(m.PublicKey) > 0 {
		v.PublicKey = base64.StdEncoding.EncodeToString(m.PublicKey)
	}
	c.JSON(http.StatusOK, v)
}

// directory lists active members (?q= filters by username or name).
func (h *Handlers) directory(c *gin.Context) {
	limit := 100
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			badRequest(c, "limit", "limit must be a whole number from 1 to 500")
			return
		}
		limit = n
	}
	ms, err := h.Members.Directory(c.Request.Context(), c.Query("q"), limit)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]publicMemberJSON, 0, len(ms))
	for _, m := range ms {
		out = append(out, publicMemberJSON{Username: m.Username, DisplayName: m.DisplayName, Bio: m.Bio, Contact: m.Contact, PublicKey: base64Key(m.PublicKey)})
	}
	c.JSON(http.StatusOK, gin.H{"members": out})
}

func (h *Handlers) changePassword(c *gin.Context) {
	var req struct {
		CurrentPassword string `json:"current_password"`
		NewPassword     string `json:"new_password"`
	}
	if !bindJSON(c, &req) {
		return
	}
	s, _ := currentSession(c)
	if err := h.Members.ChangePassword(c.Request.Context(), s.Member.ID, req.CurrentPassword, req.NewPassword, s.Token); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
