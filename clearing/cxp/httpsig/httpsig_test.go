package httpsig

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestContentDigestKnownValue(t *testing.T) {
	// RFC 9530 section 2: {"hello": "world"} with sha-256.
	want := "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
	if got := ContentDigest([]byte(`{"hello": "world"}`)); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestSignerRefusesIncompleteConfig(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "http://x/", nil)
	for _, s := range []Signer{{Key: []byte("k")}, {KeyID: "a"}, {KeyID: "a", Alg: AlgEd25519}, {KeyID: "a", Key: []byte("k"), Alg: "md5"}} {
		if err := s.Sign(req, nil); err == nil {
			t.Errorf("Sign with %+v: got nil error, want one", s)
		}
	}
}

func TestMemoryNonces(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	m := &MemoryNonces{Now: func() time.Time { return now }}
	fresh, err := m.Remember(ctx, "a", "x", now.Add(time.Minute))
	if err != nil || !fresh {
		t.Fatalf("first: got %v %v, want true nil", fresh, err)
	}
	if fresh, _ := m.Remember(ctx, "a", "x", now.Add(time.Minute)); fresh {
		t.Fatalf("second: got fresh, want seen")
	}
	// After expiry, pruning (every 1024 insertions) forgets it.
	now = now.Add(2 * time.Minute)
	for i := 0; i < 1024; i++ {
		if _, err := m.Remember(ctx, "b", fmt.Sprint(i), now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	m.mu.Lock()
	_, kept := m.seen[nonceKey{"a", "x"}]
	n := len(m.seen)
	m.mu.Unlock()
	if kept || n != 1024 {
		t.Errorf("after pruning: kept expired=%v, entries %d; want false, 1024", kept, n)
	}
}

// TestKinds: each refusal is its Kind's sentinel for errors.Is, and KindOf finds it
// through wrapping; a server failure has no Kind.
func TestKinds(t *testing.T) {
	for _, k := range Kinds() {
		err := fmt.Errorf("wrapped: %w", refusal(k, "why"))
		if got, ok := KindOf(err); !ok || got != k {
			t.Errorf("KindOf: got %v %v, want %v", got, ok, k)
		}
		for _, s := range []*Error{ErrMalformed, ErrStale, ErrUnknownKey, ErrMismatch, ErrReplayed} {
			if got, want := errors.Is(err, s), s.Kind == k; got != want {
				t.Errorf("errors.Is(%v, %v): got %v, want %v", err, s, got, want)
			}
		}
	}
	if _, ok := KindOf(errors.New("db down")); ok {
		t.Errorf("KindOf(a plain error): got ok, want not a refusal")
	}
	if _, err := (StaticKeys{}).VerifyKeys(context.Background(), "x"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("StaticKeys unknown: got %v, want ErrUnknownKey", err)
	}
}
