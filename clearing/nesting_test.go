package clearing_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sxp-network/sxp/clearing"
	"github.com/sxp-network/sxp/clearing/app"
	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/cxptest"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/migrations/pgtest"
)

// lateHandler lets a test start a server before its handler exists (its URL
// is needed to configure the handler).
type lateHandler struct {
	mu sync.Mutex
	h  http.Handler
}

func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	h := l.h
	l.mu.Unlock()
	h.ServeHTTP(w, r)
}

func startHouse(t *testing.T, id string, parent *clearing.Parent, srv *httptest.Server, late *lateHandler, now ...func() time.Time) *clearing.House {
	t.Helper()
	pool := pgtest.NewPool(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	clock := time.Now
	if len(now) > 0 {
		clock = now[0]
	}
	// What `sxp admin circle init` does, then what `sxp clearing` does.
	initHouse, err := clearing.New(pool, ledger.New(pool, ledger.Options{}), clearing.Options{Secret: "s-" + id})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, _, err := initHouse.InitCircle(ctx, "test", id, "", "U"+id, 2); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, app.Config{Secret: "s-" + id, PublicURL: srv.URL, Parent: parent, Now: clock}, pool, logger)
	if err != nil {
		t.Fatal(err)
	}
	late.mu.Lock()
	late.h = a.Handler()
	late.mu.Unlock()
	return a.House
}

func balanceOf(t *testing.T, h *clearing.House, code string) int64 {
	t.Helper()
	a, err := h.Ledger().AccountByCode(context.Background(), code)
	if err != nil {
		t.Fatal(err)
	}
	if a.PendingDebits != 0 || a.PendingCredits != 0 {
		t.Fatalf("%s: held %d/%d, want nothing held", code, a.PendingDebits, a.PendingCredits)
	}
	return a.Balance
}

// A root circle with community z and the child circle as a community (rate
// 2: one child unit is two root units); the child circle with community leaf.
func TestNestedCircle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rootLate, childLate := &lateHandler{}, &lateHandler{}
	rootSrv, childSrv := httptest.NewServer(rootLate), httptest.NewServer(childLate)
	defer rootSrv.Close()
	defer childSrv.Close()
	z, leaf := cxptest.NewCommunity(t, "root"), cxptest.NewCommunity(t, "child")

	root := startHouse(t, "root", nil, rootSrv, rootLate)
	_, zKey, err := root.AddCommunity(ctx, "test", clearing.NewCommunity{ID: "z", Name: "Z", URI: z.URL, Ticks: "1", Min: -10000, Max: 10000})
	if err != nil {
		t.Fatal(err)
	}
	_, childKey, err := root.AddCommunity(ctx, "test", clearing.NewCommunity{ID: "child", Name: "Child circle", URI: childSrv.URL, Ticks: "2", Min: -10000, Max: 10000})
	if err != nil {
		t.Fatal(err)
	}
	child := startHouse(t, "child", &clearing.Parent{URL: rootSrv.URL, CommunityID: "child", Key: childKey, CircleID: "root",
		URI: childSrv.URL, Ticks: "2", Divisions: 2}, childSrv, childLate)
	_, leafKey, err := child.AddCommunity(ctx, "test", clearing.NewCommunity{ID: "leaf", Name: "Leaf", URI: leaf.URL, Ticks: "1", Min: -10000, Max: 10000})
	if err != nil {
		t.Fatal(err)
	}
	// The relay endpoints verify the signature of their own circle.
	z.SetKey(zKey)
	leaf.SetKey(leafKey)
	zCircle := &cxp.Client{BaseURL: rootSrv.URL, Signer: httpsig.Signer{KeyID: "z", Key: []byte(zKey)}}
	leafCircle := &cxp.Client{BaseURL: childSrv.URL, Signer: httpsig.Signer{KeyID: "leaf", Key: []byte(leafKey)}}

	want := func(step string, rootZ, rootChild, childLeaf, childParent int64) {
		t.Helper()
		got := [4]int64{balanceOf(t, root, "vc:z"), balanceOf(t, root, "vc:child"), balanceOf(t, child, "vc:leaf"), balanceOf(t, child, "parent:root")}
		if got != [4]int64{rootZ, rootChild, childLeaf, childParent} {
			t.Fatalf("%s: got root z %d, root child %d, child leaf %d, child parent %d; want %d, %d, %d, %d",
				step, got[0], got[1], got[2], got[3], rootZ, rootChild, childLeaf, childParent)
		}
	}

	// Up: leaf (in the child circle) pays 10.00 child units to z (in the root): 20.00 root units.
	resp, err := leafCircle.Try(ctx, cxp.TransactionRequest{Payer: "alice", Payee: "zed", SrcURL: leaf.URL, DestURL: z.URL,
		Quantity: "10.00", Description: "up", Really: true, TempID: "up-1"})
	if err != nil || resp.Quantity != "10.00" {
		t.Fatalf("leaf pays z: got %+v, %v", resp, err)
	}
	want("after leaf pays z", 2000, -2000, -1000, 1000)
	if n := z.Count(); n != 1 || z.Relays()[0].Quantity != "20.00" || z.Relays()[0].SrcURL != childSrv.URL {
		t.Fatalf("z's relays: got %+v, want one of 20.00 from the child circle", z.Relays())
	}

	// Down: z pays 4.00 root units to leaf inside the child circle: 2.00 child units.
	resp, err = zCircle.Try(ctx, cxp.TransactionRequest{Payer: "zed", Payee: "alice", SrcURL: z.URL, DestURL: childSrv.URL,
		PayeeURL: leaf.URL, Quantity: "4", Description: "down", Really: true, TempID: "down-1"})
	if err != nil {
		t.Fatalf("z pays leaf: %v", err)
	}
	want("after z pays leaf", 1600, -1600, -800, 800)
	if n := leaf.Count(); n != 1 || leaf.Relays()[0].Quantity != "2.00" || leaf.Relays()[0].PayeeURL != leaf.URL {
		t.Fatalf("leaf's relays: got %+v, want one of 2.00", leaf.Relays())
	}

	// All or nothing: z refuses (25) → voided at both levels.
	z.Refuse(cxp.Errorf(cxp.CodeRemoteValidation, "no such member"))
	_, err = leafCircle.Try(ctx, cxp.TransactionRequest{Payer: "alice", Payee: "nobody", SrcURL: leaf.URL, DestURL: z.URL,
		Quantity: "1", Description: "up", Really: true, TempID: "up-2"})
	if cxp.CodeOf(err) != cxp.CodeRemoteValidation {
		t.Fatalf("refused at the top: got %v, want code 25", err)
	}
	want("after the refusal", 1600, -1600, -800, 800)

	// leaf refuses a payment coming down (24) → voided at both levels.
	leaf.Refuse(cxp.NewError(cxp.CodeRemoteLimits, nil))
	_, err = zCircle.Try(ctx, cxp.TransactionRequest{Payer: "zed", Payee: "alice", SrcURL: z.URL, DestURL: childSrv.URL,
		PayeeURL: leaf.URL, Quantity: "4", Description: "down", Really: true, TempID: "down-2"})
	if cxp.CodeOf(err) != cxp.CodeRemoteLimits {
		t.Fatalf("refused at the bottom: got %v, want code 24", err)
	}
	want("after the refusal below", 1600, -1600, -800, 800)

	// A replay of the first payment writes nothing at either level.
	if _, err := leafCircle.Try(ctx, cxp.TransactionRequest{Payer: "alice", Payee: "zed", SrcURL: leaf.URL, DestURL: z.URL,
		Quantity: "10.00", Description: "up", Really: true, TempID: "up-1"}); err != nil {
		t.Fatalf("replay: %v", err)
	}
	want("after the replay", 1600, -1600, -800, 800)
}

// Issue 10, holes 1 and 2 in a nested circle: z (in the root circle) pays
// leaf (in the child circle), and leaf's server cannot record it (5): the
// outcome is unknown, so the child keeps it pending and tells the root so
// (27), which keeps it pending too and tells z. Once leaf answers, the
// child's recovery posts it, then the root's recovery (asking the child
// again with the same temp_id) posts it, and z's repeat gets the answer.
func TestNestedCircleRecoversAnUnknownRelay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	rootLate, childLate := &lateHandler{}, &lateHandler{}
	rootSrv, childSrv := httptest.NewServer(rootLate), httptest.NewServer(childLate)
	defer rootSrv.Close()
	defer childSrv.Close()
	z, leaf := cxptest.NewCommunity(t, "root"), cxptest.NewCommunity(t, "child")
	root := startHouse(t, "root", nil, rootSrv, rootLate, clock)
	_, zKey, err := root.AddCommunity(ctx, "test", clearing.NewCommunity{ID: "z", Name: "Z", URI: z.URL, Ticks: "1", Min: -10000, Max: 10000})
	if err != nil {
		t.Fatal(err)
	}
	_, childKey, err := root.AddCommunity(ctx, "test", clearing.NewCommunity{ID: "child", Name: "Child circle", URI: childSrv.URL, Ticks: "2", Min: -10000, Max: 10000})
	if err != nil {
		t.Fatal(err)
	}
	child := startHouse(t, "child", &clearing.Parent{URL: rootSrv.URL, CommunityID: "child", Key: childKey, CircleID: "root",
		URI: childSrv.URL, Ticks: "2", Divisions: 2}, childSrv, childLate, clock)
	_, leafKey, err := child.AddCommunity(ctx, "test", clearing.NewCommunity{ID: "leaf", Name: "Leaf", URI: leaf.URL, Ticks: "1", Min: -10000, Max: 10000})
	if err != nil {
		t.Fatal(err)
	}
	z.SetKey(zKey)
	leaf.SetKey(leafKey)
	zCircle := &cxp.Client{BaseURL: rootSrv.URL, Signer: httpsig.Signer{KeyID: "z", Key: []byte(zKey), Now: clock}}
	leaf.Refuse(cxp.Errorf(cxp.CodeSaving, "the database is away"))
	try := cxp.TransactionRequest{Payer: "zed", Payee: "alice", SrcURL: z.URL, DestURL: childSrv.URL,
		PayeeURL: leaf.URL, Quantity: "4", Description: "down", Really: true, TempID: "down-unknown"}
	if _, err := zCircle.Try(ctx, try); cxp.CodeOf(err) != cxp.CodeOther {
		t.Fatalf("z pays leaf, leaf cannot record it: got %v, want 27 (pending)", err)
	}
	held := func(h *clearing.House, code string) (int64, int64) {
		a, err := h.Ledger().AccountByCode(ctx, code)
		if err != nil {
			t.Fatal(err)
		}
		return a.Balance, a.PendingDebits
	}
	if b, d := held(root, "vc:z"); b != 0 || d != 400 {
		t.Fatalf("root z while pending: got %d held %d, want 0 held 400", b, d)
	}
	if b, d := held(child, "parent:root"); b != 0 || d != 200 {
		t.Fatalf("child parent account while pending: got %d held %d, want 0 held 200", b, d)
	}

	leaf.Refuse(nil)
	offset.Store(int64(30 * time.Second)) // past the first ask delay (10 s) and the try's window (20 s)
	if n, err := child.Recover(ctx); err != nil || n != 1 {
		t.Fatalf("child recover: got %d, %v; want 1", n, err)
	}
	if n, err := root.Recover(ctx); err != nil || n != 1 {
		t.Fatalf("root recover: got %d, %v; want 1", n, err)
	}
	resp, err := zCircle.Try(ctx, try)
	if err != nil || resp.ID == "" {
		t.Fatalf("z repeats the try: got %+v, %v; want the written answer", resp, err)
	}
	if n := leaf.Count(); n != 2 {
		t.Fatalf("relays to leaf: got %d, want 2 (the first and recovery's)", n)
	}
	for _, c := range []struct {
		h        *clearing.House
		code     string
		wantBal  int64
		wantHeld int64
	}{{root, "vc:z", -400, 0}, {root, "vc:child", 400, 0}, {child, "parent:root", -200, 0}, {child, "vc:leaf", 200, 0}} {
		if b, d := held(c.h, c.code); b != c.wantBal || d != c.wantHeld {
			t.Errorf("%s: got %d held %d, want %d held %d", c.code, b, d, c.wantBal, c.wantHeld)
		}
	}
}
