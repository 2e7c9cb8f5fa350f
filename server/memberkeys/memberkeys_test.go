package memberkeys_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/migrations"
	"github.com/sxp-network/sxp/migrations/pgtest"
	"github.com/sxp-network/sxp/server/memberkeys"
	"github.com/sxp-network/sxp/server/members"
)

const secret = "a long sealing secret"

func newMembers(pool *pgxpool.Pool, store *memberkeys.Store) *members.Service {
	opts := members.Options{Currency: "LEAF", DefaultMin: -10000, DefaultMax: 10000}
	if store != nil {
		opts.Created = store.Make
	}
	return members.New(pool, ledger.New(pool, ledger.Options{}), opts)
}

func add(t *testing.T, mem *members.Service, name string) members.Member {
	t.Helper()
	m, err := mem.Add(context.Background(), members.Registration{Username: name, Password: "password-" + name}, members.RoleMember)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type row struct {
	pub, priv   []byte
	sealed, own bool
}

func keyRow(t *testing.T, pool *pgxpool.Pool, id int64) row {
	t.Helper()
	var r row
	err := pool.QueryRow(context.Background(), `SELECT public_key, private_key, sealed, own FROM member_deal_keys WHERE member_id = $1`, id).
		Scan(&r.pub, &r.priv, &r.sealed, &r.own)
	if err != nil {
		t.Fatalf("key row of member %d: %v", id, err)
	}
	return r
}

// TestKeys: a key is made, sealed, in the registration's transaction; Sign
// signs with it; an own key replaces it and Sign then refuses.
func TestKeys(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	store, err := memberkeys.New(pool, secret)
	if err != nil {
		t.Fatal(err)
	}
	mem := newMembers(pool, store)
	alice, bob := add(t, mem, "alice"), add(t, mem, "bob")

	r := keyRow(t, pool, alice.ID)
	if !r.sealed || r.own || len(r.pub) != 32 || len(r.priv) != 12+64+16 {
		t.Fatalf("alice's row: got sealed=%v own=%v %d-byte public, %d-byte private; want sealed, not own, 32, 92",
			r.sealed, r.own, len(r.pub), len(r.priv))
	}
	pub, own, err := store.Key(ctx, "alice")
	if err != nil || own || !bytes.Equal(pub, r.pub) {
		t.Fatalf("Key(alice): got %x own=%v %v; want %x, false", pub, own, err, r.pub)
	}
	msg := []byte(`{"c":"ab","r":1,"t":"promise"}`)
	sig, err := store.Sign(ctx, "alice", msg)
	if err != nil || !ed25519.Verify(pub, msg, sig) {
		t.Fatalf("Sign(alice): got %x, %v; want a signature that verifies with her key", sig, err)
	}
	if bobPub, _, _ := store.Key(ctx, "bob"); bytes.Equal(bobPub, pub) || keyRow(t, pool, bob.ID).sealed != true {
		t.Errorf("bob: got alice's key or an unsealed one")
	}

	// A sealed key moved to another member's row does not open.
	if _, err := pool.Exec(ctx, `UPDATE member_deal_keys SET public_key = $2, private_key = $3 WHERE member_id = $1`,
		bob.ID, r.pub, r.priv); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Sign(ctx, "bob", msg); err == nil || !strings.Contains(err.Error(), "cannot open") {
		t.Errorf("alice's sealed key in bob's row: got %v, want cannot open", err)
	}
	// Without the secret, or with another, a sealed key does not sign.
	for _, tt := range []struct{ name, secret, want string }{
		{"no secret", "", "set SXP_FEDERATION_SECRET"},
		{"another secret", "another secret", "wrong SXP_FEDERATION_SECRET"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			other, _ := memberkeys.New(pool, tt.secret)
			if _, err := other.Sign(ctx, "alice", msg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}

	// Own keys: refused when bad, nothing changed; accepted, the private key is gone.
	bad := []struct {
		name string
		key  []byte
	}{{"short", make([]byte, 31)}, {"long", make([]byte, 33)}, {"all zero", make([]byte, 32)}}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			err := store.SetOwn(ctx, "alice", tt.key)
			var e *memberkeys.Error
			if !errors.As(err, &e) || e.Code != memberkeys.CodeInvalid {
				t.Errorf("got %v, want code invalid", err)
			}
			if got := keyRow(t, pool, alice.ID); !bytes.Equal(got.pub, r.pub) || got.own {
				t.Errorf("the key changed on a refusal")
			}
		})
	}
	mine, _, _ := ed25519.GenerateKey(rand.Reader)
	if err := store.SetOwn(ctx, "alice", mine); err != nil {
		t.Fatal(err)
	}
	got := keyRow(t, pool, alice.ID)
	if !got.own || got.priv != nil || got.sealed || !bytes.Equal(got.pub, mine) {
		t.Fatalf("after SetOwn: got own=%v private=%x sealed=%v; want own, no private key", got.own, got.priv, got.sealed)
	}
	if pub, own, err := store.Key(ctx, "alice"); err != nil || !own || !bytes.Equal(pub, mine) {
		t.Errorf("Key after SetOwn: got %x own=%v %v; want her key, own", pub, own, err)
	}
	if _, err := store.Sign(ctx, "alice", msg); !errors.Is(err, memberkeys.ErrOwnKey) {
		t.Errorf("Sign after SetOwn: got %v, want ErrOwnKey", err)
	}
	for _, f := range []func() error{
		func() error { _, _, err := store.Key(ctx, "nobody"); return err },
		func() error { _, err := store.Sign(ctx, "nobody", msg); return err },
		func() error { return store.SetOwn(ctx, "nobody", mine) },
	} {
		if err := f(); !errors.Is(err, memberkeys.ErrNoKey) {
			t.Errorf("unknown member: got %v, want ErrNoKey", err)
		}
	}
	// Ensure with nothing to do does nothing.
	if done, err := store.Ensure(ctx); err != nil || done != (memberkeys.Ensured{}) {
		t.Errorf("Ensure: got %+v, %v; want nothing done", done, err)
	}
}

// TestUpgrade: a database from before 000014, with a key made unsealed by
// 000011's code and a member without any, is migrated; the server's start
// (Ensure) seals the one, makes the other, and a second start does nothing.
func TestUpgrade(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewEmptyDatabase(t)
	m, err := migrations.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Up(); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// The members are added with today's schema (later migrations change
	// the members table); then the schema goes back to before 000014.
	mem := newMembers(pool, nil)
	alice, bob := add(t, mem, "alice"), add(t, mem, "bob")
	for {
		v, _, err := m.Version()
		if err != nil {
			t.Fatal(err)
		}
		if v < 14 {
			break
		}
		if err := m.Down(1); err != nil {
			t.Fatal(err)
		}
	}
	pool.Reset()
	oldPub, oldPriv, _ := ed25519.GenerateKey(rand.Reader)
	// As 000011's memberKey stored it: unsealed.
	if _, err := pool.Exec(ctx, `INSERT INTO member_deal_keys (member_id, public_key, private_key) VALUES ($1, $2, $3)`,
		alice.ID, []byte(oldPub), []byte(oldPriv)); err != nil {
		t.Fatal(err)
	}
	if err := m.Up(); err != nil {
		t.Fatal(err)
	}
	if r := keyRow(t, pool, alice.ID); r.sealed || r.own || !bytes.Equal(r.priv, oldPriv) {
		t.Fatalf("after the migration: got sealed=%v own=%v; want alice's key marked unsealed, unchanged", r.sealed, r.own)
	}
	pool.Reset() // the schema changed under the pool's cached statements
	store, err := memberkeys.New(pool, secret)
	if err != nil {
		t.Fatal(err)
	}
	done, err := store.Ensure(ctx)
	if err != nil || done != (memberkeys.Ensured{Made: 1, Sealed: 1}) {
		t.Fatalf("first start: got %+v, %v; want 1 made (bob), 1 sealed (alice)", done, err)
	}
	r := keyRow(t, pool, alice.ID)
	if !r.sealed || !bytes.Equal(r.pub, oldPub) || bytes.Contains(r.priv, oldPriv[:32]) {
		t.Fatalf("alice after start: got sealed=%v, same public key %v; want her old key sealed", r.sealed, bytes.Equal(r.pub, oldPub))
	}
	if b := keyRow(t, pool, bob.ID); !b.sealed || b.own {
		t.Errorf("bob after start: got sealed=%v own=%v, want a sealed server-held key", b.sealed, b.own)
	}
	msg := []byte("promise")
	if sig, err := store.Sign(ctx, "alice", msg); err != nil || !ed25519.Verify(oldPub, msg, sig) {
		t.Errorf("alice signs with her old key: got %v", err)
	}
	if done, err := store.Ensure(ctx); err != nil || done != (memberkeys.Ensured{}) {
		t.Errorf("second start: got %+v, %v; want nothing done", done, err)
	}
	if again := keyRow(t, pool, alice.ID); !bytes.Equal(again.priv, r.priv) {
		t.Errorf("second start changed alice's sealed key")
	}
}

// TestNoSecret: without a secret keys are stored unsealed, and the first
// start with a secret seals them.
func TestNoSecret(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	plain, _ := memberkeys.New(pool, "")
	carol := add(t, newMembers(pool, plain), "carol")
	if r := keyRow(t, pool, carol.ID); r.sealed || len(r.priv) != 64 {
		t.Fatalf("without a secret: got sealed=%v, %d-byte private key; want unsealed, 64", r.sealed, len(r.priv))
	}
	if done, err := plain.Ensure(ctx); err != nil || done != (memberkeys.Ensured{}) {
		t.Fatalf("Ensure without a secret: got %+v, %v; want nothing", done, err)
	}
	sealed, _ := memberkeys.New(pool, secret)
	if done, err := sealed.Ensure(ctx); err != nil || done.Sealed != 1 {
		t.Fatalf("Ensure with a secret: got %+v, %v; want 1 sealed", done, err)
	}
	pub, _, _ := sealed.Key(ctx, "carol")
	if sig, err := sealed.Sign(ctx, "carol", []byte("x")); err != nil || !ed25519.Verify(pub, []byte("x"), sig) {
		t.Errorf("sign after sealing: %v", err)
	}
}
