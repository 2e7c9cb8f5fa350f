package mail

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/migrations/pgtest"
	"github.com/sxp-network/sxp/server/mail/mailtest"
	"github.com/sxp-network/sxp/server/members"
	"github.com/sxp-network/sxp/server/payments"
)

// TestOutboxRetriesThenFails drives the outbox with an injected clock
// against a real SMTP server that refuses: each attempt waits RetryBase,
// doubling; after MaxAttempts the message is failed, counted for the
// admin, and sent once they retry it.
func TestOutboxRetriesThenFails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	ms := members.New(pool, ledger.New(pool, ledger.Options{}), members.Options{Currency: "LEAF", DefaultMin: -100, DefaultMax: 100})
	m, err := ms.Add(ctx, members.Registration{Username: "nina", Password: "password-nina"}, members.RoleMember)
	if err != nil {
		t.Fatal(err)
	}
	smtpd := mailtest.Start(t)
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	s, err := New(pool, ms, Config{SMTPURL: smtpd.URL(), From: "leaf@example.org", BaseURL: "https://leaf.example", Community: "Leaf Valley",
		Currency: payments.Currency{Code: "LEAF", Divisions: 2}, Now: func() time.Time { return now },
		RetryBase: time.Minute, MaxAttempts: 3, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetAddress(ctx, m, "nina@example.org"); err != nil {
		t.Fatal(err)
	}
	row := func() (state string, attempts int, next time.Time, lastErr string) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT state, attempts, next_attempt_at, last_error FROM mail_outbox`).Scan(&state, &attempts, &next, &lastErr); err != nil {
			t.Fatal(err)
		}
		return state, attempts, next.UTC(), lastErr
	}
	smtpd.FailNext(3)
	for i, want := range []struct {
		state string
		wait  time.Duration // after now, the next attempt
	}{{"pending", time.Minute}, {"pending", 2 * time.Minute}, {"failed", 4 * time.Minute}} {
		if sent, err := s.Drain(ctx); sent != 0 || err == nil {
			t.Fatalf("attempt %d: sent %d, err %v; want 0 and an error", i+1, sent, err)
		}
		state, attempts, next, lastErr := row()
		if state != want.state || attempts != i+1 || !next.Equal(now.Add(want.wait)) || !strings.Contains(lastErr, "451") {
			t.Fatalf("after attempt %d: got %s, %d attempts, next %s, %q; want %s, %d, %s, a 451",
				i+1, state, attempts, next, lastErr, want.state, i+1, now.Add(want.wait))
		}
		// Not yet due: nothing is tried.
		if sent, err := s.Drain(ctx); sent != 0 || err != nil {
			t.Fatalf("before it is due: sent %d, %v", sent, err)
		}
		now = now.Add(want.wait)
	}
	o, err := s.Outbox(ctx)
	if err != nil || o.Pending != 0 || o.Failed != 1 || len(o.Failures) != 1 || o.Failures[0].Attempts != 3 {
		t.Fatalf("outbox: got %+v %v, want 1 failed with 3 attempts", o, err)
	}
	if n, err := s.Retry(ctx); n != 1 || err != nil {
		t.Fatalf("retry: got %d %v, want 1", n, err)
	}
	if sent, err := s.Drain(ctx); sent != 1 || err != nil {
		t.Fatalf("after retry: sent %d, %v; want 1", sent, err)
	}
	if state, _, _, lastErr := row(); state != "sent" || lastErr != "" {
		t.Errorf("after retry: got %s %q, want sent with no error", state, lastErr)
	}
	if n := len(smtpd.Messages()); n != 1 {
		t.Errorf("messages received: got %d, want 1", n)
	}
}
