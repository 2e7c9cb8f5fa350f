package clearing_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"sync"
	"testing"

	"github.com/sxp-network/sxp/clearing"
	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/migrations/pgtest"
)

// T's key is made once, sealed at rest (the seed is not stored in the
// clear), the same for every process on the database, and opens only with
// the secret it was sealed with.
func TestArbiterKeySealed(t *testing.T) {
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
	if _, err := house("").ArbiterKey(ctx); err == nil {
		t.Fatal("no secret: got a key, want an error")
	} else {
		var ce *clearing.Error
		if !errors.As(err, &ce) || ce.Code != clearing.ErrUnavailable {
			t.Fatalf("no secret: got %v, want ErrUnavailable", err)
		}
	}
	// Several processes start at once: one key wins, all use it.
	keys := make([]ed25519.PrivateKey, 4)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := house("right").ArbiterKey(ctx)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	for _, k := range keys[1:] {
		if !bytes.Equal(k, keys[0]) {
			t.Fatal("processes got different arbiter keys")
		}
	}
	var n int
	var sealed, pub []byte
	if err := pool.QueryRow(ctx, `SELECT count(*) OVER (), sealed, public_key FROM clearing_arbiter_keys`).Scan(&n, &sealed, &pub); err != nil {
		t.Fatal(err)
	}
	if n != 1 || bytes.Contains(sealed, keys[0].Seed()) || !bytes.Equal(pub, keys[0].Public().(ed25519.PublicKey)) {
		t.Fatalf("got %d rows, sealed contains the seed: %v", n, bytes.Contains(sealed, keys[0].Seed()))
	}
	if _, err := house("wrong").ArbiterKey(ctx); err == nil {
		t.Fatal("wrong secret: got a key, want an error")
	}
	again, err := house("right").ArbiterPublicKey(ctx)
	if err != nil || again == "" {
		t.Fatalf("got %q, %v", again, err)
	}
}
