package server_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/sxp-network/sxp/server/announce"
)

// TestFederationDeliveryNumbers measures, on loopback with real PostgreSQL,
// the delivery latency (create on A → searchable on B) over 200 changes and
// the events per second A delivers to one peer. It prints the numbers and
// asserts only that everything arrived (no timing assertion). Run it with
// SXP_FED_BENCH=1.
func TestFederationDeliveryNumbers(t *testing.T) {
	if os.Getenv("SXP_FED_BENCH") == "" {
		t.Skip("set SXP_FED_BENCH=1 to measure federation delivery")
	}
	a, b := newNode(t, "leaf"), newNode(t, "oak")
	peer(t, a, b)
	alice := a.member("alice")
	ctx := context.Background()

	var lat []time.Duration
	for i := range 200 {
		word := fmt.Sprintf("zq%dx", i)
		start := time.Now()
		if _, err := a.srv.Announcements.Create(ctx, alice, announce.Draft{Kind: announce.Offer, Title: "Item " + word, Category: "food"}); err != nil {
			t.Fatal(err)
		}
		for {
			page, err := b.srv.Announcements.Search(ctx, announce.Query{Text: word})
			if err == nil && len(page.Announcements) == 1 {
				break
			}
			if time.Since(start) > 30*time.Second {
				t.Fatalf("b did not find %s within 30 s", word)
			}
			time.Sleep(time.Millisecond)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	t.Logf("latency create on A → searchable on B over %d changes: p50 %v, p99 %v, max %v",
		len(lat), lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)*99/100].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))

	// Throughput: B refuses (500) while A writes n changes; then B recovers
	// and A delivers the backlog in batches of 100.
	const n = 3000
	b.fault.Store(fault500)
	for i := range n {
		if _, err := a.srv.Announcements.Create(ctx, alice, announce.Draft{Kind: announce.Offer, Title: fmt.Sprintf("Bulk %d", i), Category: "goods"}); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		var k int
		if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM announcements WHERE origin = $1 AND title LIKE 'Bulk %'`, a.base).Scan(&k); err != nil {
			t.Fatal(err)
		}
		return k
	}
	// Reset the backoff so that delivery starts at once, then measure from
	// the first batch applied to the last.
	if _, err := a.pool.Exec(ctx, `UPDATE federation_peers SET failures = 0, paused_until = NULL`); err != nil {
		t.Fatal(err)
	}
	b.fault.Store(faultNone)
	var first time.Time
	var firstCount int
	deadline := time.Now().Add(5 * time.Minute)
	for {
		k := count()
		if k > 0 && first.IsZero() {
			first, firstCount = time.Now(), k
		}
		if k == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b holds %d of %d after 5 minutes", k, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	d := time.Since(first)
	t.Logf("throughput to one peer: %d events in %v after the first batch: %.0f events/s", n-firstCount, d.Round(time.Millisecond), float64(n-firstCount)/d.Seconds())
}
