package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
	"github.com/sxp-network/sxp/cmd/sxp/sxptest"
	"github.com/sxp-network/sxp/migrations/pgtest"
)

// TestClearingPublicURLDefault is issue 10's hole 8: without --public-url
// the clearing house checks a signature's @target-uri against
// http://<listen address>, never against the Host header a caller chose.
// A request signed for another host, sent with that Host header, is
// refused (code 17); one signed for the listen address is answered.
func TestClearingPublicURLDefault(t *testing.T) {
	t.Parallel()
	bin := sxptest.BuildSXP(t)
	dbURL := pgtest.NewDatabase(t)
	db := []string{"--database", dbURL}
	sxptest.Run(t, bin, sxptest.WithoutSettings(), append([]string{"admin", "circle", "init", "valley", "--unit", "VAL"}, db...)...)
	out := sxptest.Run(t, bin, sxptest.WithoutSettings(), append([]string{"admin", "community", "add", "leaf", "--name", "Leaf",
		"--uri", "http://127.0.0.1:9", "--rate", "1", "--min", "-10", "--max", "10", "--secret", e2eSecret}, db...)...)
	key := sxptest.KeyLine(t, out)
	listen := fmt.Sprintf("127.0.0.1:%d", sxptest.FreePort(t))
	base := "http://" + listen
	startSXP(t, bin, "clearing", "clearing", "--listen", listen, "--database", dbURL, "--secret", e2eSecret).
		WaitReady(base+"/readyz", readyWithin)

	// Every connection goes to the clearing house, whatever the URL's host.
	toClearing := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, listen)
	}}}
	signer := httpsig.Signer{KeyID: "leaf", Key: []byte(key)}
	for _, tt := range []struct {
		name, baseURL string
		wantCode      cxp.Code
	}{
		{"signed for the listen address", base, 0},
		{"signed for the Host header sent", "http://evil.example:8080", 17},
	} {
		c := &cxp.Client{BaseURL: tt.baseURL, Signer: signer, HTTP: toClearing}
		_, err := c.Handshake(context.Background(), cxp.HandshakeRequest{API: "1.0", Mail: "admin@leaf.example", Ticks: "1", URI: "http://127.0.0.1:9"})
		var got cxp.Code
		if e, ok := cxp.AsError(err); ok {
			got = e.Code
		} else if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got != tt.wantCode {
			t.Errorf("%s: got code %d (%v), want %d", tt.name, got, err, tt.wantCode)
		}
	}
}
