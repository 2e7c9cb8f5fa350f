package messages_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sxp-network/sxp/migrations/pgtest"
	"github.com/sxp-network/sxp/server/messages"
)

func TestCheckDraft(t *testing.T) {
	for _, tt := range []struct {
		name  string
		d     messages.Draft
		code  string
		field string
	}{
		{"ok", messages.Draft{To: " bob ", Body: " hi "}, "", ""},
		{"no recipient", messages.Draft{Body: "hi"}, messages.CodeInvalid, "to"},
		{"oneself", messages.Draft{To: "alice", Body: "hi"}, messages.CodeInvalid, "to"},
		{"member of another community", messages.Draft{To: "bob@acorn", Body: "hi"}, "", ""},
		{"not member@community", messages.Draft{To: "bob@", Body: "hi"}, messages.CodeInvalid, "to"},
		{"empty", messages.Draft{To: "bob", Body: " \n "}, messages.CodeInvalid, "body"},
		{"4000 characters", messages.Draft{To: "bob", Body: strings.Repeat("ä", 4000)}, "", ""},
		{"4001 characters", messages.Draft{To: "bob", Body: strings.Repeat("ä", 4001)}, messages.CodeInvalid, "body"},
		{"not UTF-8", messages.Draft{To: "bob", Body: "\xff"}, messages.CodeInvalid, "body"},
		{"NUL", messages.Draft{To: "bob", Body: "a\x00b"}, messages.CodeInvalid, "body"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := messages.CheckDraft("alice", tt.d)
			var field string
			if e, ok := err.(*messages.Error); ok {
				field = e.Field
			}
			if got := messages.CodeOf(err); got != tt.code || field != tt.field {
				t.Fatalf("got %q/%q (%v), want %q/%q", got, field, err, tt.code, tt.field)
			}
		})
	}
}

// TestRateLimit: the limit counts the sender's messages in the window of
// the injected clock; past the window they may send again.
func TestRateLimit(t *testing.T) {
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	var alice, bob int64
	for _, m := range []struct {
		name string
		id   *int64
	}{{"alice", &alice}, {"bob", &bob}} {
		if err := pool.QueryRow(ctx, `INSERT INTO members (username, password_hash, display_name, status, account_id)
			VALUES ($1, 'x', $1, 'active', (SELECT coalesce(max(account_id), 0) + 1 FROM members)) RETURNING id`, m.name).Scan(m.id); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	s := messages.New(pool, messages.Config{Rate: 2, Window: time.Minute, Now: func() time.Time { return now }})
	send := func() error {
		_, err := s.Send(ctx, alice, "alice", messages.Draft{To: "bob", Body: "hello"})
		return err
	}
	for i := 0; i < 2; i++ {
		if err := send(); err != nil {
			t.Fatalf("message %d: %v", i+1, err)
		}
		now = now.Add(10 * time.Second)
	}
	err := send()
	e, _ := err.(*messages.Error)
	if messages.CodeOf(err) != messages.CodeTooMany || e.RetryAfter != 40*time.Second {
		t.Fatalf("third message: got %v, want too_many_messages retry after 40s", err)
	}
	now = now.Add(41 * time.Second)
	if err := send(); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	if n, err := s.Unread(ctx, bob); err != nil || n != 3 {
		t.Fatalf("bob's unread: got %d %v, want 3", n, err)
	}
	if _, err := s.Send(ctx, alice, "alice", messages.Draft{To: "nobody", Body: "x"}); messages.CodeOf(err) != messages.CodeUnknownMember {
		t.Fatalf("to nobody: got %v", err)
	}
}

// TestRateLimitConcurrent: parallel sends of one member pass the limit
// exactly Rate times.
func TestRateLimitConcurrent(t *testing.T) {
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	var alice int64
	if err := pool.QueryRow(ctx, `INSERT INTO members (username, password_hash, display_name, status, account_id)
		VALUES ('alice', 'x', 'alice', 'active', 1) RETURNING id`).Scan(&alice); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO members (username, password_hash, display_name, status, account_id) VALUES ('bob', 'x', 'bob', 'active', 2)`); err != nil {
		t.Fatal(err)
	}
	s := messages.New(pool, messages.Config{Rate: 3, Window: time.Hour})
	errs := make(chan error, 10)
	for i := 0; i < 10; i++ {
		go func() {
			_, err := s.Send(ctx, alice, "alice", messages.Draft{To: "bob", Body: "hello"})
			errs <- err
		}()
	}
	sent, refused := 0, 0
	for i := 0; i < 10; i++ {
		switch err := <-errs; messages.CodeOf(err) {
		case "":
			if err != nil {
				t.Fatal(err)
			}
			sent++
		case messages.CodeTooMany:
			refused++
		default:
			t.Fatal(err)
		}
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM messages`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if sent != 3 || refused != 7 || n != 3 {
		t.Fatalf("got %d sent, %d refused, %d stored; want 3, 7, 3", sent, refused, n)
	}
}
