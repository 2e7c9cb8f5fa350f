package cxptest_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/cxptest"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
)

// The fakes speak the real protocol: a community takes only relays signed
// by its circle with its key, and a circle only requests signed by a
// community it knows.
func TestFakesVerifySignatures(t *testing.T) {
	ctx := context.Background()
	c := cxptest.NewCommunity(t, "circle")
	c.SetKey("k")
	relay := func(keyID, key string) int {
		t.Helper()
		body := []byte(`{"payer":"a","payee":"b","quantity":1,"description":"","really":true,"temp_id":"t","src_url":"http://x","dest_url":"` + c.URL + `"}`)
		req, _ := http.NewRequest(http.MethodPut, c.URL+"/transactions", bytes.NewReader(body))
		if keyID != "" {
			if err := (httpsig.Signer{KeyID: keyID, Key: []byte(key)}).Sign(req, body); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tests := []struct {
		name, keyID, key string
		want, relays     int
	}{
		{"unsigned", "", "", 401, 0},
		{"wrong key", "circle", "other", 401, 0},
		{"another circle", "elsewhere", "k", 403, 0},
		{"signed by the circle", "circle", "k", 200, 1},
	}
	for _, tt := range tests {
		if got := relay(tt.keyID, tt.key); got != tt.want || c.Count() != tt.relays {
			t.Errorf("%s: got %d with %d relays, want %d with %d", tt.name, got, c.Count(), tt.want, tt.relays)
		}
	}
	c.Refuse(cxp.NewError(cxp.CodeRemoteLimits, nil))
	if got := relay("circle", "k"); got != cxp.NewError(cxp.CodeRemoteLimits, nil).HTTPStatus() || c.Count() != 2 {
		t.Errorf("refusing: got %d with %d relays", got, c.Count())
	}

	circle := cxptest.NewCircle(t, map[string]string{"leaf": "lk"})
	good := &cxp.Client{BaseURL: circle.URL, Signer: httpsig.Signer{KeyID: "leaf", Key: []byte("lk")}}
	bad := &cxp.Client{BaseURL: circle.URL, Signer: httpsig.Signer{KeyID: "leaf", Key: []byte("nope")}}
	req := cxp.TransactionRequest{Payer: "a", Payee: "b", SrcURL: "http://leaf", DestURL: "http://acorn", Quantity: "2.50", Really: true, TempID: "t1"}
	if _, err := bad.Try(ctx, req); cxp.CodeOf(err) != cxp.CodeWrongKey {
		t.Fatalf("wrong key: got %v, want code %d", err, cxp.CodeWrongKey)
	}
	if _, err := good.Try(ctx, req); err != nil {
		t.Fatal(err)
	}
	if balance, writes, tries := circle.Snapshot(); balance != -250 || writes != 1 || tries != 1 {
		t.Fatalf("circle: got balance %d, writes %d, tries %d; want -250, 1, 1", balance, writes, tries)
	}
}
