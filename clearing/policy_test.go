package clearing_test

import (
	"context"
	"testing"
	"time"

	"github.com/sxp-network/sxp/clearing"
	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/migrations/pgtest"
)

// newHouse is a clearing house with circle "c" (2 divisions) and
// communities x (rate 1) and y (rate 2), limits -100..100, at a fixed clock.
func newHouse(t *testing.T, now *time.Time) *clearing.House {
	t.Helper()
	pool := pgtest.NewPool(t)
	clock := func() time.Time { return *now }
	h, err := clearing.New(pool, ledger.New(pool, ledger.Options{Now: clock}), clearing.Options{Secret: "s", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, _, err := h.InitCircle(ctx, "test", "c", "", "HOUR", 2); err != nil {
		t.Fatal(err)
	}
	for _, n := range []clearing.NewCommunity{
		{ID: "x", Name: "X", URI: "http://127.0.0.1:9/x", Ticks: "1", Min: -10000, Max: 10000},
		{ID: "y", Name: "Y", URI: "http://127.0.0.1:9/y", Ticks: "2", Min: -10000, Max: 10000},
	} {
		if _, _, err := h.AddCommunity(ctx, "test", n); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func TestInitCircleIdempotent(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := newHouse(t, &now)
	ctx := context.Background()
	if _, created, err := h.InitCircle(ctx, "test", "c", "", "HOUR", 2); err != nil || created {
		t.Fatalf("again: got created=%v, %v; want an unchanged circle", created, err)
	}
	if _, _, err := h.InitCircle(ctx, "test", "c", "", "MIN", 2); err == nil {
		t.Fatal("other unit: got no error, want a conflict")
	}
	entries, _ := h.Audit(ctx, 0, 100)
	if n := len(entries); n != 3 {
		t.Fatalf("audit entries: got %d, want 3 (init and two adds)", n)
	}
}

func TestScheduleLimitPolicies(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := newHouse(t, &now)
	ctx := context.Background()
	c, _ := h.Circle(ctx)
	p := c.Policy
	p.LimitPolicy, p.LimitPerMember, p.LimitFloor = clearing.LimitPerMember, 250, 1000
	if _, err := h.SetPolicy(ctx, "test", p); err != nil {
		t.Fatal(err)
	}
	// Traders come from the handshake's statement data.
	if _, err := h.Handshake(ctx, "x", 0, cxp.HandshakeRequest{API: "1", Mail: "a@x", Ticks: "1", URI: "http://127.0.0.1:9/x", Traders: 12}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.SetLimits(ctx, "test", "y", -700, 800); err != nil { // an override: left alone
		t.Fatal(err)
	}
	res, err := h.RunSchedule(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.LimitsChanged != 1 {
		t.Fatalf("schedule: got %+v, want 1 limit change", res)
	}
	x, _ := h.Community(ctx, "x")
	y, _ := h.Community(ctx, "y")
	if x.Min != -3000 || x.Max != 3000 || y.Min != -700 || y.Max != 800 {
		t.Fatalf("limits: got x %d..%d y %d..%d, want x -3000..3000 and y -700..800", x.Min, x.Max, y.Min, y.Max)
	}
	if _, err := h.ClearOverride(ctx, "test", "y"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.RunSchedule(ctx); err != nil {
		t.Fatal(err)
	}
	y, _ = h.Community(ctx, "y")
	if y.Min != -1000 || y.Max != 1000 {
		t.Fatalf("y back on the policy (0 traders, floor 10.00): got %d..%d, want -1000..1000", y.Min, y.Max)
	}
}

func TestScheduleDeclaredAndFloatingRates(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := newHouse(t, &now)
	ctx := context.Background()
	c, _ := h.Circle(ctx)
	p := c.Policy
	p.RatePolicy = clearing.RateOnSchedule
	if _, err := h.SetPolicy(ctx, "test", p); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Handshake(ctx, "x", 0, cxp.HandshakeRequest{API: "1", Mail: "a@x", Ticks: "1.25", URI: "http://127.0.0.1:9/x"}); err != nil {
		t.Fatal(err)
	}
	if x, _ := h.Community(ctx, "x"); x.Ticks != "1" || x.DeclaredTicks != "1.25" {
		t.Fatalf("before the schedule: got ticks %s declared %s, want 1 and 1.25", x.Ticks, x.DeclaredTicks)
	}
	if res, err := h.RunSchedule(ctx); err != nil || res.RatesApplied != 1 {
		t.Fatalf("schedule: got %+v, %v; want 1 rate applied", res, err)
	}
	if x, _ := h.Community(ctx, "x"); x.Ticks != "1.25" || x.DeclaredTicks != "" {
		t.Fatalf("after the schedule: got ticks %s declared %q, want 1.25 and none", x.Ticks, x.DeclaredTicks)
	}

	// Floating: y is owed 60 of its 100 limit (band 50 %): its rate goes up 1 %.
	p.RatePolicy = clearing.RateFloating
	if _, err := h.SetPolicy(ctx, "test", p); err != nil {
		t.Fatal(err)
	}
	if _, err := h.SetFloating(ctx, "test", "y", true); err != nil {
		t.Fatal(err)
	}
	x, _ := h.Community(ctx, "x")
	y, _ := h.Community(ctx, "y")
	if _, err := h.Ledger().Transfer(ctx, ledger.TransferRequest{Debit: x.AccountID, Credit: y.AccountID, Amount: 6000}); err != nil {
		t.Fatal(err)
	}
	if res, err := h.RunSchedule(ctx); err != nil || res.RatesFloated != 1 {
		t.Fatalf("floating schedule: got %+v, %v; want 1 rate floated (x is not opted in)", res, err)
	}
	y, _ = h.Community(ctx, "y")
	if y.Ticks != "2.02" {
		t.Fatalf("y's floating rate: got %s, want 2.02", y.Ticks)
	}
	rates, _ := h.Rates(ctx, "y")
	if len(rates) != 2 || rates[1].Source != "floating" || rates[1].Previous != "2" {
		t.Fatalf("y's rate history: got %+v", rates)
	}
}

// Issue 10, hole 2: a hold whose relay never came back (as after a crash)
// may have been written by the payee, so it never expires into a void: past
// its deadline, recovery asks the payee again; a payee that cannot be reached
// leaves it pending, its hold extended. (Before, the hold expired and the
// intertrade was marked expired: that was the bug.)
func TestRecoverNeverExpiresAnUnknownRelay(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pool := pgtest.NewPool(t)
	clock := func() time.Time { return now }
	lg := ledger.New(pool, ledger.Options{Now: clock})
	h, err := clearing.New(pool, lg, clearing.Options{Secret: "s", Now: clock, HoldTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h.InitCircle(ctx, "test", "c", "", "HOUR", 2)
	x, _, _ := h.AddCommunity(ctx, "test", clearing.NewCommunity{ID: "x", Name: "X", URI: "http://127.0.0.1:9/x", Ticks: "1", Min: -100, Max: 100})
	y, _, _ := h.AddCommunity(ctx, "test", clearing.NewCommunity{ID: "y", Name: "Y", URI: "http://127.0.0.1:9/y", Ticks: "1", Min: -100, Max: 100})
	// A hold whose relay never came back (as after a crash).
	var id int64
	err = lg.InTx(ctx, func(tx *ledger.Tx) error {
		if err := tx.Conn().QueryRow(ctx, `INSERT INTO clearing_intertrades (src_community, temp_id, request_hash, payer_community,
			payee_community, payer, payee, payer_url, payee_url, src_url, dest_url, quantity, description, payer_ticks, payee_ticks,
			status, created_at) VALUES ('x', 't', 'h', 'x', 'y', 'p', 'q', '', '', '', '', 50, '', 1, 1, 'pending', $1) RETURNING id`, now).Scan(&id); err != nil {
			return err
		}
		p, err := tx.Hold(ctx, ledger.HoldRequest{TransferRequest: ledger.TransferRequest{Debit: x.AccountID, Credit: y.AccountID, Amount: 50},
			ExpiresAt: now.Add(time.Minute)})
		if err != nil {
			return err
		}
		_, err = tx.Conn().Exec(ctx, `UPDATE clearing_intertrades SET pending_id = $2 WHERE id = $1`, id, p.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := h.Recover(ctx); err != nil || n != 0 {
		t.Fatalf("before the deadline: got %d, %v; want 0", n, err)
	}
	now = now.Add(2 * time.Minute)
	if n, err := h.Recover(ctx); err != nil || n != 0 {
		t.Fatalf("after the deadline, payee unreachable: got %d, %v; want 0 settled", n, err)
	}
	if n, err := lg.ExpireDue(ctx); err != nil || n != 0 {
		t.Fatalf("ledger expiry after recovery: got %d, %v; want 0 (the hold was extended)", n, err)
	}
	list, _ := h.Intertrades(ctx, "", 0, 10)
	xa, _ := h.Community(ctx, "x")
	if len(list) != 1 || list[0].Status != "pending" || list[0].Asks != 1 || list[0].LastError == "" || xa.Balance != 0 || xa.PendingDebits != 50 {
		t.Fatalf("got %+v and x balance %d held %d, want a pending intertrade asked once, 50 still held", list, xa.Balance, xa.PendingDebits)
	}
	var expires time.Time
	if err := pool.QueryRow(ctx, `SELECT expires_at FROM ledger_pending WHERE status = 'pending'`).Scan(&expires); err != nil || !expires.Equal(now.Add(time.Minute)) {
		t.Fatalf("hold deadline: got %s, %v; want it extended to %s", expires, err, now.Add(time.Minute))
	}
}
