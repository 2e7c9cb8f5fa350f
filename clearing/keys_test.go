package clearing_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sxp-network/sxp/clearing"
	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/migrations/pgtest"
)

// CheckSecret tells an operator that SXP_CLEARING_SECRET is not the one the
// stored keys were sealed with, before a key is sealed with the wrong one.
func TestCheckSecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	house := func(secret string) *clearing.House {
		h, err := clearing.New(pool, ledger.New(pool, ledger.Options{}), clearing.Options{Secret: secret})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	right, wrong := house("right secret"), house("wrong secret")
	if err := wrong.CheckSecret(ctx); err != nil {
		t.Fatalf("no keys stored yet: got %v, want nil", err)
	}
	if _, _, err := right.InitCircle(ctx, "test", "c", "", "HOUR", 2); err != nil {
		t.Fatal(err)
	}
	if _, _, err := right.AddCommunity(ctx, "test", clearing.NewCommunity{ID: "a", Name: "A", URI: "http://127.0.0.1:9/a", Ticks: "1", Min: -100, Max: 100}); err != nil {
		t.Fatal(err)
	}
	if err := right.CheckSecret(ctx); err != nil {
		t.Errorf("the right secret: got %v, want nil", err)
	}
	if err := wrong.CheckSecret(ctx); err == nil || !strings.Contains(err.Error(), "SXP_CLEARING_SECRET") {
		t.Errorf("a wrong secret: got %v, want an error naming SXP_CLEARING_SECRET", err)
	}
	if err := house("").CheckSecret(ctx); err == nil {
		t.Errorf("no secret with keys stored: got nil, want an error")
	}
	// Nothing is sealed with a wrong secret.
	if _, _, err := wrong.AddCommunity(ctx, "test", clearing.NewCommunity{ID: "b", Name: "B", URI: "http://127.0.0.1:9/b", Ticks: "1", Min: -1, Max: 1}); err == nil {
		t.Errorf("AddCommunity with a wrong secret: got nil, want an error")
	}
	if _, err := wrong.RotateKey(ctx, "test", "a", 0); err == nil {
		t.Errorf("RotateKey with a wrong secret: got nil, want an error")
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM clearing_keys`).Scan(&n); err != nil || n != 1 {
		t.Errorf("keys: got %d (%v), want 1", n, err)
	}
	if _, err := right.Community(ctx, "b"); err == nil {
		t.Errorf("community b was added with a wrong secret")
	}
}
