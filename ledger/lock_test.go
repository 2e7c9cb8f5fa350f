package ledger_test

import (
	"context"
	"testing"
	"unicode/utf8"

	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/migrations/pgtest"
)

// TestTryLock: a second taker is refused while the first holds the lock,
// and gets it once the first unlocks.
func TestTryLock(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	const key = 0x7e57_10c4
	unlock, ok, err := ledger.TryLock(ctx, pool, key)
	if err != nil || !ok {
		t.Fatalf("first: got ok %v, %v; want the lock", ok, err)
	}
	if _, ok, err := ledger.TryLock(ctx, pool, key); err != nil || ok {
		t.Fatalf("second while held: got ok %v, %v; want refused", ok, err)
	}
	unlock()
	again, ok, err := ledger.TryLock(ctx, pool, key)
	if err != nil || !ok {
		t.Fatalf("after unlock: got ok %v, %v; want the lock", ok, err)
	}
	again()
}

func TestTruncate(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "abc"},
		{"añb", 2, "a"}, // ñ is two bytes: not cut in half
		{"a\xffb", 10, "a\uFFFDb"},
	} {
		got := ledger.Truncate(tt.in, tt.n)
		if got != tt.want || !utf8.ValidString(got) {
			t.Errorf("Truncate(%q, %d): got %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
