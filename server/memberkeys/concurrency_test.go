package memberkeys_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"

	"github.com/sxp-network/sxp/migrations/pgtest"
	"github.com/sxp-network/sxp/server/memberkeys"
)

// TestEnsureConcurrent: two servers starting at once on the same database
// make each missing key once and seal each unsealed key once; every key
// then signs.
func TestEnsureConcurrent(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	mem := newMembers(pool, nil) // members made without keys
	const n = 12
	for i := range n {
		m := add(t, mem, fmt.Sprintf("m%02d", i))
		if i%2 == 0 { // half of them with a key stored unsealed, as 000011 did
			pub, priv, _ := ed25519.GenerateKey(rand.Reader)
			if _, err := pool.Exec(ctx, `INSERT INTO member_deal_keys (member_id, public_key, private_key) VALUES ($1, $2, $3)`,
				m.ID, []byte(pub), []byte(priv)); err != nil {
				t.Fatal(err)
			}
		}
	}
	var wg sync.WaitGroup
	results := make([]memberkeys.Ensured, 2)
	errs := make([]error, 2)
	for i := range 2 {
		store, err := memberkeys.New(pool, secret)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = store.Ensure(ctx)
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("Ensure: got %v, %v", errs[0], errs[1])
	}
	made, sealed := results[0].Made+results[1].Made, results[0].Sealed+results[1].Sealed
	if made != n/2 || sealed != n/2 {
		t.Fatalf("two starts at once: got %+v and %+v (%d made, %d sealed), want %d made and %d sealed in all",
			results[0], results[1], made, sealed, n/2, n/2)
	}
	store, _ := memberkeys.New(pool, secret)
	for i := range n {
		user := fmt.Sprintf("m%02d", i)
		pub, _, err := store.Key(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		if sig, err := store.Sign(ctx, user, []byte(user)); err != nil || !ed25519.Verify(pub, []byte(user), sig) {
			t.Errorf("%s: signing after two starts: %v", user, err)
		}
	}
	var unsealed int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM member_deal_keys WHERE NOT sealed`).Scan(&unsealed); err != nil || unsealed != 0 {
		t.Errorf("got %d unsealed keys (%v), want 0", unsealed, err)
	}
}
