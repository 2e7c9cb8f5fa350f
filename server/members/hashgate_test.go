package members

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/migrations/pgtest"
)

// TestHashingBounded is issue 10's hole 6: password hashing is bounded.
// With every slot taken, log-ins (of known and unknown usernames) and
// registrations are refused with CodeBusy and a Retry-After instead of
// hashing; a busy refusal does not count as a failed log-in.
func TestHashingBounded(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	led := ledger.New(pool, ledger.Options{})
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s := New(pool, led, Options{Currency: "LEAF", DefaultMin: -10000, DefaultMax: 100000,
		Throttle: Throttle{PerUsername: 3, PerIP: 5, Window: 10 * time.Minute}, Now: clk.Now,
		MaxHashing: 1, HashWait: time.Millisecond})
	ctx := context.Background()
	if _, err := s.Register(ctx, Registration{Username: "dave", Password: "password1"}); err != nil {
		t.Fatal(err)
	}
	s.hashing.slots <- struct{}{} // another request is hashing
	busy := func(what string, err error) {
		t.Helper()
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeBusy || e.RetryAfter != time.Second {
			t.Fatalf("%s: got %v, want %s with RetryAfter 1s", what, err, CodeBusy)
		}
	}
	for range 4 {
		_, err := s.Login(ctx, LoginRequest{Username: "dave", Password: "wrong-pass", IP: "10.0.0.1"})
		busy("log-in", err)
		_, err = s.Login(ctx, LoginRequest{Username: "ghost", Password: "wrong-pass", IP: "10.0.0.1"})
		busy("unknown user's log-in", err)
	}
	_, err := s.Register(ctx, Registration{Username: "erin", Password: "password1"})
	busy("registration", err)
	<-s.hashing.slots
	// Eight busy refusals did not count: dave logs in from that address.
	if _, err := s.Login(ctx, LoginRequest{Username: "dave", Password: "password1", IP: "10.0.0.1"}); err != nil {
		t.Fatalf("after the burst: got %v, want a session", err)
	}
}
