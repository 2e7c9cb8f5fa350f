package ratelimit

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	l := New(2, 3) // 2 a second, 3 at once
	for i := range 3 {
		if ok, _ := l.Allow("a", now); !ok {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	ok, wait := l.Allow("a", now)
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("beyond the burst: got %v, wait %v; want refused, wait 500ms", ok, wait)
	}
	if ok, _ := l.Allow("b", now); !ok {
		t.Fatal("another key refused: buckets are per key")
	}
	if ok, _ := l.Allow("a", now.Add(500*time.Millisecond)); !ok {
		t.Fatal("refilled token refused")
	}
	var none *Limiter
	if ok, _ := none.Allow("a", now); !ok {
		t.Fatal("a nil limiter refused")
	}
	if ok, _ := New(0, 0).Allow("a", now); !ok {
		t.Fatal("a limiter of rate 0 refused")
	}
}
