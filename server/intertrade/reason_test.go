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
