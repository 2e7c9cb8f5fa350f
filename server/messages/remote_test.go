package messages_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sxp-network/sxp/migrations/pgtest"
	"github.com/sxp-network/sxp/server/messages"
)

func TestCheckWire(t *testing.T) {
	ok := messages.Wire{ID: "0B7E2F7A-8A8E-4E4E-9C55-1F0D5A3B6C01", From: "gwen@leaf", To: "bob@acorn", Body: " hi ", SentAt: time.Now()}
	for _, tt := range []struct {
		name   string
		change func(*messages.Wire)
		field  string
	}{
		{"ok", func(*messages.Wire) {}, ""},
		{"not a UUID", func(w *messages.Wire) { w.ID = "42" }, "id"},
		{"from another community", func(w *messages.Wire) { w.From = "eve@pine" }, "from"},
		{"from nobody", func(w *messages.Wire) { w.From = "@leaf" }, "from"},
		{"to another community", func(w *messages.Wire) { w.To = "bob@oak" }, "to"},
		{"to a bare name", func(w *messages.Wire) { w.To = "bob" }, "to"},
		{"no sent_at", func(w *messages.Wire) { w.SentAt = time.Time{} }, "sent_at"},
		{"empty", func(w *messages.Wire) { w.Body = "  " }, "body"},
		{"too long", func(w *messages.Wire) { w.Body = strings.Repeat("ä", messages.MaxBody+1) }, "body"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := ok
			tt.change(&w)
			got, to, err := messages.CheckWire(w, "leaf", "acorn")
			var field string
			if e, ok := err.(*messages.Error); ok {
				field = e.Field
			}
			if field != tt.field || (tt.field == "" && err != nil) {
				t.Fatalf("got field %q (%v), want %q", field, err, tt.field)
			}
			if tt.field == "" && (to != "bob" || got.Body != "hi" || got.ID != strings.ToLower(ok.ID)) {
				t.Fatalf("got to %q, body %q, id %s; want bob, hi, the id in lower case", to, got.Body, got.ID)
			}
		})
	}
}

// TestReceive: a message from a peer is stored once by its id, counts as
// unread, and each remote sender may send Rate messages per Window.
func TestReceive(t *testing.T) {
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	var bob int64
	if err := pool.QueryRow(ctx, `INSERT INTO members (username, password_hash, display_name, status, account_id)
		VALUES ('bob', 'x', 'Bob', 'active', 1) RETURNING id`).Scan(&bob); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	s := messages.New(pool, messages.Config{Rate: 2, Window: time.Minute, Now: func() time.Time { return now },
		CommunityID: "acorn", BaseURL: "http://acorn.example"})
	const peer = "http://leaf.example"
	w := func(id, from string) messages.Wire {
		return messages.Wire{ID: id, From: from, To: "bob@acorn", Body: "hello from " + from, SentAt: now}
	}
	for i, tt := range []struct {
		wire   messages.Wire
		stored bool
		code   string
	}{
		{w("00000000-0000-4000-8000-000000000001", "gwen@leaf"), true, ""},
		{w("00000000-0000-4000-8000-000000000001", "gwen@leaf"), false, ""}, // the same id again
		{w("00000000-0000-4000-8000-000000000002", "gwen@leaf"), true, ""},
		{w("00000000-0000-4000-8000-000000000003", "gwen@leaf"), false, messages.CodeTooMany},
		{w("00000000-0000-4000-8000-000000000004", "hal@leaf"), true, ""}, // another sender has their own limit
		{messages.Wire{ID: "00000000-0000-4000-8000-000000000005", From: "hal@leaf", To: "nobody@acorn", Body: "x", SentAt: now}, false, messages.CodeUnknownMember},
	} {
		stored, err := s.Receive(ctx, peer, "leaf", tt.wire)
		if stored != tt.stored || messages.CodeOf(err) != tt.code || (tt.code == "" && err != nil) {
			t.Fatalf("message %d: got stored %v, %v; want %v, code %q", i+1, stored, err, tt.stored, tt.code)
		}
	}
	if n, err := s.Unread(ctx, bob); err != nil || n != 3 {
		t.Fatalf("bob's unread: got %d %v, want 3", n, err)
	}
	list, err := s.Conversations(ctx, bob)
	if err != nil || len(list) != 2 || list[0].With != "hal@leaf" || list[1].With != "gwen@leaf" || list[1].Unread != 2 {
		t.Fatalf("bob's conversations: got %+v %v, want hal@leaf then gwen@leaf (2 unread)", list, err)
	}
	now = now.Add(time.Minute)
	if stored, err := s.Receive(ctx, peer, "leaf", w("00000000-0000-4000-8000-000000000003", "gwen@leaf")); !stored || err != nil {
		t.Fatalf("after the window: got %v %v, want stored", stored, err)
	}
	if n, err := s.MarkRead(ctx, bob, "gwen@leaf"); err != nil || n != 3 {
		t.Fatalf("mark gwen@leaf read: got %d %v, want 3", n, err)
	}
	if n, err := s.Unread(ctx, bob); err != nil || n != 1 {
		t.Fatalf("bob's unread after reading gwen's: got %d %v, want 1 (hal's)", n, err)
	}
}
