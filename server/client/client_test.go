package client_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/migrations/pgtest"
	"github.com/sxp-network/sxp/server"
	"github.com/sxp-network/sxp/server/client"
	"github.com/sxp-network/sxp/server/members"
)

// newServer serves a community (LEAF, limits -100..1000) on its own real
// database and returns its base URL and the server, to make the admin.
func newServer(t *testing.T) (string, *server.Server) {
	t.Helper()
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
	return hs.URL, srv
}

func TestClientAgainstServer(t *testing.T) {
	base, srv := newServer(t)
	ctx := context.Background()
	if _, err := srv.Members.Add(ctx, members.Registration{Username: "ada", Password: "password-ada"}, members.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	admin := client.New(base)
	if _, err := admin.Login(ctx, "ada", "password-ada"); err != nil {
		t.Fatal(err)
	}

	alice, bob := client.New(base), client.New(base)
	for _, m := range []struct {
		c    *client.Client
		name string
	}{{alice, "alice"}, {bob, "bob"}} {
		got, err := m.c.Register(ctx, m.name, "password-"+m.name, "Name "+m.name)
		if err != nil {
			t.Fatalf("register %s: %v", m.name, err)
		}
		if got.Username != m.name || got.Status != "active" {
			t.Fatalf("register %s: got %+v", m.name, got)
		}
		s, err := m.c.Login(ctx, m.name, "password-"+m.name)
		if err != nil || s.Token == "" || m.c.Token != s.Token || s.Member.Username != m.name {
			t.Fatalf("login %s: %+v %v", m.name, s, err)
		}
	}
	if me, err := alice.Me(ctx); err != nil || me.Username != "alice" || me.DisplayName != "Name alice" {
		t.Fatalf("me: got %+v %v", me, err)
	}

	// A duplicate username: a typed error with the status and code.
	_, err := client.New(base).Register(ctx, "alice", "password-x", "X")
	var e *client.Error
	if !errors.As(err, &e) || e.Status != http.StatusConflict || e.Code != "username_taken" {
		t.Fatalf("register again: got %v, want 409 username_taken", err)
	}
	// Wrong password.
	if _, err := client.New(base).Login(ctx, "alice", "wrong-password"); client.ErrorStatus(err) != http.StatusUnauthorized || client.ErrorCode(err) != "bad_credentials" {
		t.Fatalf("login with a wrong password: got %v, want 401 bad_credentials", err)
	}

	p, err := alice.Pay(ctx, client.PaymentRequest{To: "bob", Amount: "12.50", Description: "bread", IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	if p.HTTPStatus != http.StatusCreated || p.Status != "completed" || p.Amount != "12.50" || p.Balance != "-12.50" || p.To != "bob" {
		t.Fatalf("pay: got %+v", p)
	}
	again, err := alice.Pay(ctx, client.PaymentRequest{To: "bob", Amount: "12.50", Description: "bread", IdempotencyKey: "k1"})
	if err != nil || again.ID != p.ID {
		t.Fatalf("repeat: got %+v %v, want transfer %d", again, err, p.ID)
	}
	_, err = alice.Pay(ctx, client.PaymentRequest{To: "bob", Amount: "90.00", IdempotencyKey: "k2"})
	if client.ErrorStatus(err) != http.StatusUnprocessableEntity || client.ErrorCode(err) != "over_limit" {
		t.Fatalf("over the limit: got %v, want 422 over_limit", err)
	}
	_, err = alice.Pay(ctx, client.PaymentRequest{To: "bob", Amount: "1.234", IdempotencyKey: "k3"})
	if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Code != "invalid" || e.Field != "amount" {
		t.Fatalf("three decimals: got %v, want 400 invalid on amount", err)
	}
	_, err = alice.Pay(ctx, client.PaymentRequest{To: "bob@acorn", Amount: "1.00", IdempotencyKey: "k4"})
	if client.ErrorStatus(err) != http.StatusUnprocessableEntity || client.ErrorCode(err) != "not_in_circle" {
		t.Fatalf("pay member@community alone: got %v, want 422 not_in_circle", err)
	}

	acc, err := bob.Account(ctx)
	if err != nil || acc != (client.Account{Balance: "12.50", Currency: "LEAF", Min: "-100.00", Max: "1000.00"}) {
		t.Fatalf("bob's account: got %+v %v", acc, err)
	}
	st, err := alice.Statement(ctx, client.StatementQuery{})
	if err != nil || len(st.Lines) != 1 || st.Lines[0].Amount != "-12.50" || st.Lines[0].Counterparty != "bob" || st.Balance != "-12.50" {
		t.Fatalf("alice's statement: got %+v %v", st, err)
	}

	cats, err := bob.Categories(ctx)
	if err != nil || len(cats) == 0 {
		t.Fatalf("categories: got %v %v", cats, err)
	}
	price := "5.00"
	a, err := bob.CreateAnnouncement(ctx, client.NewAnnouncement{Kind: "offer", Title: "Sourdough bread", Description: "baked on Fridays",
		Category: cats[0].Slug, Price: &price})
	if err != nil || a.ID == 0 || a.Author != "bob" || a.Price == nil || *a.Price != "5.00" {
		t.Fatalf("create announcement: got %+v %v", a, err)
	}
	page, err := alice.Announcements(ctx, client.AnnouncementQuery{Q: "sourdough"})
	if err != nil || page.Total != 1 || len(page.Announcements) != 1 || page.Announcements[0].ID != a.ID {
		t.Fatalf("search: got %+v %v", page, err)
	}
	_, err = bob.CreateAnnouncement(ctx, client.NewAnnouncement{Kind: "gift", Title: "x"})
	if client.ErrorStatus(err) != http.StatusBadRequest {
		t.Fatalf("bad kind: got %v, want 400", err)
	}

	// Admin operations, and a member refused them.
	if _, err := alice.AdminMembers(ctx, ""); client.ErrorStatus(err) != http.StatusForbidden {
		t.Fatalf("member lists members: got %v, want 403", err)
	}
	list, err := admin.AdminMembers(ctx, "active")
	if err != nil || len(list) != 3 {
		t.Fatalf("admin members: got %d %v, want 3", len(list), err)
	}
	m, err := admin.SetLimits(ctx, "alice", "-200.00", "500.00")
	if err != nil || m.Account.Min != "-200.00" || m.Account.Max != "500.00" || m.Account.Balance != "-12.50" {
		t.Fatalf("set limits: got %+v %v", m, err)
	}
	if m, err = admin.Block(ctx, "bob"); err != nil || m.Status != "blocked" {
		t.Fatalf("block: got %+v %v", m, err)
	}
	if _, err := alice.Pay(ctx, client.PaymentRequest{To: "bob", Amount: "1.00", IdempotencyKey: "k5"}); client.ErrorStatus(err) != http.StatusUnprocessableEntity {
		t.Fatalf("pay a blocked member: got %v, want 422", err)
	}
	if m, err = admin.Unblock(ctx, "bob"); err != nil || m.Status != "active" {
		t.Fatalf("unblock: got %+v %v", m, err)
	}
	if m, err = admin.SetRole(ctx, "bob", "admin"); err != nil || m.Role != "admin" {
		t.Fatalf("role: got %+v %v", m, err)
	}
	ast, err := admin.AdminStatement(ctx, "bob", client.StatementQuery{Limit: 10})
	if err != nil || len(ast.Lines) != 1 || ast.Lines[0].Amount != "12.50" {
		t.Fatalf("admin statement: got %+v %v", ast, err)
	}
	if _, err := admin.AdminMember(ctx, "nobody"); client.ErrorStatus(err) != http.StatusNotFound {
		t.Fatalf("unknown member: got %v, want 404", err)
	}

	if err := alice.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Me(ctx); client.ErrorStatus(err) != http.StatusUnauthorized {
		t.Fatalf("after logout: got %v, want 401", err)
	}
}
