package client_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"testing"

	"github.com/sxp-network/sxp/server/client"
)

func TestClientPeople(t *testing.T) {
	base, _ := newServer(t)
	ctx := context.Background()
	alice, bob := client.New(base), client.New(base)
	for _, m := range []struct {
		c    *client.Client
		name string
	}{{alice, "alice"}, {bob, "bob"}} {
		if _, err := m.c.Register(ctx, m.name, "password-"+m.name, "Name "+m.name); err != nil {
			t.Fatal(err)
		}
		if _, err := m.c.Login(ctx, m.name, "password-"+m.name); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 30, 20)))
	pic, err := alice.SetPicture(ctx, b.Bytes())
	if err != nil || pic.Width != 30 || pic.Height != 20 || pic.ContentType != "image/png" {
		t.Fatalf("SetPicture: got %+v %v", pic, err)
	}
	if _, err := alice.SetPicture(ctx, []byte("not a picture")); client.ErrorCode(err) != "unsupported" || client.ErrorStatus(err) != 415 {
		t.Fatalf("SetPicture of text: got %v, want 415 unsupported", err)
	}
	dir, err := bob.Directory(ctx, "alice", 0, 0)
	if err != nil || dir.Total != 1 || dir.People[0].PictureURL != pic.URL || dir.People[0].Community != nil {
		t.Fatalf("Directory: got %+v %v", dir, err)
	}
	if _, err := alice.SendMessage(ctx, "bob", "hello", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.SendMessage(ctx, "alice", "me", 0); client.ErrorCode(err) != "invalid" {
		t.Fatalf("to oneself: got %v, want invalid", err)
	}
	in, err := bob.Inbox(ctx)
	if err != nil || in.Unread != 1 || len(in.Conversations) != 1 || in.Conversations[0].Last.Body != "hello" {
		t.Fatalf("Inbox: got %+v %v", in, err)
	}
	if msgs, err := bob.Conversation(ctx, "alice"); err != nil || len(msgs) != 1 || msgs[0].From != "alice" {
		t.Fatalf("Conversation: got %+v %v", msgs, err)
	}
	if n, err := bob.MarkRead(ctx, "alice"); err != nil || n != 0 {
		t.Fatalf("MarkRead: got %d %v, want 0 unread", n, err)
	}
}
