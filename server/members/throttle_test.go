package members

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestLoginThrottleConcurrent is issue 10's hole 5: 59 wrong passwords sent
// at once must not all be checked; only the throttle's allowance is, the
// rest are refused, and the right password after them is refused too.
func TestLoginThrottleConcurrent(t *testing.T) {
	t.Parallel()
	s, _, _ := newService(t, false) // PerUsername 3
	ctx := context.Background()
	if _, err := s.Register(ctx, Registration{Username: "dave", Password: "password1"}); err != nil {
		t.Fatal(err)
	}
	const wrong = 59
	codes := make([]Code, wrong)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range wrong {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := s.Login(ctx, LoginRequest{Username: "dave", Password: "wrong-pass", IP: "10.0.0.1"})
			codes[i] = CodeOf(err)
		}()
	}
	close(start)
	wg.Wait()
	count := map[Code]int{}
	for _, c := range codes {
		count[c]++
	}
	if count[CodeBadCredentials] != 3 || count[CodeTooManyAttempts] != wrong-3 {
		t.Fatalf("got %v, want 3 %s and %d %s", count, CodeBadCredentials, wrong-3, CodeTooManyAttempts)
	}
	if _, err := s.Login(ctx, LoginRequest{Username: "dave", Password: "password1", IP: "10.0.0.1"}); CodeOf(err) != CodeTooManyAttempts {
		t.Fatalf("the right password after %d wrong ones: got %v, want %s", wrong, err, CodeTooManyAttempts)
	}
}

// TestLoginThrottleBySource: failures from one address do not lock the
// member out from another; an admin can unlock; a password reset unlocks.
func TestLoginThrottleBySource(t *testing.T) {
	t.Parallel()
	s, _, clk := newService(t, false) // PerUsername 3, PerIP 5
	ctx := context.Background()
	if _, err := s.Register(ctx, Registration{Username: "dave", Password: "password1"}); err != nil {
		t.Fatal(err)
	}
	attack := func(n int) {
		t.Helper()
		for i := range n {
			_, err := s.Login(ctx, LoginRequest{Username: "dave", Password: "wrong-pass", IP: "203.0.113.9"})
			if CodeOf(err) != CodeBadCredentials {
				t.Fatalf("attempt %d: got %v, want %s", i, err, CodeBadCredentials)
			}
		}
		_, err := s.Login(ctx, LoginRequest{Username: "dave", Password: "password1", IP: "203.0.113.9"})
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeTooManyAttempts || e.RetryAfter != 10*time.Minute {
			t.Fatalf("attacker's address: got %v, want %s with RetryAfter 10m", err, CodeTooManyAttempts)
		}
	}
	attack(3)
	// dave, from his own address, is not locked out.
	if _, err := s.Login(ctx, LoginRequest{Username: "dave", Password: "password1", IP: "10.0.0.2"}); err != nil {
		t.Fatalf("dave from his own address: got %v, want a session", err)
	}
	// An admin unlocks: the attacker's address may try again.
	if _, err := s.Unlock(ctx, "dave"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Unlock(ctx, "nobody"); CodeOf(err) != CodeNotFound {
		t.Fatalf("unlock nobody: got %v, want %s", err, CodeNotFound)
	}
	attack(3)
	// A password reset by an admin unlocks too.
	clk.Advance(time.Minute)
	if err := s.SetPassword(ctx, "dave", "password2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Login(ctx, LoginRequest{Username: "dave", Password: "password2", IP: "203.0.113.9"}); err != nil {
		t.Fatalf("after a password reset: got %v, want a session", err)
	}
}

// TestLoginThrottleIPv6Prefix: an IPv6 source is its /64 (one host's
// usual allocation), so rotating addresses within it does not reset the
// count.
func TestLoginThrottleIPv6Prefix(t *testing.T) {
	t.Parallel()
	s, _, _ := newService(t, false) // PerUsername 3
	ctx := context.Background()
	if _, err := s.Register(ctx, Registration{Username: "dave", Password: "password1"}); err != nil {
		t.Fatal(err)
	}
	for i, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"} {
		if _, err := s.Login(ctx, LoginRequest{Username: "dave", Password: "wrong-pass", IP: ip}); CodeOf(err) != CodeBadCredentials {
			t.Fatalf("attempt %d: got %v, want %s", i, err, CodeBadCredentials)
		}
	}
	if _, err := s.Login(ctx, LoginRequest{Username: "dave", Password: "password1", IP: "2001:db8:1:2::99"}); CodeOf(err) != CodeTooManyAttempts {
		t.Fatalf("another address of the /64: got %v, want %s", err, CodeTooManyAttempts)
	}
	for _, ip := range []string{"2001:db8:1:3::1", "192.0.2.7", "::ffff:192.0.2.8"} {
		if _, err := s.Login(ctx, LoginRequest{Username: "dave", Password: "password1", IP: ip}); err != nil {
			t.Fatalf("from %s: got %v, want a session", ip, err)
		}
	}
}

func TestSourceOf(t *testing.T) {
	for _, tt := range []struct{ ip, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.8", "192.0.2.8"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:DB8:1:2::1", "2001:db8:1:2::/64"},
		{"", ""},
		{"not an address", "not an address"},
	} {
		if got := sourceOf(tt.ip); got != tt.want {
			t.Errorf("sourceOf(%q): got %q, want %q", tt.ip, got, tt.want)
		}
	}
}
