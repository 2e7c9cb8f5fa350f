package members

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/migrations/pgtest"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newService(t *testing.T, approval bool) (*Service, *ledger.Ledger, *clock) {
	t.Helper()
	pool := pgtest.NewPool(t)
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	led := ledger.New(pool, ledger.Options{})
	s := New(pool, led, Options{Currency: "LEAF", Community: "leaf", DefaultMin: -10000, DefaultMax: 100000, Approval: approval,
		Throttle: Throttle{PerUsername: 3, PerIP: 5, Window: 10 * time.Minute}, Now: clk.Now,
		// More hashing slots than any test here runs at once: under -race a
		// hash is slow, and only TestHashingBounded is about the bound.
		MaxHashing: 8})
	return s, led, clk
}

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("got hash %q, want a PHC argon2id string", h)
	}
	h2, _ := HashPassword("correct horse")
	if h == h2 {
		t.Fatal("got the same hash twice, want a random salt")
	}
	for _, tt := range []struct {
		pw   string
		want bool
	}{{"correct horse", true}, {"correct hors", false}, {"", false}} {
		ok, err := CheckPassword(h, tt.pw)
		if err != nil || ok != tt.want {
			t.Errorf("CheckPassword(%q) = %v, %v; want %v", tt.pw, ok, err, tt.want)
		}
	}
	if _, err := CheckPassword("$bcrypt$xx", "x"); err == nil {
		t.Error("got no error for a foreign hash, want one")
	}
}

func TestRegisterOpen(t *testing.T) {
	t.Parallel()
	s, led, _ := newService(t, false)
	ctx := context.Background()
	m, err := s.Register(ctx, Registration{Username: "alice", Password: "password1", DisplayName: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != StatusActive || m.Role != RoleMember || m.DisplayName != "Alice" {
		t.Fatalf("got %+v, want an active member Alice", m)
	}
	a, err := led.Account(ctx, m.Account)
	if err != nil {
		t.Fatal(err)
	}
	if a.Code != "member:alice" || a.Currency != "LEAF" || a.Min != -10000 || a.Max != 100000 || a.Balance != 0 {
		t.Fatalf("got account %+v, want member:alice LEAF -10000..100000 balance 0", a)
	}
	if _, err := s.Login(ctx, LoginRequest{Username: " Alice", Password: "password1", IP: "1.2.3.4"}); err != nil {
		t.Fatalf("login as ' Alice': %v", err)
	}

	bad := []struct {
		name string
		r    Registration
		code Code
		fld  string
	}{
		{"taken", Registration{Username: "alice", Password: "password1"}, CodeUsernameTaken, ""},
		{"uppercase", Registration{Username: "Bob", Password: "password1"}, CodeInvalid, "username"},
		{"at sign", Registration{Username: "bob@leaf", Password: "password1"}, CodeInvalid, "username"},
		{"one char", Registration{Username: "b", Password: "password1"}, CodeInvalid, "username"},
		{"short password", Registration{Username: "bob", Password: "short"}, CodeInvalid, "password"},
		{"long name", Registration{Username: "bob", Password: "password1", DisplayName: strings.Repeat("x", 101)}, CodeInvalid, "display_name"},
	}
	for _, tt := range bad {
		_, err := s.Register(ctx, tt.r)
		var e *Error
		if !errors.As(err, &e) || e.Code != tt.code || e.Field != tt.fld {
			t.Errorf("%s: got %v, want code %s field %q", tt.name, err, tt.code, tt.fld)
		}
	}
	all, err := s.List(ctx, "")
	if err != nil || len(all) != 1 {
		t.Fatalf("got %d members (%v), want 1: refused registrations must write nothing", len(all), err)
	}
	accs, err := led.Accounts(ctx, "LEAF")
	if err != nil || len(accs) != 1 {
		t.Fatalf("got %d accounts (%v), want 1", len(accs), err)
	}
}

func TestRegisterApproval(t *testing.T) {
	t.Parallel()
	s, _, _ := newService(t, true)
	ctx := context.Background()
	m, err := s.Register(ctx, Registration{Username: "bob", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != StatusPending || m.DisplayName != "bob" {
		t.Fatalf("got status %s name %q, want pending bob", m.Status, m.DisplayName)
	}
	_, err = s.Login(ctx, LoginRequest{Username: "bob", Password: "password1", IP: "1.1.1.1"})
	if CodeOf(err) != CodeNotApproved {
		t.Fatalf("login while pending: got %v, want %s", err, CodeNotApproved)
	}
	if m, err = s.Approve(ctx, "bob"); err != nil || m.Status != StatusActive {
		t.Fatalf("approve: got %v %v, want active", m.Status, err)
	}
	if _, err := s.Approve(ctx, "bob"); CodeOf(err) != CodeInvalid {
		t.Fatalf("approve twice: got %v, want %s", err, CodeInvalid)
	}
	if _, err := s.Approve(ctx, "nobody"); CodeOf(err) != CodeNotFound {
		t.Fatalf("approve unknown: got %v, want %s", err, CodeNotFound)
	}
	if _, err := s.Login(ctx, LoginRequest{Username: "bob", Password: "password1", IP: "1.1.1.1"}); err != nil {
		t.Fatalf("login after approval: %v", err)
	}
	admin, err := s.Add(ctx, Registration{Username: "root", Password: "password1"}, RoleAdmin)
	if err != nil || admin.Status != StatusActive || admin.Role != RoleAdmin {
		t.Fatalf("add admin: got %+v %v, want an active admin", admin, err)
	}
}

func TestSessions(t *testing.T) {
	t.Parallel()
	s, led, clk := newService(t, false)
	ctx := context.Background()
	m, err := s.Register(ctx, Registration{Username: "carol", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := s.Login(ctx, LoginRequest{Username: "carol", Password: "password1", IP: "1.1.1.1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sess.Token) < 40 || sess.CSRF == "" || !sess.ExpiresAt.Equal(clk.Now().Add(7*24*time.Hour)) {
		t.Fatalf("got session %+v, want a long token, a CSRF token, 7 days", sess)
	}
	var stored []byte
	if err := s.pool.QueryRow(ctx, `SELECT token_hash FROM member_sessions`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if string(stored) == sess.Token || len(stored) != 32 {
		t.Fatalf("got stored token %x, want its sha-256", stored)
	}
	got, err := s.Authenticate(ctx, sess.Token)
	if err != nil || got.Member.ID != m.ID || got.CSRF != sess.CSRF {
		t.Fatalf("authenticate: got %+v %v, want carol", got, err)
	}
	if _, err := s.Authenticate(ctx, sess.Token+"x"); CodeOf(err) != CodeUnauthenticated {
		t.Fatalf("wrong token: got %v, want %s", err, CodeUnauthenticated)
	}
	clk.Advance(7*24*time.Hour + time.Second)
	if _, err := s.Authenticate(ctx, sess.Token); CodeOf(err) != CodeUnauthenticated {
		t.Fatalf("expired: got %v, want %s", err, CodeUnauthenticated)
	}
	if n, err := s.PruneSessions(ctx); err != nil || n != 1 {
		t.Fatalf("prune: got %d %v, want 1", n, err)
	}

	sess, _ = s.Login(ctx, LoginRequest{Username: "carol", Password: "password1", IP: "1.1.1.1"})
	if err := s.Logout(ctx, sess.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, sess.Token); CodeOf(err) != CodeUnauthenticated {
		t.Fatalf("after logout: got %v, want %s", err, CodeUnauthenticated)
	}

	// Blocking ends sessions, refuses log-in and freezes the account.
	sess, _ = s.Login(ctx, LoginRequest{Username: "carol", Password: "password1", IP: "1.1.1.1"})
	if _, err := s.Block(ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, sess.Token); CodeOf(err) != CodeUnauthenticated {
		t.Fatalf("after block: got %v, want %s", err, CodeUnauthenticated)
	}
	if _, err := s.Login(ctx, LoginRequest{Username: "carol", Password: "password1", IP: "1.1.1.1"}); CodeOf(err) != CodeBlocked {
		t.Fatalf("login blocked: got %v, want %s", err, CodeBlocked)
	}
	a, _ := led.Account(ctx, m.Account)
	if a.Status != ledger.StatusFrozen {
		t.Fatalf("blocked account: got %s, want frozen", a.Status)
	}
	if _, err := s.Unblock(ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	a, _ = led.Account(ctx, m.Account)
	if a.Status != ledger.StatusActive {
		t.Fatalf("unblocked account: got %s, want active", a.Status)
	}
}

func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	s, _, clk := newService(t, false)
	ctx := context.Background()
	for _, u := range []string{"dave", "erin"} {
		if _, err := s.Register(ctx, Registration{Username: u, Password: "password1"}); err != nil {
			t.Fatal(err)
		}
	}
	// Three failures for dave (PerUsername 3), a minute apart.
	for i := 0; i < 3; i++ {
		_, err := s.Login(ctx, LoginRequest{Username: "dave", Password: "wrong-pass", IP: "10.0.0.1"})
		if CodeOf(err) != CodeBadCredentials {
			t.Fatalf("failure %d: got %v, want %s", i, err, CodeBadCredentials)
		}
		clk.Advance(time.Minute)
	}
	// Now even the right password from that address is refused until the
	// first failure is 10 minutes old: it was at 0, now is 3 min, so 7 min
	// remain. (Other addresses are not locked: TestLoginThrottleBySource.)
	_, err := s.Login(ctx, LoginRequest{Username: "dave", Password: "password1", IP: "10.0.0.1"})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeTooManyAttempts || e.RetryAfter != 7*time.Minute {
		t.Fatalf("got %v, want %s with RetryAfter 7m", err, CodeTooManyAttempts)
	}
	// Another user from another address is not affected.
	if _, err := s.Login(ctx, LoginRequest{Username: "erin", Password: "password1", IP: "10.0.0.3"}); err != nil {
		t.Fatalf("erin: %v", err)
	}
	clk.Advance(7 * time.Minute)
	if _, err := s.Login(ctx, LoginRequest{Username: "dave", Password: "password1", IP: "10.0.0.1"}); err != nil {
		t.Fatalf("after the window: got %v, want success", err)
	}
	// Success clears dave's failures: two more failures are not yet a lock.
	for i := 0; i < 2; i++ {
		s.Login(ctx, LoginRequest{Username: "dave", Password: "nope-nope", IP: "10.0.0.4"})
	}
	if _, err := s.Login(ctx, LoginRequest{Username: "dave", Password: "password1", IP: "10.0.0.4"}); err != nil {
		t.Fatalf("after 2 failures: got %v, want success", err)
	}

	// Per address: 5 failures from one IP on unknown names lock that IP.
	for i := 0; i < 5; i++ {
		s.Login(ctx, LoginRequest{Username: "ghost" + string(rune('a'+i)), Password: "whatever1", IP: "10.9.9.9"})
	}
	_, err = s.Login(ctx, LoginRequest{Username: "erin", Password: "password1", IP: "10.9.9.9"})
	if CodeOf(err) != CodeTooManyAttempts {
		t.Fatalf("locked address: got %v, want %s", err, CodeTooManyAttempts)
	}
}

func TestProfileAndPublicKey(t *testing.T) {
	t.Parallel()
	s, _, _ := newService(t, false)
	ctx := context.Background()
	m, err := s.Register(ctx, Registration{Username: "frank", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	m, err = s.UpdateProfile(ctx, m.ID, Profile{DisplayName: " Frank ", Bio: "gardener", Contact: "frank@example.org"})
	if err != nil || m.DisplayName != "Frank" || m.Bio != "gardener" || m.Contact != "frank@example.org" {
		t.Fatalf("got %+v %v, want the new profile", m, err)
	}
	if _, err := s.UpdateProfile(ctx, m.ID, Profile{DisplayName: ""}); CodeOf(err) != CodeInvalid {
		t.Fatalf("empty name: got %v, want invalid", err)
	}
	pub, _, _ := ed25519.GenerateKey(nil)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
		got, err := s.SetPublicKey(ctx, m.ID, enc.EncodeToString(pub))
		if err != nil || string(got.PublicKey) != string(pub) {
			t.Fatalf("set key: got %x %v, want %x", got.PublicKey, err, []byte(pub))
		}
	}
	for _, bad := range []string{"not base64!", base64.StdEncoding.EncodeToString(pub[:31]), base64.StdEncoding.EncodeToString(append(pub, 0))} {
		var e *Error
		if _, err := s.SetPublicKey(ctx, m.ID, bad); !errors.As(err, &e) || e.Field != "public_key" {
			t.Errorf("key %q: got %v, want invalid public_key", bad, err)
		}
	}
	got, _ := s.ByID(ctx, m.ID)
	if string(got.PublicKey) != string(pub) {
		t.Fatalf("after bad keys: got %x, want the key unchanged", got.PublicKey)
	}
	if got, err := s.SetPublicKey(ctx, m.ID, ""); err != nil || got.PublicKey != nil {
		t.Fatalf("remove key: got %x %v, want none", got.PublicKey, err)
	}
}

func TestRegisterConcurrently(t *testing.T) {
	t.Parallel()
	s, led, _ := newService(t, false)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Register(ctx, Registration{Username: "zoe", Password: "password1"})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case CodeOf(err) != CodeUsernameTaken:
			t.Errorf("got %v, want success or %s", err, CodeUsernameTaken)
		}
	}
	accs, err := led.Accounts(ctx, "LEAF")
	if ok != 1 || err != nil || len(accs) != 1 {
		t.Fatalf("got %d registrations and %d accounts (%v), want 1 and 1", ok, len(accs), err)
	}
}

// TestLoginAsAddress: a member may log in as member@community (how the
// circle writes them) on their own community; another community's address
// is refused with a message that says where to log in.
func TestLoginAsAddress(t *testing.T) {
	t.Parallel()
	s, _, _ := newService(t, false)
	ctx := context.Background()
	if _, err := s.Register(ctx, Registration{Username: "alice", Password: "password1"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, username string
		want           Code
	}{
		{"plain", "alice", ""},
		{"address", "alice@leaf", ""},
		{"capitalised address", " Alice@Leaf ", ""},
		{"another community", "alice@acorn", CodeBadCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ses, err := s.Login(ctx, LoginRequest{Username: tt.username, Password: "password1", IP: "10.0.0.9"})
			if CodeOf(err) != tt.want {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
			if tt.want == "" && ses.Member.Username != "alice" {
				t.Fatalf("got member %q, want alice", ses.Member.Username)
			}
			if tt.want != "" && !strings.Contains(err.Error(), "acorn") {
				t.Fatalf("got %q, want a message naming acorn", err)
			}
		})
	}
}
