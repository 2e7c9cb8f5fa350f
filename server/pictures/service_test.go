package pictures_test

import (
	"context"
	"testing"
	"time"

	"github.com/sxp-network/sxp/migrations/pgtest"
	"github.com/sxp-network/sxp/server/pictures"
)

// TestUploadLimit: a member may upload UploadBurst pictures at once, then
// one every UploadEvery (the injected clock); refusals store nothing.
func TestUploadLimit(t *testing.T) {
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	var alice, bob int64
	for _, m := range []struct {
		name string
		id   *int64
	}{{"alice", &alice}, {"bob", &bob}} {
		if err := pool.QueryRow(ctx, `INSERT INTO members (username, password_hash, display_name, status, account_id)
			VALUES ($1, 'x', $1, 'active', $2) RETURNING id`, m.name, len(m.name)).Scan(m.id); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	s := pictures.New(pool, func() time.Time { return now })
	png := picture(t, "png", 4, 4)
	for i := 0; i < pictures.UploadBurst; i++ {
		if _, err := s.SetProfile(ctx, alice, png); err != nil {
			t.Fatalf("upload %d: %v", i+1, err)
		}
	}
	_, err := s.SetProfile(ctx, alice, png)
	e, _ := err.(*pictures.Error)
	if pictures.CodeOf(err) != pictures.CodeTooMany || e.RetryAfter != pictures.UploadEvery {
		t.Fatalf("upload %d: got %v, want too_many_uploads, retry after %s", pictures.UploadBurst+1, err, pictures.UploadEvery)
	}
	if _, err := s.SetProfile(ctx, bob, png); err != nil {
		t.Fatalf("bob is not limited by alice: %v", err)
	}
	now = now.Add(pictures.UploadEvery)
	p, err := s.SetProfile(ctx, alice, png)
	if err != nil {
		t.Fatalf("after %s: %v", pictures.UploadEvery, err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pictures`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("got %d pictures (%v), want 2: one each", n, err)
	}
	if got, err := s.Get(ctx, p.ID); err != nil || got.ETag() != p.ETag() || string(got.Data) != string(p.Data) {
		t.Fatalf("Get: got %v %v", got.ETag(), err)
	}
	if _, err := s.SetAnnouncement(ctx, bob, 12345, png); pictures.CodeOf(err) != pictures.CodeNotFound {
		t.Fatalf("picture of a missing announcement: got %v, want not_found", err)
	}
}
