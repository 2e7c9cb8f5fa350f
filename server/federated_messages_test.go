package server_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
	"github.com/sxp-network/sxp/server/messages"
)

// api calls n's member API with token and a JSON body; it returns the
// status and the decoded answer.
func (n *node) api(token, method, path, body string) (int, map[string]any) {
	n.t.Helper()
	req, _ := http.NewRequest(method, n.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		n.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

// browser logs user in to n's pages.
func (n *node) browser(user string) *browser {
	n.t.Helper()
	e := &env{t: n.t, http: &httptest.Server{URL: n.base}}
	return e.browser(user)
}

// deliverMessages runs n's message_deliveries job once.
func (n *node) deliverMessages() {
	n.t.Helper()
	if _, err := n.srv.Jobs.RunOnce(context.Background(), messages.JobDeliveries); err != nil {
		n.t.Fatal(err)
	}
}

func (n *node) count(query string, args ...any) int {
	n.t.Helper()
	var c int
	if err := n.pool.QueryRow(context.Background(), query, args...).Scan(&c); err != nil {
		n.t.Fatal(err)
	}
	return c
}

// thread is the bodies of the messages of a conversation, "from: body" oldest first.
func thread(t *testing.T, n *node, token, with string) string {
	t.Helper()
	st, out := n.api(token, "GET", "/api/v1/messages/"+url.PathEscape(with), "")
	if st != 200 {
		t.Fatalf("thread with %s on %s: got %d %v", with, n.id, st, out)
	}
	var lines []string
	for _, m := range out["messages"].([]any) {
		m := m.(map[string]any)
		lines = append(lines, fmt.Sprintf("%s→%s: %s", m["from"], m["to"], m["body"]))
	}
	return strings.Join(lines, " | ")
}

// TestFederatedMessages: two real servers peered over signed HTTP (leaf
// and acorn) and one that is not a peer (pine). Gwen on leaf writes to
// bob@acorn about his offer; acorn receives it (unread), Bob replies, and
// both see the same conversation. The extension route refuses a non-peer,
// a forged signature, a message too long and a sender of another
// community, and stores a repeated message once; a message to a peer that
// is down is delivered once it is back.
func TestFederatedMessages(t *testing.T) {
	ctx := context.Background()
	a, b, c := newNode(t, "leaf"), newNode(t, "acorn"), newNode(t, "pine")
	peer(t, a, b)
	gwen, bob := a.member("gwen"), b.member("bob")
	c.member("eve")
	violin := b.offer(bob, "Violin lessons")
	eventually(t, "leaf holds bob's offer", func() bool { return len(a.search("violin")) == 1 })
	remoteViolin := a.search("violin")[0]
	if remoteViolin.Author != "bob@acorn" {
		t.Fatalf("bob's offer on leaf: author %q, want bob@acorn", remoteViolin.Author)
	}
	gwenTok, bobTok := a.login("gwen"), b.login("bob")
	_ = gwen

	// Send: stored on leaf (pending), delivered by the job, unread on acorn.
	st, m := a.api(gwenTok, "POST", "/api/v1/messages",
		fmt.Sprintf(`{"to":"bob@acorn","body":"Hello Bob, are lessons on Saturdays?","announcement_id":%d}`, remoteViolin.ID))
	if st != 201 || m["to"] != "bob@acorn" || m["from"] != "gwen" || m["delivery"] != "pending" {
		t.Fatalf("gwen sends: got %d %v, want 201 to bob@acorn", st, m)
	}
	if got := a.count(`SELECT count(*) FROM messages WHERE delivery = 'pending' AND remote = 'bob@acorn'`); got != 1 {
		t.Fatalf("leaf's outbox: got %d pending, want 1", got)
	}
	a.deliverMessages()
	if got := a.count(`SELECT count(*) FROM messages WHERE delivery = 'delivered' AND attempts = 1`); got != 1 {
		t.Fatalf("leaf's outbox after the job: got %d delivered, want 1", got)
	}
	st, conv := b.api(bobTok, "GET", "/api/v1/messages", "")
	list, _ := conv["conversations"].([]any)
	if st != 200 || conv["unread"] != 1.0 || len(list) != 1 {
		t.Fatalf("bob's conversations: got %d %v, want 1 unread in 1 conversation", st, conv)
	}
	if cv := list[0].(map[string]any); cv["with"] != "gwen@leaf" || cv["display_name"] != "gwen@leaf (Leaf Valley)" || cv["unread"] != 1.0 {
		t.Fatalf("bob's conversation: got %v, want with gwen@leaf (Leaf Valley), 1 unread", cv)
	}
	st, th := b.api(bobTok, "GET", "/api/v1/messages/gwen@leaf", "")
	msgs, _ := th["messages"].([]any)
	if st != 200 || len(msgs) != 1 || msgs[0].(map[string]any)["announcement_id"] != float64(violin.ID) {
		t.Fatalf("bob's thread: got %d %v, want 1 message about his offer %d", st, th, violin.ID)
	}

	// Reply: bob → gwen@leaf, read marks on both sides, unread counts.
	if st, out := b.api(bobTok, "POST", "/api/v1/messages/gwen@leaf/read", ""); st != 200 || out["marked"] != 1.0 || out["unread"] != 0.0 {
		t.Fatalf("bob marks read: got %d %v, want 1 marked, 0 unread", st, out)
	}
	if st, out := b.api(bobTok, "POST", "/api/v1/messages", `{"to":"gwen@leaf","body":"Yes, at ten."}`); st != 201 {
		t.Fatalf("bob replies: got %d %v", st, out)
	}
	b.deliverMessages()
	if st, out := a.api(gwenTok, "GET", "/api/v1/messages", ""); st != 200 || out["unread"] != 1.0 {
		t.Fatalf("gwen's unread: got %d %v, want 1", st, out)
	}
	want := "gwen→bob@acorn: Hello Bob, are lessons on Saturdays? | bob@acorn→gwen: Yes, at ten."
	if got := thread(t, a, gwenTok, "bob@acorn"); got != want {
		t.Fatalf("gwen's thread: got %q, want %q", got, want)
	}
	want = "gwen@leaf→bob: Hello Bob, are lessons on Saturdays? | bob→gwen@leaf: Yes, at ten."
	if got := thread(t, b, bobTok, "gwen@leaf"); got != want {
		t.Fatalf("bob's thread: got %q, want %q", got, want)
	}

	// The pages: the offer's Message button, the conversation with
	// bob@acorn (Acorn Valley), a reply from the form, the unread count.
	gwenPages, bobPages := a.browser("gwen"), b.browser("bob")
	_, offerPage := gwenPages.get(fmt.Sprintf("/offers/%d", remoteViolin.ID))
	if link := fmt.Sprintf(`href="/messages/bob@acorn?about=%d"`, remoteViolin.ID); !strings.Contains(html.UnescapeString(offerPage), link) {
		t.Fatalf("gwen's page of bob's offer: no %s in %s", link, offerPage)
	}
	if _, home := gwenPages.get("/"); !strings.Contains(home, `id="unread" aria-label="1 unread">1<`) {
		t.Fatal("gwen's navigation bar: no unread count 1 for bob's reply")
	}
	st, page := gwenPages.get("/messages/bob@acorn")
	page = html.UnescapeString(page)
	if st != 200 || !strings.Contains(page, "Messages with bob@acorn (Acorn Valley)") || !strings.Contains(page, "Yes, at ten.") {
		t.Fatalf("gwen's conversation page: got %d %s", st, page)
	}
	if _, home := gwenPages.get("/"); strings.Contains(home, `id="unread"`) {
		t.Fatal("gwen's navigation bar: still an unread count after reading the conversation")
	}
	if st, _ := gwenPages.post("/messages/bob@acorn", url.Values{"body": {"See you then."}}); st != http.StatusSeeOther {
		t.Fatalf("gwen's reply from the page: got %d, want 303", st)
	}
	a.deliverMessages()
	if _, home := bobPages.get("/"); !strings.Contains(home, `id="unread" aria-label="1 unread">1<`) {
		t.Fatal("bob's navigation bar: no unread count 1 for gwen's reply")
	}
	_, msgsPage := bobPages.get("/messages")
	if msgsPage = html.UnescapeString(msgsPage); !strings.Contains(msgsPage, "gwen@leaf (Leaf Valley)") || !strings.Contains(msgsPage, "See you then.") {
		t.Fatalf("bob's messages page: got %s", msgsPage)
	}

	// The extension route itself, signed as leaf (a peer), as pine (not
	// a peer), and forged.
	keyA, privA := currentKey(t, a)
	keyC, privC := currentKey(t, c)
	_, wrong, _ := ed25519.GenerateKey(rand.Reader)
	wire := func(id, from, body string) []byte {
		raw, _ := json.Marshal(messages.Wire{ID: id, From: from, To: "bob@acorn", Body: body, SentAt: time.Now().UTC()})
		return raw
	}
	stored := func(id string) int {
		return b.count(`SELECT count(*) FROM messages WHERE uid::text = $1`, id)
	}
	before := b.count(`SELECT count(*) FROM messages`)
	const repeated = "0b7e2f7a-8a8e-4e4e-9c55-1f0d5a3b6c01"
	tests := []struct {
		name   string
		body   []byte
		signer httpsig.Signer
		status int
		code   string
		rows   int // messages on acorn after it
	}{
		{"from a peer", wire(repeated, "gwen@leaf", "Once"), httpsig.Signer{KeyID: keyA, Ed25519Key: privA}, 201, "", before + 1},
		{"repeated", wire(repeated, "gwen@leaf", "Once"), httpsig.Signer{KeyID: keyA, Ed25519Key: privA}, 200, "", before + 1},
		{"not a peer", wire("0b7e2f7a-8a8e-4e4e-9c55-1f0d5a3b6c02", "eve@pine", "Hi"), httpsig.Signer{KeyID: keyC, Ed25519Key: privC}, 403, "not_a_peer", before + 1},
		{"forged signature", wire("0b7e2f7a-8a8e-4e4e-9c55-1f0d5a3b6c03", "gwen@leaf", "Hi"), httpsig.Signer{KeyID: keyA, Ed25519Key: wrong}, 401, "bad_signature", before + 1},
		{"too long", wire("0b7e2f7a-8a8e-4e4e-9c55-1f0d5a3b6c04", "gwen@leaf", strings.Repeat("é", messages.MaxBody+1)), httpsig.Signer{KeyID: keyA, Ed25519Key: privA}, 400, "invalid", before + 1},
		{"too large", wire("0b7e2f7a-8a8e-4e4e-9c55-1f0d5a3b6c05", "gwen@leaf", strings.Repeat("\\u0001", 6000)), httpsig.Signer{KeyID: keyA, Ed25519Key: privA}, 413, "too_large", before + 1},
		{"sender of another community", wire("0b7e2f7a-8a8e-4e4e-9c55-1f0d5a3b6c06", "eve@pine", "Hi"), httpsig.Signer{KeyID: keyA, Ed25519Key: privA}, 400, "invalid", before + 1},
		{"not a UUID", wire("42", "gwen@leaf", "Hi"), httpsig.Signer{KeyID: keyA, Ed25519Key: privA}, 400, "invalid", before + 1},
	}
	for _, tt := range tests {
		st, out := signedTo(t, b, "POST", "/federation/v1/messages", tt.body, tt.signer, nil)
		code := ""
		if e, ok := out["error"].(map[string]any); ok {
			code, _ = e["code"].(string)
		}
		if st != tt.status || code != tt.code {
			t.Errorf("%s: got %d %v, want %d %s", tt.name, st, out, tt.status, tt.code)
		}
		if got := b.count(`SELECT count(*) FROM messages`); got != tt.rows {
			t.Errorf("%s: got %d messages on acorn, want %d", tt.name, got, tt.rows)
		}
	}
	if got := stored(repeated); got != 1 {
		t.Errorf("repeated message: stored %d times, want 1", got)
	}
	if st, out := a.api(gwenTok, "POST", "/api/v1/messages", `{"to":"eve@pine","body":"Hi"}`); st != 422 || out["error"].(map[string]any)["code"] != "not_available" {
		t.Errorf("to a member of a non-peer: got %d %v, want 422 not_available", st, out)
	}

	// Peer down: kept pending with its error, delivered once acorn is back.
	b.fault.Store(faultDown)
	if st, out := a.api(gwenTok, "POST", "/api/v1/messages", `{"to":"bob@acorn","body":"Are you there?"}`); st != 201 {
		t.Fatalf("gwen sends while acorn is down: got %d %v", st, out)
	}
	a.deliverMessages()
	var state, lastError string
	var attempts int
	row := `SELECT delivery, attempts, last_error FROM messages WHERE body = 'Are you there?'`
	if err := a.pool.QueryRow(ctx, row).Scan(&state, &attempts, &lastError); err != nil {
		t.Fatal(err)
	}
	if state != "pending" || attempts != 1 || lastError == "" || b.count(`SELECT count(*) FROM messages WHERE body = 'Are you there?'`) != 0 {
		t.Fatalf("acorn down: got %s after %d attempts (%q); want pending, 1, an error, nothing on acorn", state, attempts, lastError)
	}
	b.fault.Store(faultNone)
	eventually(t, "leaf delivers the message once acorn is back", func() bool {
		a.deliverMessages()
		return b.count(`SELECT count(*) FROM messages WHERE body = 'Are you there?'`) == 1
	})
	if err := a.pool.QueryRow(ctx, row).Scan(&state, &attempts, &lastError); err != nil {
		t.Fatal(err)
	}
	if state != "delivered" || attempts != 2 || lastError != "" {
		t.Fatalf("acorn back: got %s after %d attempts (%q); want delivered, 2, no error", state, attempts, lastError)
	}

	// Peering ended: the conversation stays readable, new messages are refused.
	if _, err := a.srv.Federation.Remove(ctx, b.base); err != nil {
		t.Fatal(err)
	}
	if st, page := gwenPages.get("/messages/bob@acorn"); st != 200 || !strings.Contains(page, "Are you there?") {
		t.Fatalf("gwen's conversation with a former peer: got %d %s", st, page)
	}
	st, page = gwenPages.post("/messages/bob@acorn", url.Values{"body": {"Still there?"}})
	if st != http.StatusUnprocessableEntity || !strings.Contains(html.UnescapeString(page), "is not a community this one is peered with") {
		t.Fatalf("gwen writes to a former peer: got %d %s, want 422 not peered", st, page)
	}
}
