package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"html"
	"image"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sxp-network/sxp/server/members"
)

// upload sends data as the multipart field "picture" as user.
func (e *env) upload(user, method, path string, data []byte) (int, map[string]any) {
	e.t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	f, _ := w.CreateFormFile("picture", "photo.jpg") // the name says JPEG: only the content counts
	f.Write(data)
	w.Close()
	req, _ := http.NewRequest(method, e.http.URL+path, &b)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+e.tokens[user])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// pngHeaderOnly is a PNG header that declares w×h and holds no pixels.
func pngHeaderOnly(w, h int) []byte {
	b := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR")
	b = append(b, byte(w>>24), byte(w>>16), byte(w>>8), byte(w), byte(h>>24), byte(h>>16), byte(h>>8), byte(h), 8, 2, 0, 0, 0)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[12:]))
}

func TestPicturesAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.member("alice", members.RoleMember)
	e.member("bob", members.RoleMember)
	e.member("root", members.RoleAdmin)

	// A profile picture: scaled to fit 1024×1024, kept as PNG.
	st, pic := e.upload("alice", "PUT", "/api/v1/me/picture", testPNG(t, 2000, 1000))
	if st != http.StatusOK || pic["width"] != 1024.0 || pic["height"] != 512.0 || pic["content_type"] != "image/png" {
		t.Fatalf("upload: got %d %v, want 200 image/png 1024×512", st, pic)
	}
	url1 := pic["url"].(string)
	st, body, hdr := e.raw("bob", "GET", url1, "")
	if st != http.StatusOK || hdr.Get("Content-Type") != "image/png" || hdr.Get("ETag") == "" || !strings.Contains(hdr.Get("Cache-Control"), "max-age") {
		t.Fatalf("GET %s: got %d %q etag %q cache %q", url1, st, hdr.Get("Content-Type"), hdr.Get("ETag"), hdr.Get("Cache-Control"))
	}
	if cfg, format, err := image.DecodeConfig(strings.NewReader(body)); err != nil || format != "png" || cfg.Width != 1024 || cfg.Height != 512 {
		t.Fatalf("served picture: got %s %d×%d %v", format, cfg.Width, cfg.Height, err)
	}
	req, _ := http.NewRequest("GET", e.http.URL+url1, nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens["bob"])
	req.Header.Set("If-None-Match", `"0000", W/`+hdr.Get("ETag"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: got %d, want 304", resp.StatusCode)
	}
	if st, _, _ := e.raw("", "GET", url1, ""); st != http.StatusUnauthorized {
		t.Fatalf("picture without a session: got %d, want 401", st)
	}

	// Refusals store nothing: the one picture stays.
	big := make([]byte, 5<<20+1)
	rand.Read(big)
	for _, tt := range []struct {
		name   string
		data   []byte
		status int
		code   string
	}{
		{"text named photo.jpg", []byte("not a picture at all"), 415, "unsupported"},
		{"empty", nil, 400, "invalid"},
		{"decompression bomb", pngHeaderOnly(60000, 60000), 400, "invalid"},
		{"over 5 MB", big, 413, "too_large"},
	} {
		st, body := e.upload("alice", "PUT", "/api/v1/me/picture", tt.data)
		if code, _ := errCode(body); st != tt.status || code != tt.code {
			t.Errorf("%s: got %d %v, want %d %s", tt.name, st, body, tt.status, tt.code)
		}
	}
	if n := e.count("pictures"); n != 1 {
		t.Fatalf("after refusals: got %d pictures, want 1", n)
	}
	// A new picture replaces the old one, which is gone.
	if st, pic2 := e.upload("alice", "PUT", "/api/v1/me/picture", testPNG(t, 10, 10)); st != http.StatusOK || pic2["url"] == url1 {
		t.Fatalf("replace: got %d %v", st, pic2)
	}
	if st, _, _ := e.raw("bob", "GET", url1, ""); st != http.StatusNotFound {
		t.Fatalf("the replaced picture: got %d, want 404", st)
	}
	st, member := e.call("bob", "GET", "/api/v1/directory?q=alice", "")
	if st != http.StatusOK || len(member["people"].([]any)) != 1 || member["people"].([]any)[0].(map[string]any)["picture_url"] == "" {
		t.Fatalf("directory shows alice's picture: got %d %v", st, member)
	}

	// An announcement's picture: its author or an admin; deleted with it.
	st, ann := e.call("alice", "POST", "/api/v1/announcements", `{"kind":"offer","title":"Bread","category":"food","price":"3.00"}`)
	if st != http.StatusCreated {
		t.Fatalf("announcement: got %d %v", st, ann)
	}
	id := jsonNumber(ann["id"].(float64))
	if st, body := e.upload("bob", "PUT", "/api/v1/announcements/"+id+"/picture", testPNG(t, 5, 5)); st != http.StatusForbidden {
		t.Fatalf("bob sets alice's offer's picture: got %d %v, want 403", st, body)
	}
	if st, body := e.upload("root", "PUT", "/api/v1/announcements/"+id+"/picture", testPNG(t, 5, 5)); st != http.StatusOK {
		t.Fatalf("admin sets it: got %d %v", st, body)
	}
	if st, body := e.upload("alice", "PUT", "/api/v1/announcements/"+id+"/picture", testPNG(t, 6, 6)); st != http.StatusOK {
		t.Fatalf("alice sets it: got %d %v", st, body)
	}
	if n := e.count("pictures"); n != 2 {
		t.Fatalf("got %d pictures, want 2 (alice's and her offer's)", n)
	}
	_, one := e.call("bob", "GET", "/api/v1/announcements/"+id, "")
	_, list := e.call("bob", "GET", "/api/v1/announcements?q=bread", "")
	items, _ := list["announcements"].([]any)
	if u, _ := one["picture_url"].(string); !strings.HasPrefix(u, "/api/v1/pictures/") || len(items) != 1 || items[0].(map[string]any)["picture_url"] != u {
		t.Fatalf("announcement picture_url: got %v and %v", one, list)
	}
	if _, m := e.call("bob", "GET", "/api/v1/members/alice", ""); m["picture_url"] == nil {
		t.Fatalf("alice's profile: got %v, want a picture_url", m)
	}
	if st, body := e.call("alice", "DELETE", "/api/v1/announcements/"+id, ""); st/100 != 2 {
		t.Fatalf("delete the offer: got %d %v", st, body)
	}
	if n := e.count("pictures WHERE announcement_id IS NOT NULL"); n != 0 {
		t.Fatalf("after deleting the offer: got %d announcement pictures, want 0", n)
	}
	if st, _, _ := e.raw("alice", "DELETE", "/api/v1/me/picture", ""); st != http.StatusNoContent {
		t.Fatalf("delete my picture: got %d", st)
	}
	if st, body := e.call("alice", "DELETE", "/api/v1/me/picture", ""); st != http.StatusNotFound {
		t.Fatalf("delete it again: got %d %v, want 404", st, body)
	}
}

func TestMessagesAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.member("alice", members.RoleMember)
	e.member("bob", members.RoleMember)
	if _, err := e.srv.Members.Register(context.Background(), members.Registration{Username: "paula", Password: "password-paula"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Members.Block(context.Background(), "paula"); err != nil {
		t.Fatal(err)
	}
	st, ann := e.call("bob", "POST", "/api/v1/announcements", `{"kind":"offer","title":"Bike repair","category":"services","price":"12.50"}`)
	if st != http.StatusCreated {
		t.Fatalf("offer: got %d %v", st, ann)
	}
	offer := jsonNumber(ann["id"].(float64))

	// Bad input: a clear refusal, and nothing stored.
	for _, tt := range []struct {
		name, body  string
		status      int
		code, field string
	}{
		{"empty", `{"to":"bob","body":"   "}`, 400, "invalid", "body"},
		{"too long", `{"to":"bob","body":"` + strings.Repeat("é", 4001) + `"}`, 400, "invalid", "body"},
		{"to oneself", `{"to":"alice","body":"hi"}`, 400, "invalid", "to"},
		{"unknown member", `{"to":"nobody","body":"hi"}`, 404, "unknown_member", "to"},
		{"blocked member", `{"to":"paula","body":"hi"}`, 404, "unknown_member", "to"},
		{"remote member", `{"to":"dmitri@acorn","body":"hi"}`, 422, "not_available", "to"},
		{"no recipient", `{"body":"hi"}`, 400, "invalid", "to"},
		{"unknown offer", `{"to":"bob","body":"hi","announcement_id":999999}`, 400, "invalid", "announcement_id"},
		{"bad offer id", `{"to":"bob","body":"hi","announcement_id":0}`, 400, "invalid", "announcement_id"},
		{"unknown field", `{"to":"bob","body":"hi","subject":"x"}`, 400, "invalid", "subject"},
	} {
		st, body := e.call("alice", "POST", "/api/v1/messages", tt.body)
		if code, field := errCode(body); st != tt.status || code != tt.code || field != tt.field {
			t.Errorf("%s: got %d %s/%s %v, want %d %s/%s", tt.name, st, code, field, body, tt.status, tt.code, tt.field)
		}
	}
	if n := e.count("messages"); n != 0 {
		t.Fatalf("after refusals: got %d messages, want 0", n)
	}

	st, msg := e.call("alice", "POST", "/api/v1/messages", `{"to":"bob","body":"Is the bike repair still on?","announcement_id":`+offer+`}`)
	if st != http.StatusCreated || msg["from"] != "alice" || msg["to"] != "bob" || msg["about"] != "Bike repair" || msg["read_at"] != nil {
		t.Fatalf("send: got %d %v", st, msg)
	}
	st, inbox := e.call("bob", "GET", "/api/v1/messages", "")
	convs, _ := inbox["conversations"].([]any)
	if st != http.StatusOK || inbox["unread"] != 1.0 || len(convs) != 1 || convs[0].(map[string]any)["with"] != "alice" {
		t.Fatalf("bob's inbox: got %d %v, want 1 unread from alice", st, inbox)
	}
	if st, body := e.call("alice", "GET", "/api/v1/messages", ""); st != http.StatusOK || body["unread"] != 0.0 {
		t.Fatalf("alice's inbox: got %d %v, want 0 unread", st, body)
	}
	st, th := e.call("bob", "GET", "/api/v1/messages/alice", "")
	if list, _ := th["messages"].([]any); st != http.StatusOK || len(list) != 1 || list[0].(map[string]any)["body"] != "Is the bike repair still on?" {
		t.Fatalf("thread: got %d %v", st, th)
	}
	if st, body := e.call("bob", "POST", "/api/v1/messages/alice/read", ""); st != http.StatusOK || body["marked"] != 1.0 || body["unread"] != 0.0 {
		t.Fatalf("mark read: got %d %v, want marked 1 unread 0", st, body)
	}
	if st, body := e.call("bob", "POST", "/api/v1/messages", `{"to":"alice","body":"Yes, Saturday."}`); st != http.StatusCreated {
		t.Fatalf("reply: got %d %v", st, body)
	}
	st, th = e.call("alice", "GET", "/api/v1/messages/bob", "")
	list, _ := th["messages"].([]any)
	if st != http.StatusOK || len(list) != 2 || list[0].(map[string]any)["read_at"] == nil || list[1].(map[string]any)["body"] != "Yes, Saturday." {
		t.Fatalf("alice's thread: got %d %v, want her message (read) then bob's reply", st, th)
	}
	if st, body := e.call("alice", "GET", "/api/v1/messages/nobody", ""); st != http.StatusNotFound {
		t.Fatalf("thread with nobody: got %d %v, want 404", st, body)
	}
	if st, body := e.call("alice", "GET", "/api/v1/messages/bob?limit=0", ""); st != http.StatusBadRequest {
		t.Fatalf("limit 0: got %d %v, want 400", st, body)
	}

	// The per-member limit: 30 messages in 10 minutes (alice has sent 1).
	for i := 2; i <= 30; i++ {
		if st, body := e.call("alice", "POST", "/api/v1/messages", fmt.Sprintf(`{"to":"bob","body":"message %d"}`, i)); st != http.StatusCreated {
			t.Fatalf("message %d: got %d %v", i, st, body)
		}
	}
	st, raw, hdr := e.raw("alice", "POST", "/api/v1/messages", `{"to":"bob","body":"one too many"}`)
	if st != http.StatusTooManyRequests || !strings.Contains(raw, "too_many_messages") || hdr.Get("Retry-After") == "" {
		t.Fatalf("31st message: got %d %s Retry-After %q, want 429 too_many_messages", st, raw, hdr.Get("Retry-After"))
	}
	if n := e.count("messages"); n != 31 {
		t.Fatalf("got %d messages, want 31 (30 of alice's, 1 of bob's)", n)
	}
	// bob is not limited by alice's messages.
	if st, body := e.call("bob", "POST", "/api/v1/messages", `{"to":"alice","body":"ok"}`); st != http.StatusCreated {
		t.Fatalf("bob: got %d %v", st, body)
	}
}

func TestDirectoryAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	for _, n := range []string{"alice", "bob", "carol"} {
		e.member(n, members.RoleMember)
	}
	if _, err := e.srv.Members.UpdateProfile(ctx, mustID(t, e, "carol"), members.Profile{DisplayName: "Carol Dmitrieva"}); err != nil {
		t.Fatal(err)
	}
	for _, title := range []string{"Eggs", "Honey", "Jam", "Bread"} {
		if st, body := e.call("bob", "POST", "/api/v1/announcements", `{"kind":"offer","title":"`+title+`","category":"food"}`); st != http.StatusCreated {
			t.Fatalf("offer: got %d %v", st, body)
		}
	}
	if st, body := e.call("bob", "POST", "/api/v1/announcements", `{"kind":"want","title":"Ladder","category":"goods"}`); st != http.StatusCreated {
		t.Fatalf("want: got %d %v", st, body)
	}
	// A federated author, known through a replicated announcement of a peer.
	if _, err := e.pool.Exec(ctx, `INSERT INTO federation_peers (base_url, community_id, name, state) VALUES ('http://acorn.example', 'acorn', 'Acorn Town', 'active')`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `INSERT INTO announcements (author, author_name, kind, title, remote_category, remote_currency, expires_at, origin, origin_id)
		VALUES ('dmitri@acorn', 'Dmitri', 'offer', 'Violin lessons', 'Skills', 'ACORN', $1, 'http://acorn.example', 'http://acorn.example/announcements/7')`,
		time.Now().Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	dir := func(query string) map[string]any {
		t.Helper()
		st, body := e.call("alice", "GET", "/api/v1/directory"+query, "")
		if st != http.StatusOK {
			t.Fatalf("directory%s: got %d %v", query, st, body)
		}
		return body
	}
	names := func(body map[string]any) string {
		var out []string
		for _, p := range body["people"].([]any) {
			out = append(out, p.(map[string]any)["username"].(string))
		}
		return strings.Join(out, ",")
	}
	all := dir("")
	if got := names(all); got != "alice,bob,carol,dmitri@acorn" || all["total"] != 4.0 {
		t.Fatalf("everyone: got %s (total %v), want alice,bob,carol,dmitri@acorn", got, all["total"])
	}
	people := all["people"].([]any)
	bob, dmitri := people[1].(map[string]any), people[3].(map[string]any)
	if bob["offer_count"] != 4.0 || len(bob["offers"].([]any)) != 3 || bob["community"] != nil {
		t.Fatalf("bob: got %v, want 4 offers, 3 listed, community null", bob)
	}
	if c, _ := dmitri["community"].(map[string]any); c["name"] != "Acorn Town" || c["id"] != "acorn" || dmitri["offer_count"] != 1.0 {
		t.Fatalf("dmitri: got %v, want Acorn Town with 1 offer", dmitri)
	}
	// A federated author's link in the directory: their offers here.
	if st, body := e.call("alice", "GET", "/api/v1/announcements?member=dmitri@acorn", ""); st != http.StatusOK || body["total"] != 1.0 {
		t.Fatalf("dmitri's offers: got %d %v, want 1", st, body)
	}
	if got := names(dir("?q=dmi")); got != "carol,dmitri@acorn" {
		t.Fatalf("q=dmi: got %s, want carol (Carol Dmitrieva) and dmitri@acorn", got)
	}
	p1, p2 := dir("?limit=2"), dir("?limit=2&offset=2")
	if names(p1) != "alice,bob" || p1["next_offset"] != 2.0 || names(p2) != "carol,dmitri@acorn" || p2["next_offset"] != nil {
		t.Fatalf("pages: got %s (next %v) and %s (next %v)", names(p1), p1["next_offset"], names(p2), p2["next_offset"])
	}
	if got := dir("?offset=50"); names(got) != "" || got["total"] != 4.0 {
		t.Fatalf("past the end: got %s total %v, want none of 4", names(got), got["total"])
	}
	for _, q := range []string{"?limit=0", "?limit=101", "?offset=-1", "?offset=x", "?q=" + strings.Repeat("a", 101)} {
		if st, body := e.call("alice", "GET", "/api/v1/directory"+q, ""); st != http.StatusBadRequest {
			t.Errorf("directory%s: got %d %v, want 400", q, st, body)
		}
	}
}

func mustID(t *testing.T, e *env, username string) int64 {
	t.Helper()
	m, err := e.srv.Members.ByUsername(context.Background(), username)
	if err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// TestPeoplePages walks the pages: an offer's "Message" and "Pay for
// this", the conversation, the unread count in the navigation bar, the
// directory and a profile.
func TestPeoplePages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.member("alice", members.RoleMember)
	e.member("bob", members.RoleMember)
	st, ann := e.call("bob", "POST", "/api/v1/announcements", `{"kind":"offer","title":"Bike repair","category":"services","price":"12.50"}`)
	if st != http.StatusCreated {
		t.Fatalf("offer: got %d %v", st, ann)
	}
	offer := jsonNumber(ann["id"].(float64))
	alice, bob := e.browser("alice"), e.browser("bob")

	_, page := alice.get("/offers/" + offer)
	page = html.UnescapeString(page)
	if !strings.Contains(page, `href="/messages/bob?about=`+offer+`"`) || !strings.Contains(page, `href="/pay?amount=12.50&description=Bike+repair&to=bob"`) {
		t.Fatalf("offer page: no Message or Pay for this link in %s", page)
	}
	if _, own := bob.get("/offers/" + offer); strings.Contains(own, "message-author") || strings.Contains(own, "pay-for-this") {
		t.Fatal("bob's own offer offers to message or pay himself")
	}
	if st, pay := alice.get("/pay?amount=12.50&description=Bike+repair&to=bob"); st != http.StatusOK ||
		!strings.Contains(pay, `id="to" name="to" value="bob"`) || !strings.Contains(pay, `name="amount" value="12.50"`) ||
		!strings.Contains(pay, `name="description" value="Bike repair"`) {
		t.Fatalf("pay form: got %d %s", st, pay)
	}

	st, conv := alice.get("/messages/bob?about=" + offer)
	if st != http.StatusOK || !strings.Contains(conv, `name="announcement_id" value="`+offer+`"`) {
		t.Fatalf("conversation page: got %d %s", st, conv)
	}
	if st, body := alice.post("/messages/bob", url.Values{"body": {""}, "announcement_id": {offer}}); st != http.StatusBadRequest || !strings.Contains(body, "the message is empty") {
		t.Fatalf("empty message: got %d, want 400 with the reason", st)
	}
	if st, _ := alice.post("/messages/bob", url.Values{"body": {"Can you fix a puncture?"}, "announcement_id": {offer}}); st != http.StatusSeeOther {
		t.Fatalf("send: got %d, want 303", st)
	}
	if st, body := alice.post("/messages/alice", url.Values{"body": {"hi me"}}); st != http.StatusBadRequest || !strings.Contains(body, "yourself") {
		t.Fatalf("to oneself: got %d", st)
	}
	if n := e.count("messages"); n != 1 {
		t.Fatalf("got %d messages, want 1", n)
	}
	_, home := bob.get("/")
	if !strings.Contains(home, `id="unread" aria-label="1 unread">1<`) {
		t.Fatalf("bob's navigation bar: no unread count 1 in %s", home)
	}
	_, conv = bob.get("/messages/alice")
	if !strings.Contains(conv, "Can you fix a puncture?") || !strings.Contains(conv, "Bike repair") || strings.Contains(conv, `id="unread"`) {
		t.Fatalf("bob's conversation: got %s, want the message about Bike repair and no unread count", conv)
	}
	if st, _ := bob.post("/messages/alice", url.Values{"body": {"Yes, bring it Saturday."}}); st != http.StatusSeeOther {
		t.Fatalf("reply: got %d", st)
	}
	if _, home := alice.get("/"); !strings.Contains(home, `id="unread" aria-label="1 unread">1<`) {
		t.Fatal("alice's navigation bar: no unread count 1 after bob's reply")
	}
	if st, body := alice.get("/messages/dmitri@acorn"); st != http.StatusUnprocessableEntity || !strings.Contains(body, "is not a community this one is peered with") {
		t.Fatalf("remote conversation: got %d", st)
	}

	// The profile picture form, the directory and the profile.
	postPicture := func(data []byte) (int, string) {
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		w.WriteField("csrf", bob.csrf)
		f, _ := w.CreateFormFile("picture", "me.png")
		f.Write(data)
		w.Close()
		req, _ := http.NewRequest("POST", e.http.URL+"/profile/picture", &b)
		req.Header.Set("Content-Type", w.FormDataContentType())
		resp, err := bob.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(raw)
	}
	if st, page := postPicture([]byte("a letter, not a picture")); st != http.StatusUnsupportedMediaType ||
		!strings.Contains(page, "not a JPEG, PNG or GIF picture") || strings.Contains(page, `id="my-picture"`) {
		t.Fatalf("profile picture form with text: got %d %s", st, page)
	}
	if st, page := postPicture(make([]byte, 6<<20)); st != http.StatusRequestEntityTooLarge || !strings.Contains(page, "larger than 5 MB") {
		t.Fatalf("profile picture form with 6 MB: got %d %s", st, page)
	}
	if n := e.count("pictures"); n != 0 {
		t.Fatalf("after refused uploads: got %d pictures, want 0", n)
	}
	if st, page := postPicture(testPNG(t, 40, 40)); st != http.StatusOK || !strings.Contains(page, `id="my-picture" src="/api/v1/pictures/`) {
		t.Fatalf("profile picture form: got %d %s", st, page)
	}
	_, dir := alice.get("/members")
	if !strings.Contains(dir, `<a href="/members/bob">bob</a>`) && !strings.Contains(dir, `href="/members/bob"`) || !strings.Contains(dir, `src="/api/v1/pictures/`) || !strings.Contains(dir, "Bike repair") {
		t.Fatalf("directory page: got %s", dir)
	}
	st, prof := alice.get("/members/bob")
	if st != http.StatusOK || !strings.Contains(prof, `id="member-picture"`) || !strings.Contains(prof, "Bike repair") || !strings.Contains(prof, `href="/messages/bob"`) {
		t.Fatalf("bob's profile: got %d %s", st, prof)
	}
	if st, _ := alice.get("/members/nobody"); st != http.StatusNotFound {
		t.Fatalf("unknown profile: got %d, want 404", st)
	}
}

// TestDirectoryPagePaged: 25 members make two pages of the directory page.
func TestDirectoryPagePaged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.member("alice", members.RoleMember)
	for i := 1; i <= 24; i++ {
		if _, err := e.srv.Members.Add(context.Background(), members.Registration{Username: fmt.Sprintf("m%02d", i), Password: "password-x"}, members.RoleMember); err != nil {
			t.Fatal(err)
		}
	}
	alice := e.browser("alice")
	_, first := alice.get("/members")
	if !strings.Contains(first, "1–20 of 25") || !strings.Contains(first, `href="/members?offset=20" id="next"`) || strings.Contains(first, `id="prev"`) {
		t.Fatalf("first page: got %s", first)
	}
	_, second := alice.get("/members?offset=20")
	if !strings.Contains(second, "21–25 of 25") || !strings.Contains(second, `href="/members" id="prev"`) || strings.Contains(second, `id="next"`) {
		t.Fatalf("second page: got %s", second)
	}
	if st, body := alice.get("/members?offset=-3"); st != http.StatusBadRequest || !strings.Contains(body, "offset") {
		t.Fatalf("offset -3: got %d", st)
	}
}
