package intertrade

import (
	"context"

	"github.com/sxp-network/sxp/clearing/cxp/cxptest"
	"testing"

	"github.com/sxp-network/sxp/clearing/cxp"
)

// TestReasonNamesTheBlockedCommunity: code 16 says which community may not
// trade: the payee's when the circle names its URL (the payer's pay.go adds
// the community's name), ours with the circle's reason otherwise.
func TestReasonNamesTheBlockedCommunity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args map[string]string
		want string
	}{
		{"payee blocked", map[string]string{"dest_url": "http://acorn", "community": "Acorn Hill (acorn)"},
			"the community Acorn Hill (acorn) is not permitted to trade in the circle at the moment; nothing was paid"},
		{"we are blocked", map[string]string{"keyid": "leaf", "reason": "unpaid fees"},
			"our community is not permitted to trade in the circle at the moment (the circle says: unpaid fees); nothing was paid"},
		{"no details", nil, "our community is not permitted to trade in the circle at the moment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Reason(cxp.CodeNotPermitted, tt.args); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestHandshakeShowsBlockReason: a blocked community's admin reads the
// circle's reason for the block, not only "cxp 16".
func TestHandshakeShowsBlockReason(t *testing.T) {
	t.Parallel()
	circle := newFakeCircle(t)
	circle.Set(func(f *cxptest.Circle) { f.BlockReason = "fees unpaid since March" })
	e := newEnv(t, circle.URL, nil)
	res, err := e.svc.Handshake(context.Background())
	want := "the circle has blocked this community: fees unpaid since March"
	if err == nil || res.OK || res.Error != want {
		t.Fatalf("handshake: got %+v %v, want the error %q", res, err, want)
	}
}

// TestIntegrityUnknownOnStaleCircleData: when the circle's balance comes
// from a handshake older than our records (here: the circle blocks us after
// a relay, so no fresh handshake), the check says "unknown (data from …)",
// not a mismatch.
func TestIntegrityUnknownOnStaleCircleData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	circle := newFakeCircle(t)
	e := newEnv(t, circle.URL, nil)
	hs, err := e.svc.Handshake(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if status, answer := e.receive(relayRequest(t, testKey, goodRelay("t-stale"))); status != 200 || answer.Code != cxp.OK {
		t.Fatalf("relay: got %d %+v", status, answer)
	}
	circle.Set(func(f *cxptest.Circle) { f.BlockReason = "audit" })
	rep, err := e.svc.Reconcile(ctx)
	want := "unknown (data from " + hs.At.UTC().Format("2006-01-02 15:04") + " UTC)"
	if err != nil || rep.OK || !rep.Stale || len(rep.Problems) != 0 || rep.State() != want {
		t.Fatalf("integrity on stale data: got %+v %v, want %q and no problem", rep, err, want)
	}
	last, ok, err := e.svc.LastIntegrity(ctx)
	if err != nil || !ok || last.State() != want {
		t.Fatalf("last integrity: got %+v %v %v, want %q", last, ok, err, want)
	}
	// A fresh handshake that disagrees is a mismatch.
	circle.Set(func(f *cxptest.Circle) { f.BlockReason = ""; f.Balance = 100 })
	if rep, err = e.svc.Reconcile(ctx); err != nil || rep.OK || rep.Stale || rep.State() != "mismatch" {
		t.Fatalf("integrity on fresh data: got %+v %v, want a mismatch", rep, err)
	}
}
