package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/migrations/pgtest"
	"github.com/sxp-network/sxp/server"
)

// TestDemoLeavesAMessage: `sxp demo` on one community leaves carol's
// message to alice about her vegetables, unread.
func TestDemoLeavesAMessage(t *testing.T) {
	url := pgtest.NewDatabase(t)
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	srv, err := server.New(context.Background(), server.Config{
		DatabaseURL: url, Listen: "127.0.0.1:0", CommunityID: "leaf", CommunityName: "Leaf Valley",
		Currency: "LEAF", CurrencyDivisions: 2, PublicURL: "http://127.0.0.1:1", DefaultMin: "-100", DefaultMax: "1000",
		Registration: "open",
	}, pool, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"demo", "leaf=" + hs.URL}, &out, &errOut); code != 0 {
		t.Fatalf("sxp demo: exit %d, stderr %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "demo: 1 message (carol to alice about her vegetables, unread)") {
		t.Errorf("output: got %q, want the message line", out.String())
	}
	var body, about string
	err = pool.QueryRow(context.Background(), `SELECT m.body, a.title FROM messages m
		JOIN members r ON r.id = m.recipient_id JOIN members s ON s.id = m.sender_id
		JOIN announcements a ON a.id = m.announcement_id
		WHERE s.username = 'carol' AND r.username = 'alice' AND m.read_at IS NULL`).Scan(&body, &about)
	if err != nil || about != "Fresh vegetables from my garden" || !strings.Contains(body, "beans") {
		t.Fatalf("carol's message: got %q about %q (%v)", body, about, err)
	}
}
